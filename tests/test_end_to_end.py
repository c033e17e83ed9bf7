"""Whole runs with the tiny random BERT: every loss, checkers built and cached, results written."""

from __future__ import annotations

import json

import pytest

from conftest import run_with, toy_records, write_jsonl


@pytest.mark.parametrize("problem_type", [
    "single_label_classification",
    "single_label_classification_focalloss",
    "single_label_classification_imp",
    "single_label_classification_dimp",
    "single_label_classification_quality_only",
])
def test_each_loss_runs_end_to_end(tiny_config, tmp_path, problem_type):
    metrics = run_with(tiny_config, tmp_path, problem_type=problem_type)
    out = tmp_path / "out"
    results = json.loads((out / "all_results.json").read_text())
    assert {"test_accuracy", "test_f1", "eval_accuracy", "eval_f1"} <= set(results)
    assert 0.0 <= results["test_accuracy"] <= 1.0
    assert metrics["test_accuracy"] == results["test_accuracy"]
    resolved = json.loads((out / "resolved_config.json").read_text())
    assert resolved["problem_type"] == problem_type
    # class by class for the final model only, not in every epoch's log
    epochs = [entry for entry in json.loads((out / "trainer_state.json").read_text())["log_history"]
              if "eval_accuracy" in entry]
    assert len(epochs) == 2 and not any("_recall_" in key for entry in epochs for key in entry)
    assert {"eval_recall_negative", "test_recall_positive"} <= set(results)


@pytest.mark.parametrize("one_label", [True, False])
def test_a_model_no_better_than_the_majority_class_is_warned_about(tiny_config, tmp_path, caplog, one_label):
    # Trained on positive examples only, the model answers "positive" to all of the half-positive validation split;
    # on both labels, long and fast enough, it learns the task.
    records = [r for r in toy_records(64, seed=0) if r["label"] == 1 or not one_label]
    train = write_jsonl(tmp_path / "data" / "train.jsonl", records)
    (tmp_path / "data" / "labels.json").write_text(json.dumps({"0": "negative", "1": "positive"}))
    with caplog.at_level("WARNING"):
        metrics = run_with(tiny_config, tmp_path, train_file=str(train), num_train_epochs=10, learning_rate=5e-3)
    warned = "The model's validation accuracy 0.500 is level with always answering the most common class"
    assert (warned in caplog.text) == one_label and (metrics["eval_accuracy"] == 0.5) == one_label
    assert ("train.jsonl: no example of label 'negative' among its 32 training examples" in caplog.text) == one_label


@pytest.mark.parametrize("length, warned", [(100, True), (64, False)])
def test_a_max_seq_length_beyond_the_model_is_warned_of(tiny_config, tmp_path, caplog, length, warned):
    with caplog.at_level("WARNING"):
        run_with(tiny_config, tmp_path, problem_type="single_label_classification", max_steps=1, max_seq_length=length)
    # the tiny model's tokenizer reads 64 tokens
    assert (f"max_seq_length {length} is more than the model reads; texts are cut at its 64 tokens" in caplog.text) \
        == warned


def test_quality_set_taken_from_the_training_file_is_held_out(tiny_config, tmp_path):
    config = {**tiny_config, "problem_type": "single_label_classification_dimp",
              "quality_checker_train_file": "toy/train.jsonl", "quality_checker_max_train_samples": 16}
    metrics = run_with(config, tmp_path)
    assert metrics["train_samples"] == 64 - 16
    recipe = json.loads((tmp_path / "checkers" / "quality" / "checker_recipe.json").read_text())
    assert recipe["train_examples"] == 16


def test_test_split_tracked_each_epoch_but_never_selects(tiny_config, tmp_path):
    config = {**tiny_config, "track_test_each_epoch": True, "num_train_epochs": 2, "save_strategy": "epoch",
              "load_best_model_at_end": True}
    run_with(config, tmp_path)
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    per_epoch_test = [h["eval_test_accuracy"] for h in state["log_history"] if "eval_test_accuracy" in h]
    assert len(per_epoch_test) == 2
    assert state["best_metric"] in [h["eval_validation_accuracy"] for h in state["log_history"]
                                    if "eval_validation_accuracy" in h]
    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert "eval_accuracy" in results and "test_accuracy" in results
    # without a test split there is nothing to track: the run trains and evaluates as without the option
    metrics = run_with({**config, "test_file": None, "overwrite_output_dir": True}, tmp_path)
    assert "eval_accuracy" in metrics and not any(key.startswith("test") for key in metrics)


def test_cleanlab_baseline_drops_flagged_examples_then_trains(tiny_config, tmp_path):
    metrics = run_with(tiny_config, tmp_path, drop_label_issues=True)
    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert results["train_label_issues_dropped"] == metrics["train_label_issues_dropped"] >= 0
    assert results["train_samples"] == 64 - results["train_label_issues_dropped"]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_file_a_run_writes_has_the_umasks_permissions(tiny_config, tmp_path, umask):
    """Another user, or a container serving the model, can read what this user could: safetensors 0.8 writes its
    files 0600, as do temporary files renamed into place."""
    import os
    import stat

    before = os.umask(umask)
    try:
        run_with(tiny_config, tmp_path, save_strategy="epoch", average_checkpoints=True, save_total_limit=1,
                 save_validation_predictions=True, problem_type="single_label_classification_dimp")
    finally:
        os.umask(before)
    modes = {str(path.relative_to(tmp_path)): stat.S_IMODE(path.stat().st_mode)
             for folder in (tmp_path / "out", tmp_path / "checkers") for path in folder.rglob("*") if path.is_file()}
    assert {"out/model.safetensors", "out/all_results.json", "out/README.md", "out/resolved_config.json",
            "out/validation_predictions.npz", "out/weights.csv", "out/weights_report.md",
            "checkers/quality/model.safetensors"} <= set(modes)
    assert any(name.endswith("checkpoint_average.safetensors") for name in modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o666 & ~umask} == {}
