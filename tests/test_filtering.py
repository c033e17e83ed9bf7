"""Filtering by the checkers' static weight before training (SunGen-style), with any loss."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest
from datasets import Dataset

from conftest import run_with, weights_rows
from checkers.filtering import keep_mask, static_weights
from config.loading import ConfigError, load_config
from app.pipeline import keep_examples, score
from config.arguments import CheckerArguments
from data.task import REAL_EXAMPLE

NAMES = ["negative", "positive"]


def test_static_weight_is_imps_or_the_quality_checkers():
    quality, diversity = np.array([0.9, 0.2, 0.5]), np.array([0.3, 0.0, 0.5])
    assert static_weights(quality, None, 1e-6).tolist() == quality.tolist()
    np.testing.assert_allclose(static_weights(quality, diversity, 1e-6), [3.0, 0.2 / 1e-6, 1.0])


def test_keep_mask_by_threshold_by_top_fraction_and_both():
    weights = np.array([0.1, 0.9, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4, 1.0])
    assert keep_mask(weights, 0.5, None).tolist() == (weights >= 0.5).tolist()
    top = keep_mask(weights, None, 0.7)
    assert top.sum() == 7 and weights[top].min() == pytest.approx(0.4)
    assert keep_mask(np.arange(100.0), None, 0.07).sum() == 7  # 0.07 * 100 is 7.000000000000001 in floating point
    assert keep_mask(weights, None, 0.25).sum() == 3  # 2.5 examples: rounded up
    both = keep_mask(weights, 0.65, 0.5)
    assert both.tolist() == (weights >= 0.7).tolist()
    assert keep_mask(np.ones(4), None, 0.5).tolist() == [True, True, False, False]  # ties: the first ones
    tied = np.random.default_rng(0).integers(0, 3, size=100).astype(float)  # beyond the sizes sorted stably anyway
    first = sorted(range(100), key=lambda i: (-tied[i], i))[:30]
    assert np.flatnonzero(keep_mask(tied, None, 0.3)).tolist() == sorted(first)
    assert keep_mask(weights, None, 1e-9).sum() == keep_mask(weights, None, 1e-12).sum() == 1  # never none


def test_keep_mask_keeps_the_trusted_examples_and_counts_the_fraction_without_them():
    weights = np.array([0.1, 0.9, 0.5, np.nan, 0.3, np.nan])  # the real examples joined at a fixed weight have none
    trusted = np.isnan(weights)
    assert keep_mask(weights, None, 0.5, trusted).tolist() == [False, True, True, True, False, True]
    assert keep_mask(weights, 0.4, None, trusted).tolist() == [False, True, True, True, False, True]


@pytest.mark.parametrize("key, value, message", [
    ("filter_keep_top_fraction", 0, r"filter_keep_top_fraction: expected a value in \(0, 1\]"),
    ("filter_keep_top_fraction", 1.5, r"filter_keep_top_fraction: expected a value in \(0, 1\]"),
    ("filter_min_weight", -0.1, r"filter_min_weight: expected >= 0"),
])
def test_bad_filter_options_are_named(key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [f"--{key}", str(value)])


def test_ce_trains_on_the_top_fraction_the_checkers_trust(tiny_config, tmp_path):
    metrics = run_with(tiny_config, tmp_path, problem_type="single_label_classification", filter_keep_top_fraction=0.75)
    out = tmp_path / "out"
    results = json.loads((out / "all_results.json").read_text())
    assert results["train_filtered_out"] == metrics["train_filtered_out"] == 16
    assert results["train_samples"] == 48
    rows = weights_rows(out)
    assert len(rows) == 64 and sum(row["kept"] == "True" for row in rows) == 48
    assert "diversity_prob" in rows[0]  # the config names a diversity checker: the static weight is P'/Q
    kept = [float(r["static_weight"]) for r in rows if r["kept"] == "True"]
    dropped = [float(r["static_weight"]) for r in rows if r["kept"] == "False"]
    assert min(kept) >= max(dropped)
    assert "kept **48 of 64**" in (out / "weights_report.md").read_text()
    card = (out / "README.md").read_text()
    assert "16 training examples were dropped by the checkers' static-weight filter before training." in card
    trained = np.bincount([int(r["label"]) for r in rows if r["kept"] == "True"], minlength=2)
    assert f"Labels of the training data that the filtering kept: `negative` {trained[0]}, `positive` {trained[1]}." \
        in card
    assert "## Reproduce\n\nThe settings that differ" in card  # started from Python: no command line to show


def test_a_threshold_nothing_reaches_stops_before_training(tiny_config, tmp_path):
    with pytest.raises(ConfigError, match=r"filter_min_weight: .* drops them all"):
        run_with(tiny_config, tmp_path, filter_min_weight=1e7)  # P'/Q is at most 1 / weight_epsilon
    assert not (tmp_path / "out").exists()


def test_a_threshold_only_the_real_examples_pass_is_refused_too(caplog):
    """The real set joined to the training data is always kept: a threshold that keeps nothing else would train on
    the real set alone."""
    train = Dataset.from_dict({"label": [0, 1, 0, 1], REAL_EXAMPLE: [False, False, True, True]})
    weights = SimpleNamespace(static=np.array([0.1, 0.2, 1.0, 1.0]))
    with pytest.raises(ConfigError, match=r"filter_min_weight: .* 0.5 drops them all \(highest static weight 0.2\)"):
        keep_examples(train, {}, weights, CheckerArguments(filter_min_weight=0.5), NAMES)
    with caplog.at_level(logging.INFO):
        keep, metrics = keep_examples(train, {}, weights, CheckerArguments(filter_min_weight=0.15), NAMES)
    assert keep.tolist() == [False, True, True, True] and metrics == {"train_filtered_out": 1}
    # counted among the generated examples, as the weights report counts them
    assert "leaves out 1 of 2 training examples (the real set joined to them is kept whole)" in caplog.text
    # the one generated example of `negative` is dropped: only the real set teaches that label now, and the log says so
    assert ("Filtering keeps no training example of label 'negative' (1 kept of 2), so the model learns it from the "
            "real set joined to them alone") in caplog.text
    assert keep_examples(train, {}, weights, CheckerArguments(), NAMES) == (None, {})  # nothing asked: no mask


def test_a_label_the_real_set_lacks_too_is_learnt_from_no_example(caplog):
    train = Dataset.from_dict({"label": [0, 1, 1, 1], REAL_EXAMPLE: [False, False, True, True]})
    weights = SimpleNamespace(static=np.array([0.1, 0.2, 1.0, 1.0]))
    with caplog.at_level(logging.WARNING):
        keep_examples(train, {}, weights, CheckerArguments(filter_min_weight=0.15), NAMES)
    assert ("Filtering keeps no training example of label 'negative' (1 kept of 2), so the model learns it from no "
            "example; keep more (filter_min_weight) or check the labels") in caplog.text  # the option set, alone


def test_the_filters_and_cleanlabs_counts_add_up_to_the_examples_dropped(caplog):
    """An example both drop is the filter's: counted twice, the card read as more dropped than were."""
    labels = np.array([0, 1] * 10)
    quality = np.where(labels[:, None] == np.arange(2), 0.9, 0.1)
    quality[[2, 3, 10, 11]] = quality[[2, 3, 10, 11], ::-1]  # four label issues; the filter drops 2 and 3 as well
    train = Dataset.from_dict({"label": labels})
    weights = SimpleNamespace(static=np.where(np.isin(np.arange(20), [2, 3]), 0.1, 1.0))
    with caplog.at_level(logging.INFO):
        keep, metrics = keep_examples(train, {"quality": quality}, weights,
                                      CheckerArguments(filter_min_weight=0.5, drop_label_issues=True), NAMES)
    assert np.flatnonzero(~keep).tolist() == [2, 3, 10, 11]
    assert metrics == {"train_filtered_out": 2, "train_label_issues_dropped": 2}
    assert "cleanlab flags 4 of 20 training examples as label issues (`drop_label_issues` leaves them out; 2 of " \
           "them the filter kept)" in caplog.text


def test_cleanlab_never_drops_a_real_example():
    labels = np.array([0, 1] * 10)
    quality = np.where(labels[:, None] == np.arange(2), 0.9, 0.1)
    quality[[0, 1, 10, 11]] = quality[[0, 1, 10, 11], ::-1]  # the checker disagrees with four labels: 0 and 1 real
    train = Dataset.from_dict({"label": labels, REAL_EXAMPLE: np.arange(20) < 2})
    keep, metrics = keep_examples(train, {"quality": quality}, None, CheckerArguments(drop_label_issues=True), NAMES)
    assert np.flatnonzero(~keep).tolist() == [10, 11] and metrics == {"train_label_issues_dropped": 2}


def test_score_py_marks_the_examples_a_run_would_keep_cleanlab_included(tiny_config, tmp_path):
    options = dict(problem_type="single_label_classification_dimp", drop_label_issues=True, filter_min_weight=0.3)
    metrics = run_with(tiny_config, tmp_path, **options)
    path = tmp_path / "score.json"
    path.write_text(json.dumps({**tiny_config, **options, "output_dir": str(tmp_path / "scored")}))
    score(load_config(str(path)))

    scored, trained = ([row["kept"] == "True" for row in weights_rows(tmp_path / name)] for name in ("scored", "out"))
    assert metrics["train_label_issues_dropped"] > 0
    assert scored == trained and sum(trained) == metrics["train_samples"]


def test_score_py_weighs_as_the_run_does(tiny_config, tmp_path):
    """DIMP with a warm-started quality checker: the diversity checker is built, but the static weight is P'."""
    options = dict(problem_type="single_label_classification_dimp", quality_checker_warm_start=True)
    run_with(tiny_config, tmp_path, **options)
    path = tmp_path / "score.json"
    path.write_text(json.dumps({**tiny_config, **options, "output_dir": str(tmp_path / "scored")}))
    score(load_config(str(path)))

    scored, trained = weights_rows(tmp_path / "scored"), weights_rows(tmp_path / "out")
    assert "diversity_prob" not in scored[0]
    assert [r["static_weight"] for r in scored] == [r["static_weight"] for r in trained] == \
        [r["quality_prob"] for r in scored]
