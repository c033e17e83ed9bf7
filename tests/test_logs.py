"""Readable logs: no pin_memory warning on CPU, no LOAD REPORT for the classification head that fine-tuning
always adds, while a real mismatch still shows its report; under torchrun, each INFO line from one process only."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import ROOT, encoder_without_head
from config.arguments import WeightedTrainingArguments
from references.models import ModelSource
from trainer.modeling import load_classifier, load_trained_classifier


def _reports(records) -> list[str]:
    return [r.getMessage() for r in records if "LOAD REPORT" in r.getMessage()]


def test_no_pin_memory_without_an_accelerator(tmp_path):
    args = WeightedTrainingArguments(output_dir=str(tmp_path))
    assert args.dataloader_pin_memory is torch.accelerator.is_available()


def test_the_new_classification_head_loads_without_a_report(tiny_model_dir, tmp_path, transformers_records):
    folder = encoder_without_head(tiny_model_dir, tmp_path / "base")
    model = load_classifier(ModelSource(str(folder)), ["negative", "positive"])
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert _reports(transformers_records) == []


@pytest.mark.parametrize("change", ["missing", "unexpected"])
def test_a_real_mismatch_still_shows_its_report(tiny_model_dir, tmp_path, transformers_records, change):
    """A weight of the base model missing, or one the classifier has no place for, is shown with the new head."""
    folder = encoder_without_head(tiny_model_dir, tmp_path / "broken")
    weights = load_file(folder / "model.safetensors")
    key = next(key for key in weights if "layer.0.output.dense.weight" in key)
    if change == "missing":
        del weights[key]
    else:
        weights[key.replace("dense", "extra")] = weights[key].clone()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    load_classifier(ModelSource(str(folder)), ["negative", "positive"])
    reports = _reports(transformers_records)
    shown = "layer.0.output.dense.weight" if change == "missing" else "layer.0.output.extra.weight"
    assert len(reports) == 1 and shown in reports[0] and "classifier.weight" in reports[0]


def test_a_trained_classifier_loads_without_a_report_unless_its_weights_do_not_fit(tiny_model_dir, tmp_path,
                                                                                 transformers_records):
    """A checker or a run's model: its weights are the classifier's, the head included; one more weight than the
    classifier has a place for is shown."""
    load_trained_classifier(ModelSource(str(tiny_model_dir)))
    assert _reports(transformers_records) == []
    folder = tmp_path / "extra"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    weights = load_file(tiny_model_dir / "model.safetensors")
    save_file({**weights, "bert.extra.weight": torch.zeros(2)}, folder / "model.safetensors", metadata={"format": "pt"})
    load_trained_classifier(ModelSource(str(folder)))
    reports = _reports(transformers_records)
    assert len(reports) == 1 and "bert.extra.weight" in reports[0]


@pytest.mark.parametrize("local_rank, printed", [("0", True), ("1", False)])
def test_other_processes_log_at_warning_before_the_config_is_read(local_rank, printed):
    # in a process of its own: pytest's handlers on the root logger would make logging.basicConfig do nothing
    script = ("import logging; from app.cli import _setup_logging; _setup_logging(); "
              "logging.getLogger('config.loading').info('read'); logging.getLogger('data').warning('warned')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "LOCAL_RANK": local_rank})
    assert ("INFO config.loading: read" in done.stdout) == printed and "WARNING data: warned" in done.stdout


@pytest.mark.parametrize("should_log, level", [(True, logging.DEBUG), (False, logging.ERROR)])
def test_once_the_config_is_read_the_projects_logs_follow_the_trainers_levels(should_log, level):
    """log_level in the main process, log_level_replica in the others (torchrun's); passive leaves it as it was."""
    from app.cli import _process_log_level

    root = logging.getLogger()
    before = root.level
    try:
        _process_log_level(SimpleNamespace(log_level="debug", log_level_replica="error", should_log=should_log))
        assert root.level == level
        root.setLevel(logging.INFO)
        _process_log_level(SimpleNamespace(log_level="passive", log_level_replica="passive", should_log=should_log))
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)


def test_a_run_logs_at_its_log_level_from_its_start(tiny_config, tmp_path, monkeypatch):
    import json

    import app.pipeline
    from app.cli import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps(tiny_config))
    levels = []
    monkeypatch.setattr(app.pipeline, "run", lambda cfg: levels.append(logging.getLogger().level))
    root = logging.getLogger()
    before = root.level
    try:
        assert main([str(path), "--log_level", "error"]) == 0
    finally:
        root.setLevel(before)
    assert levels == [logging.ERROR]


def test_disable_tqdm_leaves_no_progress_bar_of_any_library(tiny_config, tmp_path, capfd):
    """datasets' and transformers' own bars (tokenizing, loading and saving weights) go too, and only for the run."""
    import json

    import datasets
    import transformers

    from app.cli import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "problem_type": "single_label_classification_dimp"}))
    capfd.readouterr()
    assert main([str(path), "--disable_tqdm", "true"]) == 0
    printed = "".join(capfd.readouterr())
    assert "Tokenizing" not in printed and "Loading weights" not in printed and "%|" not in printed
    assert not datasets.are_progress_bars_disabled() and transformers.utils.logging.is_progress_bar_enabled()


def test_per_class_metrics_of_many_labels_are_saved_not_printed(tiny_config, tmp_path, capfd, caplog):
    """Twelve intents: each label's precision, recall, F1 and examples (48 per evaluation, 600 for 150 intents) go to
    the results files; the console shows the overall metrics and where the per-class ones are. Two labels print them,
    for the final model only: each epoch's evaluation logs the overall metrics."""
    import json

    from app.cli import main
    from conftest import toy_records, write_jsonl

    records = [{"text": r["text"], "label": f"intent_{i % 12}"} for i, r in enumerate(toy_records(96, seed=4))]
    for name in ("train", "validation", "real"):
        write_jsonl(tmp_path / f"{name}.jsonl", records)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "train_file": str(tmp_path / "train.jsonl"), "test_file": None,
                                "validation_file": str(tmp_path / "validation.jsonl"),
                                "quality_checker_train_file": str(tmp_path / "real.jsonl"),
                                "ignore_mismatched_sizes": True}))  # the tiny model's head has two labels
    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        assert main([str(path)]) == 0
    printed = "".join(capfd.readouterr()) + caplog.text
    assert "eval_accuracy" in printed and "recall_intent_" not in printed and "f1_intent_" not in printed
    assert "Each of the 12 labels' precision, recall, F1 and examples: eval_results.json" in caplog.text
    saved = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert sum(key.startswith("eval_recall_intent_") for key in saved) == 12
    caplog.clear()
    with caplog.at_level(logging.INFO):  # predict.py's score of a labelled input alike
        assert main(["--model", str(tmp_path / "out"), "--input", str(tmp_path / "validation.jsonl"), "--output",
                     str(tmp_path / "p.csv")], command="predict") == 0
    assert ", intent_7 0" in caplog.text and ", ... (12 labels, each in --metrics_output)" in caplog.text
    assert "intent_8 0" not in caplog.text  # labels in order: intent_0, intent_1, intent_10, intent_11, intent_2, ...
    assert main([str(tmp_path / "config.json"), "--output_dir", str(tmp_path / "two"), "--max_train_samples", "8",
                 "--train_file", "toy/train.jsonl", "--validation_file", "toy/validation.jsonl",
                 "--quality_checker_train_file", "toy/real.jsonl"]) == 0
    assert "eval_recall_negative" in "".join(capfd.readouterr())
    history = json.loads((tmp_path / "two" / "trainer_state.json").read_text())["log_history"]
    epochs = [entry for entry in history if "eval_accuracy" in entry]  # each epoch's: the overall metrics only
    assert len(epochs) == 2 and not any("_recall_" in key for entry in epochs for key in entry)
