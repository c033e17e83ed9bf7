"""Whole runs with the tiny random BERT: every loss, checkers built and cached, results written."""

from __future__ import annotations

import json

import pytest

from config.loading import load_config
from trainer.pipeline import run


def _run(config: dict, tmp_path, **changes):
    config = {**config, **changes}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return run(load_config(str(path)))


@pytest.mark.parametrize("problem_type", [
    "single_label_classification",
    "single_label_classification_focalloss",
    "single_label_classification_imp",
    "single_label_classification_dimp",
    "single_label_classification_quality_only",
])
def test_each_loss_runs_end_to_end(tiny_config, tmp_path, problem_type):
    metrics = _run(tiny_config, tmp_path, problem_type=problem_type)
    out = tmp_path / "out"
    results = json.loads((out / "all_results.json").read_text())
    assert {"test_accuracy", "test_f1", "eval_accuracy", "eval_f1"} <= set(results)
    assert 0.0 <= results["test_accuracy"] <= 1.0
    assert metrics["test_accuracy"] == results["test_accuracy"]
    resolved = json.loads((out / "resolved_config.json").read_text())
    assert resolved["problem_type"] == problem_type
