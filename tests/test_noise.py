"""Noise injection: the right counts of each kind, every example tagged, swaps really change the label."""

from __future__ import annotations

from collections import Counter

import pytest
from datasets import Dataset

from data.files import DataError
from data.noise import NoiseSpec, inject_noise


def _clean(n=100):
    return Dataset.from_list([{"text": f"clean {i}", "label": i % 3} for i in range(n)])


def test_the_datas_own_tags_stay_on_the_examples_the_noise_leaves():
    """Tags in the data (which model wrote each example) are kept where no noise is injected, not all 'original'."""
    given = {f"t{i}": ["llm_a", "llm_b"][i % 2] for i in range(40)}
    tagged = Dataset.from_list([{"text": text, "label": i % 2, "noise": tag}
                                for i, (text, tag) in enumerate(given.items())])
    noisy = inject_noise(tagged, ["text"], 2, NoiseSpec(swap_ratio=0.25, seed=3))
    assert Counter(noisy["noise"])["swap"] == 10
    assert all(row["noise"] == given[row["text"]] for row in noisy.to_list() if row["noise"] != "swap")


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


def test_unrelated_examples_draw_texts_and_labels_at_random_and_the_noise_is_shuffled_in():
    texts = [f"other {i}" for i in range(10)]
    pairs = Dataset.from_list([{**row, "text_b": row["text"]} for row in _clean().to_list()])
    noisy = inject_noise(pairs, ["text", "text_b"], 3, NoiseSpec(unrelated_ratio=0.3, seed=2),
                         unrelated=texts).to_list()
    unrelated = [row for row in noisy if row["noise"] == "unrelated"]
    assert len({row["text"] for row in unrelated}) > 5 and len({row["label"] for row in unrelated}) == 3
    assert all(row["text"] in texts and row["text_b"] in texts for row in unrelated)  # both texts of a pair
    assert any(row["text"] != row["text_b"] for row in unrelated)  # drawn apart
    assert any(row["noise"] == "unrelated" for row in noisy[:70])  # not all appended after the clean examples


def test_ratios_are_rounded_to_the_nearest_example():
    spec = NoiseSpec(duplicate_ratio=0.29, swap_ratio=0.29, unrelated_ratio=0.29, seed=1)  # 0.29 * 100 = 28.999...
    noisy = inject_noise(_clean(), ["text"], 3, spec, unrelated=["other"])
    assert Counter(noisy["noise"]) == {"original": 71, "swap": 29, "duplicate": 29, "unrelated": 29}


def test_each_noise_ratio_alone_turns_noise_on():
    assert not NoiseSpec(seed=3).active
    for ratio in ("duplicate_ratio", "swap_ratio", "unrelated_ratio"):
        assert NoiseSpec(**{ratio: 0.1}).active, ratio


def test_same_seed_same_noise():
    spec = NoiseSpec(swap_ratio=0.3, seed=7)
    assert inject_noise(_clean(), ["text"], 3, spec).to_list() == inject_noise(_clean(), ["text"], 3, spec).to_list()


def test_unrelated_texts_are_neither_labels_nor_ids():
    from data.noise import unrelated_texts

    records = [{"sentiment": "positive", "id": "a1", "sentence": "Sales rose."},
               {"": "0", "label": "negative", "text": "Costs fell."},
               {"title": "  ", "text": "Prices held."},  # a blank field is no text
               {"label": "positive", "score": 3}]  # a record without text gives none
    assert unrelated_texts(records, "other.csv", "sentiment") == ["Sales rose.", "Costs fell.", "Prices held."]
    with pytest.raises(DataError, match=r"^noise_unrelated_file: other.csv has no text to draw unrelated examples "):
        unrelated_texts(records[3:], "other.csv", "sentiment")


def test_unrelated_needs_a_source():
    with pytest.raises(DataError, match="noise_unrelated_file"):
        inject_noise(_clean(), ["text"], 3, NoiseSpec(unrelated_ratio=0.1))
