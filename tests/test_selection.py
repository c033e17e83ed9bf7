"""Choosing the final model: checkpoint averaging, and the record of every evaluation's validation probabilities."""

from __future__ import annotations

import json
import os
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from conftest import run_with, toy_records, write_jsonl
from config.arguments import WeightedTrainingArguments
from config.loading import ConfigError
from trainer import fitting
from trainer.selection import (AVERAGE_FILE, PREDICTIONS_FILE, CheckpointAverage, ValidationEarlyStopping,
                               ValidationPredictions)


def test_the_final_model_is_the_mean_of_the_epochs(tiny_config, tmp_path):
    run_with(tiny_config, tmp_path, num_train_epochs=3, average_checkpoints=True, save_strategy="epoch",
             save_total_limit=None, load_best_model_at_end=True)
    out = tmp_path / "out"
    epochs = [load_file(str(folder / "model.safetensors")) for folder in sorted(out.glob("checkpoint-*"),
                                                                              key=lambda p: int(p.name[11:]))]
    assert len(epochs) == 3
    final = load_file(str(out / "model.safetensors"))
    name = "classifier.weight"
    assert torch.allclose(final[name], sum(e[name] for e in epochs) / 3, atol=1e-6)
    assert not torch.allclose(final[name], epochs[-1][name])
    card = (out / "README.md").read_text(encoding="utf-8")  # not the best checkpoint load_best_model_at_end names
    assert "The model is the mean of its weights at the end of every epoch (`average_checkpoints`)." in card


def test_the_running_sum_survives_a_checkpoint(tiny_model_dir, tmp_path):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    average = CheckpointAverage()
    average.on_epoch_end(None, None, None, model=model)
    with torch.no_grad():
        model.classifier.weight.add_(1.0)
    average.on_epoch_end(None, None, None, model=model)
    before = os.umask(0o027)
    try:
        average.save(tmp_path)
    finally:
        os.umask(before)
    assert (tmp_path / AVERAGE_FILE).stat().st_mode & 0o777 == 0o640  # readable as the model files beside it
    resumed = CheckpointAverage()
    resumed.load(tmp_path)
    assert resumed.count == 2
    assert torch.equal(resumed.total["classifier.weight"], average.total["classifier.weight"])


def test_a_models_extra_outputs_are_passed_over_when_the_probabilities_are_recorded(tmp_path):
    """With hidden states or attentions asked for, the evaluation's predictions are a tuple, logits first."""
    logits = np.array([[2.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    recorded = ValidationPredictions(tmp_path / PREDICTIONS_FILE, resume=False)
    recorded.record("epoch1", (logits, np.zeros((2, 3, 4), dtype=np.float32)), np.array([0, 1]))
    with np.load(tmp_path / PREDICTIONS_FILE) as saved:
        assert np.allclose(saved["epoch1"], torch.tensor(logits).softmax(-1).numpy())
        assert saved["labels"].tolist() == [0, 1]


def test_every_evaluation_of_the_validation_split_is_recorded(tiny_config, tmp_path):
    metrics = run_with(tiny_config, tmp_path, num_train_epochs=2, save_validation_predictions=True,
                       track_test_each_epoch=True, max_predict_samples=10)  # a test split unlike the validation's
    with np.load(tmp_path / "out" / "validation_predictions.npz") as saved:
        arrays = {name: saved[name] for name in saved.files}
    assert set(arrays) == {"epoch1", "epoch2", "final", "labels"}
    final, labels = arrays["final"], arrays["labels"]
    assert final.shape == (24, 2) and np.allclose(final.sum(axis=1), 1, atol=1e-5)
    assert (final.argmax(axis=1) == labels).mean() == pytest.approx(metrics["eval_accuracy"])
    # each epoch's are the validation split's, not the test split's evaluated after it
    assert arrays["epoch1"].shape == arrays["epoch2"].shape == labels.shape + (2,) == (24, 2)


@pytest.mark.parametrize("load_best", [False, True])
def test_the_checkpoint_left_holds_the_model_the_run_kept(tiny_config, tmp_path, monkeypatch, load_best):
    # Every evaluation scores lower than the one before, so epoch 1 is the best and the last epoch is not.
    scores = iter(np.linspace(0.9, 0.1, 20))
    monkeypatch.setattr(fitting, "compute_metrics", lambda _: {"accuracy": next(scores), "f1": 0.5})
    run_with(tiny_config, tmp_path, num_train_epochs=3, save_strategy="epoch", save_total_limit=1,
             load_best_model_at_end=load_best)
    out = tmp_path / "out"
    left = list(out.glob("checkpoint-*"))
    assert len(left) == 1
    state = json.loads((left[0] / "trainer_state.json").read_text())
    assert state["epoch"] == (1 if load_best else 3)
    kept, final = (load_file(str(folder / "model.safetensors")) for folder in (left[0], out))
    assert all(torch.equal(kept[name], final[name]) for name in final)


@pytest.mark.parametrize("changes, kept", [({}, False), ({"load_best_model_at_end": True}, True),
                                             ({"save_strategy": "best"}, True),
                                             ({"lr_scheduler_type": "reduce_lr_on_plateau"}, True)])
def test_the_metric_stays_where_the_trainer_reloads_saves_or_schedules_by_it(tmp_path, changes, kept):
    options = {"eval_strategy": "epoch", "save_strategy": "epoch", "load_best_model_at_end": False,
               "metric_for_best_model": "accuracy", **changes}
    args = WeightedTrainingArguments(output_dir=str(tmp_path), **options)
    assert fitting.without_best_tracking(args).metric_for_best_model == ("accuracy" if kept else None)


def test_a_run_without_a_metric_to_select_by_tracks_the_test_split(tiny_config, tmp_path):
    metrics = run_with(tiny_config, tmp_path, metric_for_best_model=None, track_test_each_epoch=True)
    history = json.loads((tmp_path / "out" / "trainer_state.json").read_text())["log_history"]
    assert len([h for h in history if "eval_test_accuracy" in h]) == 2 and "test_accuracy" in metrics


def test_early_stopping_ends_training_and_keeps_the_best_epoch(tiny_config, tmp_path):
    # A threshold no accuracy gain can pass: every evaluation after the first counts as no improvement. The metric
    # named as transformers' logs name it: the validation split's once the test split is evaluated too.
    run_with(tiny_config, tmp_path, num_train_epochs=5, early_stopping_patience=1, early_stopping_threshold=1.0,
             save_strategy="epoch", load_best_model_at_end=True, track_test_each_epoch=True,
             metric_for_best_model="eval_accuracy")
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    evaluations = [h for h in state["log_history"] if "eval_validation_accuracy" in h]
    assert [h["epoch"] for h in evaluations] == [1.0, 2.0]  # the test split's evaluations neither count nor stop it
    best = max(evaluations, key=lambda h: h["eval_validation_accuracy"])  # the first of equals
    assert state["best_global_step"] == best["step"]
    assert "Early stopping (patience 1) ended training after epoch 2 of 5" in (tmp_path / "out" / "README.md").read_text()


def test_a_resumed_run_keeps_early_stoppings_count_and_stops_where_the_uninterrupted_one_did(tiny_config, tmp_path):
    """The count of epochs without improvement started again at 0 on a resume, so the resumed run trained on, past
    the epoch the uninterrupted one stopped after, and kept another model."""
    options = dict(num_train_epochs=6, early_stopping_patience=2, early_stopping_threshold=1.0, save_strategy="epoch",
                   load_best_model_at_end=True, save_total_limit=None)
    run_with(tiny_config, tmp_path, **options)
    out = tmp_path / "out"
    stopped = json.loads((out / "trainer_state.json").read_text())
    assert stopped["epoch"] == 3.0  # the best epoch 1, then two without improvement
    shutil.rmtree(out / f"checkpoint-{stopped['global_step']}")  # as if killed during epoch 3
    run_with(tiny_config, tmp_path, **options, resume_from_checkpoint="last")
    resumed = json.loads((out / "trainer_state.json").read_text())
    assert resumed["epoch"] == 3.0 and resumed["best_global_step"] == stopped["best_global_step"]


def test_a_gain_smaller_than_the_threshold_is_no_improvement(tiny_config, tmp_path):
    """Validation loss falls every epoch here; a threshold of 1 makes each fall count for nothing."""
    evaluated = {}
    for threshold in (0.0, 1.0):
        out = tmp_path / f"threshold{threshold:g}"
        run_with(tiny_config, tmp_path, num_train_epochs=3, early_stopping_patience=1, output_dir=str(out),
                 early_stopping_threshold=threshold, metric_for_best_model="eval_loss", save_strategy="epoch",
                 load_best_model_at_end=True)
        history = json.loads((out / "trainer_state.json").read_text())["log_history"]
        evaluated[threshold] = [entry["epoch"] for entry in history if "eval_loss" in entry]
    assert evaluated == {0.0: [1.0, 2.0, 3.0], 1.0: [1.0, 2.0]}


def test_early_stopping_passes_over_the_test_splits_evaluations_without_a_warning(transformers_records):
    """transformers' own callback warns at every evaluation without the watched metric that early stopping is off."""
    callback = ValidationEarlyStopping(1, 0.0)
    args = SimpleNamespace(metric_for_best_model="validation_accuracy", greater_is_better=True)
    state, control = SimpleNamespace(best_metric=0.8), SimpleNamespace(should_training_stop=False)
    callback.on_evaluate(args, state, control, {"eval_test_accuracy": 0.5})
    assert transformers_records == [] and not control.should_training_stop
    callback.on_evaluate(args, state, control, {"eval_validation_accuracy": 0.7})
    assert control.should_training_stop
    named_as_logged = SimpleNamespace(metric_for_best_model="eval_accuracy", greater_is_better=True)
    state, control = SimpleNamespace(best_metric=0.8), SimpleNamespace(should_training_stop=False)
    ValidationEarlyStopping(1, 0.0).on_evaluate(named_as_logged, state, control, {"eval_accuracy": 0.7})
    assert control.should_training_stop  # the metric named with its eval_ prefix counts too


def test_tracking_the_test_split_leaves_training_as_it_is(tiny_config, tiny_model_dir, tmp_path):
    # Dropout on, so that any draw the test split's evaluation took from the global RNG would show in the weights.
    model_dir = tmp_path / "dropout-bert"
    shutil.copytree(tiny_model_dir, model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    (model_dir / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.3}))
    models = {}
    for track in (False, True):
        run_with(tiny_config, tmp_path, model_name_or_path=str(model_dir), num_train_epochs=3,
                 track_test_each_epoch=track, output_dir=str(tmp_path / f"track-{track}"))
        models[track] = load_file(str(tmp_path / f"track-{track}" / "model.safetensors"))
    assert all(torch.equal(models[False][name], models[True][name]) for name in models[False])


def test_early_stopping_without_a_validation_split_at_run_time_is_refused():
    """The config promised one (a share of the real set), but the real set was too small to hold any out."""
    args = WeightedTrainingArguments(output_dir="unused", report_to="none", early_stopping_patience=2)
    with pytest.raises(ConfigError, match=r"^early_stopping_patience: the run has no validation split to watch$"):
        fitting.without_validation(args)


def test_a_run_without_a_validation_split_records_what_it_did_and_refuses_early_stopping_before_the_checkers(
        tiny_config, tmp_path):
    """resolved_config.json said eval_strategy epoch and load_best_model_at_end true for a run that did neither."""
    alone = {k: v for k, v in tiny_config.items() if k != "validation_file"} | {"real_validation_fraction": 0,
                                                                                "num_train_epochs": 1}
    run_with(alone, tmp_path, eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True)
    resolved = json.loads((tmp_path / "out" / "resolved_config.json").read_text())
    assert (resolved["eval_strategy"], resolved["load_best_model_at_end"], resolved["metric_for_best_model"]) == (
        "no", False, None)
    # a config that promised a validation split (a share of the real set), whose real set is too small to hold one
    real = write_jsonl(tmp_path / "two.jsonl", toy_records(2, seed=9))
    with pytest.raises(ConfigError, match=r"^early_stopping_patience: the run has no validation split to watch$"):
        run_with(alone, tmp_path, output_dir=str(tmp_path / "other"), early_stopping_patience=2,
                 eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
                 real_validation_fraction=0.2, problem_type="single_label_classification_dimp",
                 quality_checker_train_file=str(real),
                 quality_checker_model=str(tmp_path / "q"))
    assert not (tmp_path / "q").exists()  # refused before a checker was built for nothing


@pytest.mark.parametrize("changes, warned", [({}, True), ({"eval_strategy": "no", "load_best_model_at_end": False},
                                                           False)])
def test_without_a_validation_split_evaluating_and_selecting_are_turned_off_and_said_so_when_asked_for(
        caplog, changes, warned):
    args = WeightedTrainingArguments(**{"output_dir": "unused", "report_to": "none", "eval_strategy": "epoch",
                                        "save_strategy": "epoch", "load_best_model_at_end": True, **changes})
    turned_off = fitting.without_validation(args)
    assert (turned_off.eval_strategy, turned_off.load_best_model_at_end) == ("no", False)
    assert ("No validation data: evaluating and selecting the best checkpoint are turned off." in caplog.text) == warned
