"""The bar: on generated data with known bad examples (swapped labels, unrelated texts), a quality checker trained on
clean real data gives them a lower weight than the original examples, and the report lists them lowest."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict

import pytest

from conftest import FILLER, toy_records, weights_rows, write_jsonl
from config.loading import load_config
from app.pipeline import score

UNRELATED_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight"]


@pytest.fixture
def noisy_task(tmp_path, monkeypatch):
    """Clean toy data (label 1 iff a positive word occurs) as the real set; the same kind of data as the generated
    set, into which the run injects 10% swapped labels and 10% unrelated texts (number words and filler). No
    validation split (real_validation_fraction 0): the checker is then its last epoch, not the first that is 100%
    accurate on toy data."""
    rng = random.Random(7)
    root = tmp_path / "data"
    write_jsonl(root / "toy" / "train.jsonl", toy_records(120, seed=10))
    write_jsonl(root / "toy" / "real.jsonl", toy_records(160, seed=11))
    write_jsonl(root / "other" / "texts.jsonl",
                [{"text": " ".join(rng.sample(UNRELATED_WORDS, 3) + rng.sample(FILLER, 2)), "label": 0}
                 for _ in range(40)])
    (root / "toy" / "labels.json").write_text(json.dumps({"0": "negative", "1": "positive"}))
    monkeypatch.setenv("DIMP_DATA_ROOT", str(root))
    return root


def _lowest_table_tags(report: str) -> list[str]:
    section = report.split("lowest-weighted examples", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    header = [c.strip() for c in section.splitlines()[2].strip("|").split("|")]
    column = header.index("noise")
    return [row.strip("|").split("|")[column].strip() for row in rows]


def test_checker_distrusts_swapped_and_unrelated_examples(tiny_model_dir, noisy_task, tmp_path):
    config = {
        "model_name_or_path": str(tiny_model_dir),
        "train_file": "toy/train.jsonl",
        "noise_swap_ratio": 0.1,
        "noise_unrelated_ratio": 0.1,
        "noise_unrelated_file": "other/texts.jsonl",
        "quality_checker_train_file": "toy/real.jsonl",
        "real_validation_fraction": 0,
        "quality_checker_model": str(tmp_path / "checkers" / "quality"),
        "checker_num_train_epochs": 8,
        "checker_learning_rate": 3e-3,
        "checker_batch_size": 16,
        "max_seq_length": 32,
        "problem_type": "single_label_classification_dimp",
        "output_dir": str(tmp_path / "scores"),
        "report_to": "none",
        "disable_tqdm": True,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    report = score(load_config(str(path)))

    rows = weights_rows(tmp_path / "scores")
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row["noise"]].append(float(row["static_weight"]))
    mean = {kind: sum(values) / len(values) for kind, values in by_kind.items()}
    assert {kind: len(values) for kind, values in by_kind.items()} == {"original": 108, "swap": 12, "unrelated": 12}
    assert mean["original"] > 0.8, mean  # the checker learned the task
    assert mean["swap"] < 0.5 * mean["original"], mean
    assert mean["unrelated"] < 0.8 * mean["original"], mean

    lowest = _lowest_table_tags(report.read_text(encoding="utf-8"))
    assert len(lowest) == 20
    assert sum(tag != "original" for tag in lowest) >= 16, lowest
    assert all(f"{kind} " in report.read_text() for kind in ("swap", "unrelated"))
