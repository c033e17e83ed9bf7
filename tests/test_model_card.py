"""The model card every training run writes (OUTPUT_DIR/README.md), and push_to_hub refusing before any work when
it could not push. The push itself needs the hub and a token, which the tests do not have."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from datasets import Dataset
from huggingface_hub import ModelCard

from conftest import byte_level_tokenizer, toy_records, weights_rows, write_jsonl

from app.cli import main
from app.pipeline import run
from checkers.for_task import CheckerOutput
from config.loading import load_config
from transformers.modelcard import parse_log_history
from references.models import ModelSource
from trainer.metrics import class_metrics

from reports.model_card import (_checkers, _history_for_table, _model_index, _results, _usage, _when, _without_resume,
                                _without_tokens, label_list)


def _run(config: dict, tmp_path, **changes):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, "hub_token": "hf_secret", **changes}))
    cfg = load_config(str(path))
    cfg.command = ["python", "run.py", str(path), "--hub_token", "hf_secret"]
    return run(cfg)


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_the_card_says_why_the_training_data_holds_another_count_than_its_file(tiny_config, tmp_path):
    """64 examples in the file: 4 held out as the real set, 36 of the rest sampled, then 9 of them duplicated."""
    _run(tiny_config, tmp_path, num_train_epochs=1, quality_checker_train_file="toy/train.jsonl",
         quality_checker_max_train_samples=4, max_train_samples=36, noise_swap_ratio=0.25, noise_duplicate_ratio=0.25,
         noise_seed=3, problem_type="single_label_classification_dimp")
    text = " ".join((tmp_path / "out" / "README.md").read_text().split())
    assert ("| training data | 45 | toy/train.jsonl |" in text
            and "The real set is 4 examples held out of the training file, which the training data no longer holds. "
                "The training data is a seeded sample of at most `max_train_samples` 36. Noise was injected into it "
                "(`noise_seed` 3): 9 duplicated, 9 with a label swapped and 0 unrelated examples." in text), text


def test_the_card_describes_data_method_weights_checkers_and_results(tiny_config, data_root_env, tmp_path):
    # The test split in a folder of its own, as MRPC's test split is beside generated training data; four of its
    # negatives left out, so that its majority class is not the training data's share.
    (tmp_path / "heldout").mkdir()
    lines = (data_root_env / "toy" / "test.jsonl").read_text().splitlines(keepends=True)
    kept = [line for i, line in enumerate(lines) if i >= 8 or i % 2]  # the toy labels alternate 0, 1
    (tmp_path / "heldout" / "test.jsonl").write_text("".join(kept))
    metrics = _run(tiny_config, tmp_path, problem_type="single_label_classification_dimp", num_train_epochs=2,
                   save_strategy="epoch", load_best_model_at_end=True, test_file=str(tmp_path / "heldout" / "test.jsonl"))
    out = tmp_path / "out"
    text = (out / "README.md").read_text()
    meta = _front_matter(text)
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-classification"
    assert {"text-classification", "dimp-loss", "generated_from_trainer"} <= set(meta["tags"])
    results = {r["dataset"]["split"]: {m["type"]: m["value"] for m in r["metrics"]}
               for r in meta["model-index"][0]["results"]}
    assert results["test"]["accuracy"] == round(metrics["test_accuracy"], 4)  # as the hub shows them
    assert results["validation"]["f1"] == round(metrics["eval_f1"], 4)
    # each result names the data it was measured on, not the training data's; a file in the data root as configs
    # name it, one outside it by its whole path
    assert {r["dataset"]["split"]: (r["dataset"]["type"], r["dataset"]["name"])
            for r in meta["model-index"][0]["results"]} == {
        "validation": ("toy", "toy/validation.jsonl"), "test": ("heldout", str(tmp_path / "heldout" / "test.jsonl"))}
    assert ModelCard.load(out / "README.md").data.eval_results  # the hub's own parser reads the model-index
    assert "where the file also holds a `label` column, the predictions are scored against it" in text
    # data and real set, with sizes and sources
    assert "| training data | 64 | toy/train.jsonl |" in text and str(data_root_env) not in text
    report = (out / "weights_report.md").read_text()
    assert "training examples from `toy/train.jsonl`; quality checker `" in report  # the checker DIMP used
    assert str(data_root_env) not in report
    assert "| real set for the quality checker (`quality_checker_train_file`) | 32 | " in text
    assert "joined" not in text  # no real example was joined to the training data
    # the method and its weights, from the run's weights.csv
    last = np.array([float(row["weight_epoch2"]) for row in weights_rows(out)])
    assert "DIMP-Loss: each example's cross-entropy is multiplied by P′(y|x) / P(y|x; θ)" in text
    assert "The loss is the batch mean of weight × cross-entropy; weights are not normalised." in text
    assert "label-smoothed" not in text
    # The card gives 3 significant digits (at most half a unit in the third off, 0.5 %), computed from the weights
    # themselves; weights.csv holds them to 6, so a value on a rounding boundary may round either way.
    row = next(line for line in text.splitlines() if line.startswith("| weight, epoch 2 |"))
    examples, mean, low, high, below = row.strip("| ").split(" | ")[1:]
    assert (int(examples), int(below)) == (64, int((last < 0.5).sum()))
    assert [float(mean), float(low), float(high)] == pytest.approx([last.mean(), last.min(), last.max()], rel=6e-3)
    for name in ("negative", "positive"):  # and P', the weights' fixed factor, label by label
        factor = np.array([float(row["static_weight"]) for row in weights_rows(out) if row["label_name"] == name])
        row = next(line for line in text.splitlines()
                   if line.startswith(f"| P′ (the quality checker's factor), label `{name}` |"))
        examples, mean = row.strip("| ").split(" | ")[1:3]
        assert (int(examples), float(mean)) == (len(factor), pytest.approx(factor.mean(), rel=6e-3))
    assert f"- quality checker `{tiny_config['quality_checker_model']}`: " in text and "32 examples" in text
    checker = next(line for line in text.splitlines() if line.startswith("- quality checker"))
    recipe = json.loads((Path(tiny_config["quality_checker_model"]) / "checker_recipe.json").read_text())
    assert checker.endswith(f"; validation accuracy {recipe['validation_metrics']['eval_accuracy']:.4f} (always "
                            "answering the most common label: 0.5000).")
    # results, the kept epoch, and how to reproduce (no secret)
    # beside what always answering the most common label scores on that split: 12 of the 20 test texts are positive
    assert f"| test | 20 | {metrics['test_accuracy']:.4f} | {metrics['test_f1']:.4f} | 0.6000 |" in text
    # and class by class: recall weighted by the class's examples is accuracy, the mean F1 macro-F1
    for prefix, counts in (("eval", [12, 12]), ("test", [8, 12])):
        examples, recall, f1 = ([metrics[f"{prefix}_{metric}_{name}"] for name in ("negative", "positive")]
                                for metric in ("examples", "recall", "f1"))
        assert examples == counts
        assert np.dot(recall, examples) / sum(counts) == pytest.approx(metrics[f"{prefix}_accuracy"])
        assert np.mean(f1) == pytest.approx(metrics[f"{prefix}_f1"])
    precision, recall = metrics["test_precision_positive"], metrics["test_recall_positive"]
    assert f"| test | positive | 12 | {precision:.4f} | {recall:.4f} |" in text
    saved = json.loads((out / "test_results.json").read_text())
    assert saved["test_recall_negative"] == metrics["test_recall_negative"]
    assert "The model is the checkpoint of epoch" in text
    assert "--hub_token '<hidden>'" in text
    assert "hf_secret" not in text and '"hub_token"' not in text  # a config to reproduce the run has no token at all
    assert '"problem_type": "single_label_classification_dimp"' in text
    assert "### Training hyperparameters" in text  # the Trainer's own summary


@pytest.mark.parametrize("real_set_weight, counted", [(1.0, 64), (None, 96)])
def test_the_cards_weights_are_those_the_method_gave(tiny_config, tmp_path, real_set_weight, counted):
    """The card's and the report's weights across epochs: the 32 real examples joined at a fixed weight are not
    among them; weighted as the others (cross-fitted checkers), they are."""
    _run(tiny_config, tmp_path, problem_type="single_label_classification_dimp", num_train_epochs=1,
         real_set_in_training=True, real_set_weight=real_set_weight,
         quality_checker_folds=1 if real_set_weight else 2)
    out = tmp_path / "out"
    weights = np.array([float(row["weight_epoch1"]) for row in weights_rows(out)
                        if real_set_weight is None or row["noise"] != "real"])
    line = next(line for line in (out / "README.md").read_text().splitlines() if line.startswith("| weight, epoch 1 |"))
    examples, mean = line.strip("| ").split(" | ")[1:3]
    assert (int(examples), len(weights)) == (counted, counted)
    assert float(mean) == pytest.approx(weights.mean(), rel=6e-3)
    card = (out / "README.md").read_text()
    assert "| training data | 64 | toy/train.jsonl |" in card  # the training file's, the real examples apart
    assert "| real examples joined to it (`real_set_in_training`) | 32 | toy/real.jsonl |" in card
    assert "Labels of the training data and the real examples joined to it: `negative` 48, `positive` 48." in card
    report = (out / "weights_report.md").read_text()  # its table across epochs, likewise
    assert f"| 1 | {counted} | " in report
    assert ("The 32 real examples joined at the fixed weight 1 are left out." in report) == (real_set_weight == 1.0)


def test_the_card_says_the_model_is_the_last_epoch_when_no_best_one_is_reloaded(tiny_config, tmp_path):
    _run(tiny_config, tmp_path, num_train_epochs=2, load_best_model_at_end=False, quality_checker_folds=2)
    text = (tmp_path / "out" / "README.md").read_text()
    assert "The model is that of the last epoch (2)." in text and "The model is the checkpoint of epoch" not in text
    assert "plain cross-entropy: every training example counts the same." in text and "weights are not" not in text
    assert "cross-fitted" not in text  # quality_checker_folds set, as a grid's protocol may, but no checker used


def test_the_card_of_a_run_without_a_validation_split_gives_its_test_result(tiny_config, tmp_path):
    metrics = _run(tiny_config, tmp_path, num_train_epochs=1, validation_file=None, quality_checker_train_file=None,
                   eval_strategy="no", load_best_model_at_end=False)
    assert "eval_accuracy" not in metrics
    text = (tmp_path / "out" / "README.md").read_text()
    assert f" Test accuracy {metrics['test_accuracy']:.4f}, macro-F1 {metrics['test_f1']:.4f}.\n" in text
    assert "| validation |" not in text and "| test | 24 |" in text


def test_the_card_of_dimp_without_diversity_checker_names_its_fixed_weight(tiny_config, tmp_path):
    _run(tiny_config, tmp_path, problem_type="single_label_classification_quality_only", num_train_epochs=1)
    text = (tmp_path / "out" / "README.md").read_text()
    assert "DIMP-Loss without diversity checker: each example's cross-entropy is multiplied by P′(y|x)" in text
    assert "| weight P′ (fixed) | 64 |" in text


def test_the_card_of_a_checker_built_without_a_validation_split_gives_no_validation_accuracy(tiny_config, tmp_path):
    _run(tiny_config, tmp_path, problem_type="single_label_classification_dimp", num_train_epochs=1,
         validation_file=None, real_validation_fraction=0, eval_strategy="no", load_best_model_at_end=False,
         quality_checker_model=str(tmp_path / "checker"))
    checker = next(line for line in (tmp_path / "out" / "README.md").read_text().splitlines()
                   if line.startswith("- quality checker"))
    assert checker.endswith("examples of `toy/real.jsonl` (`num_train_epochs` 1).")


def test_the_card_says_the_loss_was_label_smoothed(tiny_config, tmp_path):
    _run(tiny_config, tmp_path, problem_type="single_label_classification_dimp", num_train_epochs=1,
         label_smoothing_factor=0.1)
    assert "The cross-entropy was label-smoothed (`label_smoothing_factor` 0.1)." in (
        tmp_path / "out" / "README.md").read_text()


def test_the_card_names_the_step_of_a_model_from_mid_epoch(tiny_config, tmp_path):
    _run(tiny_config, tmp_path, max_steps=12, eval_strategy="steps", eval_steps=4, load_best_model_at_end=False)
    text = (tmp_path / "out" / "README.md").read_text()
    assert "The model is that of the last step (12, epoch 1.50)." in text  # 8 steps an epoch


def test_the_card_and_report_name_every_file_the_training_data_came_from(tiny_config, tmp_path):
    _run(tiny_config, tmp_path, problem_type="single_label_classification_dimp", num_train_epochs=1,
         augmented_train_file="toy/real.jsonl")
    out = tmp_path / "out"
    assert "| training data | 96 | toy/train.jsonl + toy/real.jsonl |" in (out / "README.md").read_text()
    assert "on 96 training examples from `toy/train.jsonl + toy/real.jsonl`" in (out / "weights_report.md").read_text()


def test_the_cards_class_table_has_no_score_for_a_class_the_split_has_no_example_of(tiny_config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(tiny_config))
    cfg = load_config(str(path))
    task = SimpleNamespace(splits={"test": Dataset.from_dict({"label": [0, 0, 0]})}, label_names=["neg", "pos"])
    metrics = {"test_accuracy": 2 / 3, "test_f1": 0.4, **class_metrics([0, 1, 0], [0, 0, 0], ["neg", "pos"], "test")}
    state = SimpleNamespace(log_history=[], best_global_step=None, best_metric=None, epoch=2.0, global_step=8)
    text = _results(SimpleNamespace(first_phase=None, args=cfg.training, state=state), cfg, task, metrics)
    assert "| test | neg | 3 | 1.0000 | 0.6667 | 0.8000 |" in text
    assert "| test | pos | 0 | 0.0000 | – | 0.0000 |" in text  # predicted once, wrongly: no recall, precision 0


@pytest.mark.parametrize("kept, said", [(2.0, True), (5.0, False)])
def test_the_card_says_which_epoch_a_checker_kept_when_not_its_last(tmp_path, kept, said):
    """All five epochs tied at the majority class's accuracy: the first is kept, where '5 epochs' read as the last."""
    (tmp_path / "checker_recipe.json").write_text(json.dumps({
        "base_model": "tiny", "train_examples": 40, "train_source": "real.csv", "num_train_epochs": 5.0,
        "validation_metrics": {"eval_accuracy": 0.6, "epoch": kept}, "validation_majority_accuracy": 0.6}))
    line = _checkers({"quality": CheckerOutput(np.zeros((0, 2)), [ModelSource(str(tmp_path))])}).splitlines()[-1]
    assert ("(`num_train_epochs` 5; epoch 2 kept, the first of its best validation accuracy); validation accuracy "
            "0.6000" in line) is said
    assert said or "(`num_train_epochs` 5); validation accuracy 0.6000" in line


def test_the_card_tells_the_checker_as_it_was_used_and_passes_over_a_recipe_it_cannot_read(tmp_path):
    """The card read checker_recipe.json at the end of the run, after another run could rebuild the checker there
    (it told that one's 30 examples for this one's 48); and a recipe of another shape, edited by hand, crashed the
    run after training, before its card."""
    recipe = tmp_path / "checker_recipe.json"
    recipe.write_text(json.dumps({"base_model": "tiny", "train_examples": 48, "train_source": "real.csv",
                                  "num_train_epochs": 5}))
    used = CheckerOutput(np.zeros((0, 2)), [ModelSource(str(tmp_path))])
    recipe.write_text(json.dumps({"base_model": "tiny", "train_examples": 30, "train_source": "real.csv",
                                  "num_train_epochs": 5}))
    assert _checkers({"quality": used}).splitlines()[-1] == (
        f"- quality checker `{tmp_path}`: `tiny` fine-tuned with CE on 48 examples of `real.csv` (`num_train_epochs` "
        "5).")
    for odd in ([1, 2], {"num_train_epochs": None, "train_examples": 4}, {"num_train_epochs": "5", "train_examples": 4},
                {"num_train_epochs": 5, "train_examples": 4, "validation_metrics": None},
                {"num_train_epochs": 5, "train_examples": 4,
                 "validation_metrics": {"eval_accuracy": "x", "epoch": []}}):
        recipe.write_text(json.dumps(odd))
        line = _checkers({"quality": CheckerOutput(np.zeros((0, 2)), [ModelSource(str(tmp_path))])}).splitlines()[-1]
        assert line.startswith(f"- quality checker `{tmp_path}`") and "accuracy" not in line, odd


def test_the_card_says_which_epoch_each_phase_of_a_fine_tuned_run_kept(tiny_config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "load_best_model_at_end": True, "save_strategy": "epoch",
                                "num_train_epochs": 4, "early_stopping_patience": 1}))
    cfg = load_config(str(path))

    def entry(step, epoch, **values):
        return {"step": step, "epoch": float(epoch), **values}

    # Weighted training: early stopping after 2 epochs of 8 steps, the first the best. Then 2 epochs of fine-tuning
    # of 4 steps each, numbered after them in the history and its state, its last the best: its own step 8 is step
    # 24, epoch 4. The final evaluation, after the end of training, logs that step and epoch again.
    weighted = [entry(8, 1, eval_accuracy=0.6), entry(16, 2, eval_accuracy=0.6), entry(16, 2, train_runtime=1.0)]
    history = weighted + [entry(20, 3, eval_accuracy=0.7), entry(24, 4, eval_accuracy=0.8),
                          entry(24, 4, train_runtime=0.5), entry(24, 4, eval_accuracy=0.8)]
    first = SimpleNamespace(log_history=weighted, best_global_step=8, best_metric=0.6, epoch=2.0, global_step=16,
                            best_model_checkpoint="out/checkpoint-8")
    state = SimpleNamespace(log_history=history, best_global_step=24, best_metric=0.8, epoch=4.0, global_step=24,
                            best_model_checkpoint="out/real_set_finetune/checkpoint-8")
    trainer = SimpleNamespace(first_phase=first, epoch_offset=2, args=replace(cfg.training, num_train_epochs=2.0),
                              state=state)
    text = _results(trainer, cfg, SimpleNamespace(splits={}), {})
    assert ("Weighted training's model was the checkpoint of epoch 1, the best validation `accuracy` (0.6000); early "
            "stopping (patience 1) ended weighted training after epoch 2 of 4. Then 2 epoch(s) of CE on the real set "
            "fine-tuned that model (`real_set_finetune_epochs`): the model is the checkpoint of epoch 4, the best "
            "validation `accuracy` (0.8000).") in text
    # a fine-tuning of 4 epochs stopped after its second: its epochs are numbered after the weighted training's
    stopped = SimpleNamespace(**{**vars(trainer), "args": replace(cfg.training, num_train_epochs=4.0)})
    assert ("early stopping (patience 1) ended the fine-tuning after epoch 4 of 6 (its own epoch 2 of 4)."
            in _results(stopped, cfg, SimpleNamespace(splits={}), {}))
    # a resume of a checkpoint whose run's best one had gone: transformers keeps the best step and metric but, with
    # no checkpoint to reload, the last epoch's model, which the card named as that best one's
    state.best_model_checkpoint = None
    assert "fine-tuned that model (`real_set_finetune_epochs`): the model is that of the last epoch (4)." in \
        _results(trainer, cfg, SimpleNamespace(splits={}), {})


def test_the_cards_epoch_table_reads_a_resumed_run_and_its_fine_tuning():
    history = [  # epoch 1 read back from a checkpoint (keys sorted), epoch 2 trained after resuming, then fine-tuning
        {"epoch": 1.0, "loss": 0.7, "step": 8}, {"epoch": 1.0, "eval_accuracy": 0.6, "eval_loss": 0.69, "step": 8},
        {"loss": 0.6, "step": 16, "epoch": 2.0}, {"eval_loss": 0.65, "eval_accuracy": 0.7, "epoch": 2.0, "step": 16},
        {"train_runtime": 1.0, "epoch": 2.0, "step": 16},
        {"loss": 0.5, "step": 4, "epoch": 3.0}, {"eval_loss": 0.6, "eval_accuracy": 0.8, "epoch": 3.0, "step": 4},
        {"train_runtime": 0.5, "epoch": 3.0, "step": 4}]
    lines = parse_log_history(_history_for_table(history))[1]
    # the table takes its columns from the first row's keys and every row's values in their own order
    assert [list(line) for line in lines] == [["Training Loss", "Epoch", "Step", "Accuracy", "Validation Loss"]] * 3
    assert [list(line.values()) for line in lines] == [[0.7, 1.0, 8, 0.6, 0.69], [0.6, 2.0, 16, 0.7, 0.65],
                                                       [0.5, 3.0, 4, 0.8, 0.6]]
    tracked = [{"epoch": 1.0, "loss": 0.7, "step": 8},
               {"epoch": 1.0, "eval_validation_accuracy": 0.6, "eval_validation_loss": 0.69, "step": 8},
               {"epoch": 1.0, "eval_test_loss": 0.5, "step": 8}, {"train_runtime": 1.0, "epoch": 1.0, "step": 8}]
    (line,) = parse_log_history(_history_for_table(tracked))[1]
    assert line == {"Training Loss": 0.7, "Epoch": 1.0, "Step": 8, "Accuracy": 0.6, "Validation Loss": 0.69}


@pytest.mark.parametrize("command", ["run", "score"])
def test_the_command_to_reproduce_a_run_is_the_one_it_was_given(tiny_config, tmp_path, monkeypatch, command):
    import app.pipeline

    path = tmp_path / "config.json"
    path.write_text(json.dumps(tiny_config))
    given = []
    monkeypatch.setattr(app.pipeline, command, lambda cfg: given.append(cfg.command))
    assert main([str(path), "--seed", "7", "--debug"], command=command) == 0
    assert given == [["python", f"{command}.py", str(path), "--seed", "7"]]


def test_the_cards_command_hides_every_token_given_either_way():
    command = ["python", "run.py", "c.json", "--hub_token=hf_a", "--push_to_hub", "--hub_token", "hf_b", "--seed", "1"]
    assert _without_tokens(command) == ["python", "run.py", "c.json", "--hub_token=<hidden>", "--push_to_hub",
                                        "--hub_token", "<hidden>", "--seed", "1"]
    assert _without_tokens(["python", "run.py", "my_token", "--seed", "1"])[3:] == ["--seed", "1"]  # a file's name


def test_the_cards_command_trains_anew_rather_than_resume():
    """A resumed run's card: its command without the resume, which would fail in a new folder and, in a copy of the
    finished one, write its results again from a model it did not train."""
    for resume in ["--resume_from_checkpoint", "last"], ["--resume_from_checkpoint=last"], ["--resume_from_checkpoint"]:
        command = ["python", "run.py", "c.json", *resume, "--seed", "1"]
        assert _without_resume(command) == ["python", "run.py", "c.json", "--seed", "1"]


def test_the_card_shows_a_text_pair_task_used_from_its_hub_id(tiny_config, tmp_path):
    files = {key: str(write_jsonl(tmp_path / f"{key}.jsonl", toy_records(16, seed, pairs=True)))
             for seed, key in enumerate(("train_file", "validation_file", "test_file", "quality_checker_train_file"))}
    _run(tiny_config, tmp_path, num_train_epochs=1, hub_model_id="someone/pairs", **files)
    text = (tmp_path / "out" / "README.md").read_text()
    meta = _front_matter(text)
    assert "\n# pairs\n" in text and meta["model-index"][0]["name"] == "pairs"  # named as on the hub, not "out"
    assert "base_model" not in meta  # a local folder is no hub model to link to
    assert 'classifier = pipeline("text-classification", model="someone/pairs")' in text
    assert 'classifier({"text": "first text", "text_pair": "second text"}, top_k=None, truncation=True, max_length=' \
        f'{tiny_config["max_seq_length"]})' in text
    assert "python predict.py --model someone/pairs --input texts.csv" in text


def test_the_cards_pair_example_joins_the_texts_as_the_model_read_them_where_its_tokenizer_would_not():
    """A decoder's tokenizer joins a pipeline's text_pair to the text end to end; the model read its pairs with its
    end-of-text token between them, so the card's example gives the pair as one text, joined so."""
    cfg = SimpleNamespace(training=SimpleNamespace(hub_model_id="someone/pairs", output_dir="out"),
                          data=SimpleNamespace(label_column_name="label", max_seq_length=128))
    tokenizer = byte_level_tokenizer()
    assert tokenizer.model_max_length > 128
    usage = _usage(cfg, SimpleNamespace(text_columns=["a", "b"]), tokenizer)
    assert 'classifier("first text<|endoftext|>second text", top_k=None, truncation=True, max_length=128)' in usage
    # cut where training cut the texts: the card's call, as it was, failed on a text longer than the model reads
    assert 'classifier("a text to label", top_k=None, truncation=True, max_length=128)' in _usage(
        cfg, SimpleNamespace(text_columns=["a"]), tokenizer)
    # a folder with a space: the commands run as pasted
    local = SimpleNamespace(training=SimpleNamespace(hub_model_id=None, output_dir="sortie ü/run 1"), data=cfg.data)
    usage = _usage(local, SimpleNamespace(text_columns=["a"]), byte_level_tokenizer())
    assert "python predict.py --model 'sortie ü/run 1' --input texts.csv" in usage
    assert 'pipeline("text-classification", model="sortie ü/run 1")' in usage


def _hub_argv(tiny_config, tmp_path) -> list[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "problem_type": "single_label_classification_dimp",
                                "push_to_hub": True, "hub_model_id": "someone/model"}))
    return [str(path)]


@pytest.mark.parametrize("token, message", [
    (None, "push_to_hub: no Hugging Face token"),
    ("hf_not_a_real_token", "push_to_hub: the Hugging Face hub is unreachable"),
])
def test_push_to_hub_refuses_before_any_work(tiny_config, tmp_path, monkeypatch, capsys, token, message):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored token
    monkeypatch.delenv("HF_TOKEN", raising=False)
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    assert main(_hub_argv(tiny_config, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert message in err
    assert not Path(tiny_config["output_dir"]).exists()
    assert not Path(tiny_config["quality_checker_model"]).exists()  # no checker was built either


def test_the_model_index_names_a_hub_dataset_and_its_configuration():
    cfg = SimpleNamespace(data=SimpleNamespace(dataset_name="nyu-mll/glue", dataset_config_name="mrpc"))
    task = SimpleNamespace(splits={"train": None, "validation": None}, origins={"validation": "nyu-mll/glue"})
    (result,) = _model_index("m", cfg, task, {"eval_accuracy": 0.71234, "eval_f1": 0.6})[0]["results"]
    assert result["dataset"] == {"name": "nyu-mll/glue", "type": "nyu-mll/glue", "split": "validation",
                                 "config": "mrpc"}
    assert result["metrics"][0] == {"type": "accuracy", "value": 0.7123, "name": "Accuracy"}


def test_a_model_from_mid_epoch_is_named_by_its_step():
    assert _when(2.0, 16, of=3) == "epoch 2 of 3"
    assert _when(1.5, 12, of=3) == "step 12 (epoch 1.50 of 3)"  # evaluation by steps, or max_steps


def test_the_cards_first_line_lists_a_long_label_list_in_part():
    assert label_list(["a", "b"]) == "`a`, `b`"
    names = [f"class_{i}" for i in range(200)]
    assert label_list(names) == ", ".join(f"`class_{i}`" for i in range(10)) + \
        " and 190 more (config.json's `id2label` names them all)"
    assert label_list(names[:10]) == ", ".join(f"`class_{i}`" for i in range(10))


def test_a_run_with_push_to_hub_pushes_at_the_end_with_its_own_model_card(tiny_config, tmp_path, monkeypatch):
    """The hub is out of reach here: the Trainer's hub calls are stood in for, recording each push and the card it
    would upload. The run pushes once, finished: not also when it saves the model (the Trainer's "Model save",
    with its draft card)."""
    from transformers import Trainer

    pushed = []
    monkeypatch.setattr("app.pipeline.check_hub_access", lambda args: None)
    monkeypatch.setattr(Trainer, "init_hf_repo", lambda self, token=None: None)
    monkeypatch.setattr(Trainer, "_push_from_checkpoint", lambda self, folder: None)

    def push_to_hub(self, commit_message, **kwargs):
        card = Path(self.args.output_dir) / "README.md"
        pushed.append((commit_message, card.read_text() if card.is_file() else None))

    monkeypatch.setattr(Trainer, "push_to_hub", push_to_hub)
    assert main(_hub_argv(tiny_config, tmp_path)) == 0
    card = (Path(tiny_config["output_dir"]) / "README.md").read_text()
    assert pushed == [("End of training", card)]
