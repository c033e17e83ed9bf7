"""The weighted Trainer: the loss reaches compute_loss with its weight columns, and is the same under gradient
accumulation and under several processes."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from data.files import SHOWN_LABELS
from trainer.metrics import class_metrics, majority_accuracy, predicted_ids, printable, scores, warn_if_near_majority
from trainer.weighted_trainer import LOSS_SUM_FILE, SeededLengthGroupedSampler, TrainingDiverged, Unlogged, _loss_sums
from trainer_helpers import toy_trainer, train_steps


def _params(trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def _assert_same_update(model_dir: Path, a: dict, b: dict):
    """Compare what training changed (the updates are small next to the weights themselves)."""
    initial = AutoModelForSequenceClassification.from_pretrained(model_dir).state_dict()
    moved = 0
    for name in a:
        delta_a, delta_b = a[name] - initial[name], b[name] - initial[name]
        assert torch.allclose(delta_a, delta_b, rtol=1e-3, atol=1e-8), name
        moved += int(delta_a.abs().max() > 1e-6)
    assert moved > 0, "training did not change any parameter"


@pytest.mark.parametrize("problem_type", ["single_label_classification_dimp", "single_label_classification"])
def test_gradient_accumulation_gives_the_same_updates(tiny_model_dir, tmp_path, problem_type):
    one = train_steps(tiny_model_dir, tmp_path / "a", batch_size=8, accumulation=1, problem_type=problem_type)
    two = train_steps(tiny_model_dir, tmp_path / "b", batch_size=4, accumulation=2, problem_type=problem_type)
    _assert_same_update(tiny_model_dir, _params(one), _params(two))
    losses_one = [h["loss"] for h in one.state.log_history if "loss" in h]
    losses_two = [h["loss"] for h in two.state.log_history if "loss" in h]
    assert losses_one == pytest.approx(losses_two, rel=1e-4)


@pytest.mark.parametrize("extreme, shown", [(3e38, "inf"), (float("nan"), "nan")])
def test_a_loss_that_is_not_finite_stops_training_before_its_gradient_is_taken(tiny_model_dir, tmp_path, extreme,
                                                                                shown):
    trainer = toy_trainer(tiny_model_dir, tmp_path, batch_size=8, accumulation=1,
                          problem_type="single_label_classification")
    model, batch = trainer.model, next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():  # logits of +-3e38: a log-probability of -inf for the second class
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([extreme, -extreme]))
    model.train()
    with pytest.raises(TrainingDiverged, match=rf"the training loss became {shown} at step 1 "):
        trainer.compute_loss(model, batch, num_items_in_batch=batch["labels"].numel())


def test_compute_loss_called_outside_training_gives_the_weighted_mean(tiny_model_dir, tmp_path):
    """As a user checking the loss from their own code calls it: the model in train mode, no training loop."""
    from losses import weighted_nll

    trainer = toy_trainer(tiny_model_dir, tmp_path, batch_size=8, accumulation=2)
    model, batch = trainer.model.train(), next(iter(trainer.get_train_dataloader()))
    quality, labels = batch["quality_prob"].clone(), batch["labels"].clone()
    loss = trainer.compute_loss(model, dict(batch))
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch.get("token_type_ids")).logits
    assert loss.item() == pytest.approx(weighted_nll("dimp", logits, labels, quality).item(), rel=1e-5)


def test_a_model_without_loss_kwargs_gets_the_same_updates(tiny_model_dir, tmp_path):
    """Without num_items_in_batch, compute_loss scales the loss for gradient accumulation itself."""
    one = train_steps(tiny_model_dir, tmp_path / "a", batch_size=8, accumulation=1)
    two = train_steps(tiny_model_dir, tmp_path / "b", batch_size=4, accumulation=2, accepts_loss_kwargs=False)
    assert not two.model_accepts_loss_kwargs
    _assert_same_update(tiny_model_dir, _params(one), _params(two))
    losses = [[h["loss"] for h in t.state.log_history if "loss" in h] for t in (one, two)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_the_logged_weight_mean_is_that_of_the_steps_examples(tiny_model_dir, tmp_path):
    # w = P' in sequential batches: each optimizer step's 8 examples (two micro-batches of 4) are known.
    trainer = train_steps(tiny_model_dir, tmp_path / "a", batch_size=4, accumulation=2,
                          problem_type="single_label_classification_quality_only")
    quality = np.asarray(trainer.train_dataset["quality_prob"])
    logged = [h["train_weight_mean"] for h in trainer.state.log_history if "train_weight_mean" in h]
    assert logged == pytest.approx([quality[8 * step:8 * step + 8].mean() for step in range(3)], abs=1e-4)


def test_evaluation_reports_the_plain_cross_entropy(tiny_model_dir, tmp_path):
    """Whatever the training loss weighs or smooths, eval_loss is the mean cross-entropy, comparable across losses."""
    trainer = train_steps(tiny_model_dir, tmp_path / "a", batch_size=8, accumulation=1,
                          extra={"label_smoothing_factor": 0.3})
    with torch.no_grad():
        trainer.model.classifier.bias.copy_(torch.tensor([2.0, -1.0]))  # sure of its answers: smoothing would show
    labels = trainer.train_dataset["label"]
    data = trainer.train_dataset.select([i for i, label in enumerate(labels) if label == 0] + [labels.index(1)])
    batch = trainer.data_collator([{k: example[k] for k in ("input_ids", "attention_mask")} for example in data])
    with torch.no_grad():
        logits = trainer.model.eval()(**batch).logits
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(data["label"])).item()
    assert trainer.evaluate(data)["eval_loss"] == pytest.approx(expected, rel=1e-4)


def test_weights_change_the_update(tiny_model_dir, tmp_path):
    dimp = train_steps(tiny_model_dir, tmp_path / "a", batch_size=8, accumulation=1)
    ce = train_steps(tiny_model_dir, tmp_path / "b", batch_size=8, accumulation=1,
                     problem_type="single_label_classification")
    differs = any(not torch.allclose(a, b) for a, b in zip(_params(dimp).values(), _params(ce).values()))
    assert differs, "the weight column did not reach compute_loss (remove_unused_columns dropped it?)"
    assert any("train_weight_mean" in h for h in dimp.state.log_history)


def test_label_smoothing_reaches_the_weighted_loss(tiny_model_dir, tmp_path):
    plain = train_steps(tiny_model_dir, tmp_path / "a", batch_size=8, accumulation=1)
    smoothed = train_steps(tiny_model_dir, tmp_path / "b", batch_size=8, accumulation=1,
                           extra={"label_smoothing_factor": 0.3})
    losses = [[h["loss"] for h in t.state.log_history if "loss" in h] for t in (plain, smoothed)]
    assert losses[0] != losses[1], "label_smoothing_factor was ignored"  # training is deterministic on CPU
    assert any(not torch.allclose(a, b) for a, b in zip(_params(plain).values(), _params(smoothed).values()))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_two_processes_match_one_with_the_same_global_batch(tiny_model_dir, tmp_path):
    single = train_steps(tiny_model_dir, tmp_path / "single", batch_size=8, accumulation=1)
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent.parent)}
    result = subprocess.run(
        ["torchrun", "--standalone", "--nproc_per_node", "2", str(Path(__file__).parent / "ddp_worker.py"),
         str(tiny_model_dir), str(out), "4"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_same_update(tiny_model_dir, _params(single), torch.load(out))


def test_metrics_and_the_majority_baseline_on_known_predictions(caplog):
    assert scores([0, 0, 0, 1], [0, 0, 1, 1]) == {"accuracy": 0.75, "f1": pytest.approx((0.8 + 2 / 3) / 2)}
    assert majority_accuracy(np.array([2, 0, 2, 1, 2])) == 0.6
    logits = np.array([[0.1, 0.9], [2.0, -1.0]])
    assert predicted_ids((logits, np.zeros((2, 4)))).tolist() == [1, 0]  # a model that also returns hidden states
    with caplog.at_level(logging.WARNING):
        warn_if_near_majority("The model", 0.6, 0.6, "look at the data")
    assert "validation accuracy 0.600 is level with always answering the most common class" in caplog.text


def test_class_metrics_count_each_class_and_print_only_for_a_few_labels():
    names = [f"c{i}" for i in range(SHOWN_LABELS)]
    metrics = class_metrics([0, 1, 1], [0, 1, 0], names, "eval")
    assert metrics["eval_examples_c0"] == 2 and type(metrics["eval_examples_c0"]) is int  # 2 in the JSON, not 2.0
    assert metrics["eval_recall_c0"] == 0.5 and metrics["eval_examples_c9"] == 0  # a class never seen: 0, no error
    # ... and no recall, precision or F1, which would be undefined (they read as 0.0, a class the model always misses)
    assert not any(key.endswith("_c9") and "examples" not in key for key in metrics)
    assert metrics["eval_recall_c1"] == 1.0 and "eval_precision_c2" not in metrics
    # one the model predicts though the split has none: wrong every time (precision and F1 0, as macro-F1 counts it)
    absent = class_metrics([2, 1], [0, 1], names, "eval")
    assert (absent["eval_precision_c2"], absent["eval_f1_c2"], absent["eval_examples_c2"]) == (0.0, 0.0, 0)
    assert "eval_recall_c2" not in absent
    assert scores([0, 1], [2, 1])["f1"] == pytest.approx(np.mean([absent[f"eval_f1_{n}"] for n in ("c0", "c1", "c2")]))
    assert printable(metrics, names) == metrics  # up to SHOWN_LABELS labels, every class on the console
    many = class_metrics([0, 1, 1], [0, 1, 0], [*names, "extra"], "eval")
    assert printable({"eval_accuracy": 0.5, **many}, [*names, "extra"]) == {"eval_accuracy": 0.5}


def test_the_length_grouped_order_is_drawn_from_the_seed_and_the_epoch():
    """A resumed run must see the batches of the run it continues, and each epoch an order of its own."""
    lengths = [(7 * i) % 23 + 1 for i in range(64)]

    def order(seed: int, epoch: int) -> list[int]:
        sampler = SeededLengthGroupedSampler(4, lengths, seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert sorted(order(0, 0)) == list(range(64))
    assert order(0, 1) == order(0, 1) and order(0, 1) != order(0, 0) and order(1, 0) != order(0, 0)


def test_data_seed_draws_the_length_grouped_order_when_given(tiny_model_dir, tmp_path):
    trainer = toy_trainer(tiny_model_dir, tmp_path, batch_size=8, accumulation=1,
                          extra={"train_sampling_strategy": "group_by_length", "seed": 1, "data_seed": 7})
    assert trainer._get_train_sampler().seed == 7


def test_all_results_takes_each_saved_split_and_a_later_value_of_a_key_replaces_the_earlier(tiny_model_dir, tmp_path):
    """As the Trainer's own save_metrics merges them (each file replaced whole, see test_atomic)."""
    trainer = toy_trainer(tiny_model_dir, tmp_path, batch_size=8, accumulation=1)
    trainer.save_metrics("train", {"train_loss": 0.7, "epoch": 1.0})
    trainer.save_metrics("eval", {"eval_accuracy": 0.5, "epoch": 2.0})
    assert json.loads((tmp_path / "all_results.json").read_text()) == {"train_loss": 0.7, "eval_accuracy": 0.5,
                                                                      "epoch": 2.0}
    assert json.loads((tmp_path / "eval_results.json").read_text()) == {"eval_accuracy": 0.5, "epoch": 2.0}


def test_a_checkpoint_without_a_readable_loss_sum_resumes_with_the_trainers_own_train_loss(tmp_path, caplog):
    """A checkpoint saved before train_loss_sum.json existed, or with it damaged: a warning, not a failed resume."""
    (tmp_path / LOSS_SUM_FILE).write_text(json.dumps({"loss_sum": 5.5, "global_step": 8}))
    loss_sum, saved = _loss_sums(tmp_path)
    assert loss_sum == 5.5 and Unlogged.load(saved, resumed_at=8) is None  # saved before unlogged steps were kept
    with caplog.at_level(logging.WARNING):
        (tmp_path / LOSS_SUM_FILE).write_text('{"loss_sum": ')
        assert _loss_sums(tmp_path) == (None, {})
        (tmp_path / LOSS_SUM_FILE).unlink()
        assert _loss_sums(tmp_path) == (None, {})
    assert [r.getMessage().split(": train_loss")[0] for r in caplog.records] == [
        f"{tmp_path} has an unreadable {LOSS_SUM_FILE}", f"{tmp_path} holds no {LOSS_SUM_FILE}"]

