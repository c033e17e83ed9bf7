"""Noise injection: the right counts of each kind, every example tagged, swaps really change the label."""

from __future__ import annotations

from collections import Counter

import pytest
from datasets import Dataset

from data.files import DataError
from data.noise import NoiseSpec, inject_noise


def _clean(n=100):
    return Dataset.from_list([{"text": f"clean {i}", "label": i % 3} for i in range(n)])


def test_counts_tags_and_labels():
    clean = _clean()
    noisy = inject_noise(clean, ["text"], 3, NoiseSpec(duplicate_ratio=0.1, swap_ratio=0.2, unrelated_ratio=0.3, seed=1),
                         unrelated=["other a", "other b"])
    tags = Counter(noisy["noise"])
    assert tags == {"original": 80, "swap": 20, "duplicate": 10, "unrelated": 30}
    truth = {r["text"]: r["label"] for r in clean.to_list()}
    for row in noisy.to_list():
        if row["noise"] == "swap":
            assert row["label"] != truth[row["text"]]
        elif row["noise"] == "unrelated":
            assert row["text"].startswith("other")
        else:
            assert row["label"] == truth[row["text"]]


def test_same_seed_same_noise():
    spec = NoiseSpec(swap_ratio=0.3, seed=7)
    assert inject_noise(_clean(), ["text"], 3, spec).to_list() == inject_noise(_clean(), ["text"], 3, spec).to_list()


def test_unrelated_texts_are_neither_labels_nor_ids():
    from data.noise import unrelated_texts

    records = [{"sentiment": "positive", "id": "a1", "sentence": "Sales rose."},
               {"": "0", "label": "negative", "text": "Costs fell."}]
    assert unrelated_texts(records, "other.csv", "sentiment") == ["Sales rose.", "Costs fell."]


def test_unrelated_needs_a_source():
    with pytest.raises(DataError, match="noise_unrelated_file"):
        inject_noise(_clean(), ["text"], 3, NoiseSpec(unrelated_ratio=0.1))
