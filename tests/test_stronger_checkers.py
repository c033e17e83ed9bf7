"""Ways to a stronger quality checker and to the model using it: temperature scaling, cross-fitting, a warm start
from the diversity checker, and training that starts from the quality checker."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from app.pipeline import run, score
from checkers.calibration import fit_temperature, softmax
from checkers.for_task import fold_indices
from checkers.scoring import at_gold, class_logits
from config.loading import ConfigError, load_config
from conftest import toy_records, weights_rows, write_jsonl
from data.files import read_records
from references.models import ModelSource


def _config(config: dict, tmp_path, **changes):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, **changes}))
    return load_config(str(path))


@pytest.mark.parametrize("temperature", [0.5, 2.0, 5.0])  # an unsure checker, a sure one, a very sure one
def test_temperature_scaling_recovers_a_known_temperature(temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20000, 3))
    probs = softmax(logits, temperature)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)
    assert (softmax(logits, temperature).argmax(1) == logits.argmax(1)).all()  # classes never change


def test_a_temperature_stays_finite_when_held_out_data_would_push_it_without_end():
    """A checker wrong on every held-out example is least wrong at T → ∞ (every P′ 1/k, every weight alike): the
    fit stops at T = 100. One right on every example is made surer, not past T = 0.01."""
    logits = np.array([[2.0, -2.0], [-1.0, 1.0], [3.0, 0.0]])
    assert fit_temperature(logits, 1 - logits.argmax(1)) == pytest.approx(100)
    assert 0.01 <= fit_temperature(logits, logits.argmax(1)) < 1


def test_folds_cover_every_example_once_and_spread_each_label():
    labels = [0] * 30 + [1] * 11 + [2] * 7
    folds = fold_indices(labels, 4, seed=3)
    together = np.concatenate(folds)
    assert sorted(together.tolist()) == list(range(len(labels)))
    for label in (0, 1, 2):
        counts = [Counter(labels[i] for i in fold)[label] for fold in folds]
        assert max(counts) - min(counts) <= 1
    assert [len(fold) for fold in folds] == [12] * 4  # each label's remainder goes on where the last one's stopped
    assert [f.tolist() for f in fold_indices(labels, 4, seed=3)] == [f.tolist() for f in folds]
    assert [f.tolist() for f in fold_indices(labels, 4, seed=4)] != [f.tolist() for f in folds]
    alternating = [i % 2 for i in range(20)]  # where a fold by position would hold one label only
    spread = [Counter(alternating[i] for i in fold) for fold in fold_indices(alternating, 2, seed=0)]
    assert spread == [{0: 5, 1: 5}] * 2


def _fold_logits(quality: Path, folds: list[np.ndarray], real: Dataset, others: Dataset) -> tuple[np.ndarray, list]:
    """Each real example's logits from the fold checker that did not train on it; each fold checker's of `others`."""
    out_of_fold, on_others = np.zeros((len(real), 2)), []
    for i, held in enumerate(folds, start=1):
        model = AutoModelForSequenceClassification.from_pretrained(quality / f"fold{i}")
        source = ModelSource(str(quality / f"fold{i}"))
        out_of_fold[held] = class_logits(model, source, real.select(held), ["text"], 32)
        on_others.append(class_logits(model, source, others, ["text"], 32))
    return out_of_fold, on_others


def test_cross_fitted_real_examples_are_scored_by_the_checker_that_did_not_see_them(tiny_config, tmp_path, caplog):
    """A real example's P′ is that of the fold checker that did not train on it, a generated example's the mean of
    the fold checkers'. (The checkers train longer and faster than the tiny default, so that they differ.)"""
    cfg = _config(tiny_config, tmp_path, problem_type="single_label_classification_dimp", real_set_in_training=True,
                  real_set_weight=None, quality_checker_folds=2, checker_num_train_epochs=3, checker_learning_rate=1e-2)
    caplog.set_level(logging.INFO, logger="data.prepare")  # pytest fails a test whose log message cannot be formatted
    run(cfg)
    assert "Training on 32 real examples too (real_set_in_training), the loss's own weight" in caplog.text
    quality = tmp_path / "checkers" / "quality"
    recipes = [json.loads((quality / f"fold{i}" / "checker_recipe.json").read_text()) for i in (1, 2)]
    assert [r["fold"] for r in recipes] == ["1/2", "2/2"] and [r["train_examples"] for r in recipes] == [16, 16]
    rows = weights_rows(tmp_path / "out")
    real, generated = [r for r in rows if r["noise"] == "real"], [r for r in rows if r["noise"] != "real"]
    # the real rows follow the real set's order, which the folds are drawn from
    texts = Dataset.from_dict({"text": [r["text"] for r in real], "label": [int(r["label"]) for r in real]})
    folds = fold_indices(texts["label"], 2, seed=cfg.training.seed)
    out_of_fold, on_generated = _fold_logits(quality, folds, texts, Dataset.from_dict({"text": [r["text"] for r in
                                                                                               generated]}))
    gold = at_gold(softmax(out_of_fold), texts["label"])
    assert np.allclose(gold, [float(r["quality_prob"]) for r in real], atol=1e-5)
    mean = np.mean([softmax(logits) for logits in on_generated], axis=0)
    gold = at_gold(mean, [int(r["label"]) for r in generated])
    assert np.allclose(gold, [float(r["quality_prob"]) for r in generated], atol=1e-5)
    assert np.abs(softmax(on_generated[0]) - softmax(on_generated[1])).max() > 1e-3  # the checkers differ
    # the real examples get DIMP's own weight, not a constant, and are ranked with the others
    assert len({r["weight_epoch1"] for r in real}) > 5
    assert all(r["static_weight"] == r["quality_prob"] for r in real)
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "P′ is cross-fitted (`quality_checker_folds` 2)" in card
    assert "joined to the training data were weighted as the others (`real_set_weight` null)" in card


def test_cross_fitted_checkers_are_calibrated_on_each_real_example_as_its_fold_checker_scores_it(tiny_config,
                                                                                                 data_root_env,
                                                                                                 tmp_path):
    cfg = _config(tiny_config, tmp_path, problem_type="single_label_classification_dimp", quality_checker_folds=2,
                  checker_calibration="temperature")
    run(cfg)
    real = Dataset.from_list(read_records(data_root_env / "toy" / "real.jsonl"))
    rows = weights_rows(tmp_path / "out")
    out_of_fold, on_train = _fold_logits(tmp_path / "checkers" / "quality",
                                         fold_indices(real["label"], 2, cfg.training.seed), real,
                                         Dataset.from_dict({"text": [r["text"] for r in rows]}))
    temperature = json.loads((tmp_path / "out" / "train_results.json").read_text())["quality_checker_temperature"]
    assert temperature == pytest.approx(fit_temperature(out_of_fold, np.array(real["label"])), rel=1e-4)
    # each training example's P′: the fold checkers' mean probability, their logits divided by the temperature
    mean = np.mean([softmax(logits, temperature) for logits in on_train], axis=0)
    gold = at_gold(mean, [int(r["label"]) for r in rows])
    assert np.allclose(gold, [float(r["quality_prob"]) for r in rows], atol=1e-5)


def test_the_warm_started_quality_checker_starts_from_the_diversity_checker(tiny_config, tmp_path):
    run(_config(tiny_config, tmp_path, problem_type="single_label_classification_dimp",
                quality_checker_warm_start=True))
    recipe = json.loads((tmp_path / "checkers" / "quality" / "checker_recipe.json").read_text())
    diversity = str(tmp_path / "checkers" / "diversity")
    assert recipe["warm_start"] == diversity and recipe["base_model"] == diversity
    # Q only started the quality checker: DIMP's weights, and so the report's, are P' and not P'/Q
    rows = weights_rows(tmp_path / "out")
    assert "diversity_prob" not in rows[0] and all(r["static_weight"] == r["quality_prob"] for r in rows)
    assert "| P′ (the quality checker's factor) | 64 |" in (tmp_path / "out" / "README.md").read_text()


def test_training_can_start_from_the_quality_checker(tiny_config, tiny_model_dir, tmp_path):
    """The card names the model the weights descend from: the checker's base, here not model_name_or_path."""
    base = shutil.copytree(tiny_model_dir, tmp_path / "checker-base")
    run(_config(tiny_config, tmp_path, init_from_quality_checker=True, max_steps=1, learning_rate=1e-12,
                eval_strategy="no", checker_base_model=str(base)))
    checker = load_file(str(tmp_path / "checkers" / "quality" / "model.safetensors"))
    trained = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert torch.allclose(trained["classifier.weight"], checker["classifier.weight"], atol=1e-6)
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "Training started from the quality checker's weights (`init_from_quality_checker`)." in card
    assert f") fine-tuned from `{base}` with CE loss" in card


@pytest.mark.parametrize("negatives, warned", [(1, True), (2, False)])
def test_a_label_with_a_single_real_example_is_warned_of_when_cross_fitting(tiny_config, tmp_path, caplog, negatives,
                                                                          warned):
    records = [r for r in toy_records(40, seed=3) if r["label"] == 1] + toy_records(2 * negatives, seed=4)[::2]
    real = write_jsonl(tmp_path / "real.jsonl", records)
    with caplog.at_level("WARNING"):
        score(_config(tiny_config, tmp_path, problem_type="single_label_classification_dimp", quality_checker_folds=2,
                      quality_checker_train_file=str(real)))
    assert ("label 'negative' has a single real example, scored by the fold checker that never saw the label"
            in caplog.text) == warned


def test_calibrated_checkers_keep_their_classes_and_divide_their_logits_by_the_recorded_temperature(tiny_config,
                                                                                                   data_root_env,
                                                                                                   tmp_path):
    run(_config(tiny_config, tmp_path, output_dir=str(tmp_path / "plain"), problem_type="single_label_classification_imp"))
    run(_config(tiny_config, tmp_path, output_dir=str(tmp_path / "calibrated"), checker_calibration="temperature",
                problem_type="single_label_classification_imp"))

    def column(out, name):
        return np.array([float(r[name]) for r in weights_rows(tmp_path / out)])

    metrics = json.loads((tmp_path / "calibrated" / "train_results.json").read_text())
    assert "quality_checker_temperature" not in json.loads((tmp_path / "plain" / "train_results.json").read_text())
    assert (f"(`checker_calibration`): quality {metrics['quality_checker_temperature']:.3g}, diversity "
            f"{metrics['diversity_checker_temperature']:.3g}.") in (tmp_path / "calibrated" / "README.md").read_text()
    assert "checker_calibration" not in (tmp_path / "plain" / "README.md").read_text()
    for role in ("quality", "diversity"):
        temperature = metrics[f"{role}_checker_temperature"]
        plain, calibrated = column("plain", f"{role}_prob"), column("calibrated", f"{role}_prob")
        assert temperature > 0 and ((plain > 0.5) == (calibrated > 0.5)).all()
        # two classes: the gold class's log-odds under the same checker, divided by T
        log_odds = np.log(plain / (1 - plain)) / temperature
        # weights.csv keeps 6 significant digits, up to 5e-7 off here: that error carried through the log-odds and T
        # (large where a near-chance checker fits a small T), plus the calibrated value's own; twice, for float32
        rounding = 5e-7 * (1 + calibrated * (1 - calibrated) / (plain * (1 - plain) * temperature))
        assert (np.abs(calibrated - 1 / (1 + np.exp(-log_odds))) <= 2 * rounding).all()
        # fitted on the validation split, which neither checker trained on
        folder = tmp_path / "checkers" / role
        validation = Dataset.from_list(read_records(data_root_env / "toy" / "validation.jsonl"))
        logits = class_logits(AutoModelForSequenceClassification.from_pretrained(folder), ModelSource(str(folder)),
                              validation, ["text"], 32)
        assert temperature == pytest.approx(fit_temperature(logits, np.array(validation["label"])), rel=1e-4)


@pytest.mark.parametrize("changes, message", [
    ({"real_set_in_training": True, "real_set_weight": None}, "real_set_weight: null"),
    ({"init_from_quality_checker": True, "quality_checker_folds": 3}, "init_from_quality_checker: needs one"),
    ({"quality_checker_warm_start": True, "diversity_checker_model": None,
      "problem_type": "single_label_classification_dimp"}, "diversity_checker_model: quality_checker_warm_start"),
])
def test_options_that_cannot_work_together_are_refused_before_reading_data(tiny_config, tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        _config(tiny_config, tmp_path, train_file="toy/missing.jsonl", **changes)


def test_calibration_without_a_validation_split_at_run_time_stops_before_any_checker_is_built(tiny_config, tmp_path):
    """The config promised one (a share of the real set), but the real set was too small to hold any out."""
    real = write_jsonl(tmp_path / "two.jsonl", toy_records(2, seed=9))
    config = {k: v for k, v in tiny_config.items() if k != "validation_file"}
    cfg = _config(config, tmp_path, problem_type="single_label_classification_dimp", checker_calibration="temperature",
                  quality_checker_train_file=str(real), eval_strategy="no")
    with pytest.raises(ConfigError, match=r"^checker_calibration: temperature scaling needs a validation split"):
        run(cfg)
    assert not (tmp_path / "checkers").exists()  # no checker built for nothing
