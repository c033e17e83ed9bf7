"""The README's "Your own data" path with the tiny model: run.py with flags only (no config file, no validation
file), then predict.py on new texts, as a user runs them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import toy_records
from config.loading import load_config
from data.prepare import load_task

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["negative", "positive"]


def _csv(path: Path, records: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


def _named(records: list[dict]) -> list[dict]:
    return [{"text": r["text"], "label": LABELS[r["label"]]} for r in records]


def _command(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DIMP_DATA_ROOT": str(cwd / "no-data-root")}
    done = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_flags_only_run_without_validation_file_then_predict(tiny_model_dir, tmp_path, monkeypatch):
    work = tmp_path / "work"
    data = work / "mydata"
    data.mkdir(parents=True)
    _csv(data / "generated.csv", _named(toy_records(64, seed=0)))
    _csv(data / "real.csv", _named(toy_records(40, seed=3)))
    _csv(data / "test.csv", _named(toy_records(24, seed=2)))
    run = _command("run.py", "--train_file", "mydata/generated.csv", "--quality_checker_train_file", "mydata/real.csv",
                   "--test_file", "mydata/test.csv", "--output_dir", "out", "--model_name_or_path", str(tiny_model_dir),
                   "--num_train_epochs", "2", "--per_device_train_batch_size", "8", "--learning_rate", "1e-3",
                   "--checker_num_train_epochs", "1", "--checker_learning_rate", "1e-3", "--max_seq_length", "32",
                   "--report_to", "none", cwd=work)
    log = run.stdout + run.stderr
    assert "No validation file: 8 of the 40 real examples" in log
    assert "pin_memory" not in log and "LOAD REPORT" not in log and "Traceback" not in log
    out = work / "out"

    # the split: recorded, reproduced from resolved_config.json, stratified and disjoint
    resolved = json.loads((out / "resolved_config.json").read_text())
    assert resolved["validation_from_real_set"]["validation_examples"] == 8
    assert resolved["validation_file"] is None and resolved["real_validation_fraction"] == 0.2
    checker = work / resolved["quality_checker_model"]
    assert resolved["quality_checker_model"] == \
        f"./cache/checkers/quality-checker_mydata-real_{tiny_model_dir.name}_e1_lr0.001"
    assert json.loads((checker / "checker_recipe.json").read_text())["train_examples"] == 32
    monkeypatch.chdir(work)  # where the run's relative data paths lie
    task = load_task(load_config(str(out / "resolved_config.json")))
    validation, checker_part = set(task.splits["validation"]["text"]), set(task.splits["quality_train"]["text"])
    assert (len(validation), len(checker_part)) == (8, 32) and not validation & checker_part
    assert Counter(task.splits["validation"]["label"]) == {0: 4, 1: 4}
    results = json.loads((out / "all_results.json").read_text())
    assert {"eval_accuracy", "test_accuracy"} <= set(results)

    # the model card
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "transformers"
    assert [r["dataset"]["split"] for r in meta["model-index"][0]["results"]] == ["validation", "test"]
    assert "8 examples held out of the real set (`real_validation_fraction` 0.2" in card
    assert "| validation split | 8 | " in card and "| real set for the quality checker" in card
    assert "python run.py --train_file" in card
    # the files as the command named them, relative to the working directory, not this machine's folders
    assert "| training data | 64 | mydata/generated.csv |" in card and "mydata/real.csv (held-out part)" in card
    report = (out / "weights_report.md").read_text()
    assert "training examples from `mydata/generated.csv`" in report
    assert str(tmp_path) not in card and str(tmp_path) not in report

    # predictions: one row per input, probabilities summing to 1, label names
    new = [{"id": f"n{i}", "text": r["text"]} for i, r in enumerate(toy_records(30, seed=9))]
    _csv(work / "new.csv", new)
    predicted = _command("predict.py", "--model", "out", "--input", "new.csv", "--output", "predictions.jsonl",
                         cwd=work)
    assert "Wrote 30 predictions" in predicted.stdout
    rows = [json.loads(line) for line in (work / "predictions.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [r["id"] for r in new]
    for row in rows:
        assert row["predicted_label"] in LABELS
        assert row["prob_negative"] + row["prob_positive"] == pytest.approx(1.0, abs=1e-5)

    # the output folder also loads in transformers' own pipeline, with the label names
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(out))
    assert [p["label"] for p in classifier([r["text"] for r in new[:5]])] == \
        [row["predicted_label"] for row in rows[:5]]
