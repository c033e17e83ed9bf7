"""The benchmark's authors'-style trainer (inputs padded to max_length, checkers forwarded on every batch) computes
the same loss as the project's WeightedTrainer with precomputed checker columns, so comparing their speed is fair."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from benchmarks.seed_style import make_seed_style_trainer
from checkers.scoring import at_gold, class_probabilities
from conftest import toy_records
from references.models import ModelSource
from config.arguments import WeightedTrainingArguments
from trainer.fitting import make_trainer
from trainer.modeling import encode
from trainer.weighted_trainer import DIVERSITY_PROB, QUALITY_PROB

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
MAX_LENGTH = 32


def _checker(model_dir, seed: int, scale: float = 10.0):
    """The tiny model with another, sharper head: a checker far from the trained model's P(y|x) ~ 0.5.
    A negative scale gives the opposite checker (two labels: P becomes 1 - P). With dropout, which each way of
    scoring must turn off."""
    checker = AutoModelForSequenceClassification.from_pretrained(model_dir, hidden_dropout_prob=0.5)
    torch.manual_seed(seed)
    checker.classifier.reset_parameters()
    checker.classifier.weight.data.mul_(scale)
    checker.classifier.bias.data.mul_(scale)
    return checker.eval()


def _first_batch(trainer) -> dict:
    return next(iter(trainer.get_train_dataloader()))


def _losses(model_dir, tmp_path, problem_type: str, quality_checker) -> tuple[float, float, list[float]]:
    """The first batch's loss under the project's WeightedTrainer (checker probabilities precomputed) and under the
    authors'-style trainer (checkers forwarded), with the quality checker's P′(gold) of the batch."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    checkers = {QUALITY_PROB: quality_checker}
    if problem_type.endswith("imp") and not problem_type.endswith("dimp"):
        checkers[DIVERSITY_PROB] = _checker(model_dir, 2)
    data = Dataset.from_list(toy_records(8, seed=7))
    for column, checker in checkers.items():  # the project's precompute
        probs = at_gold(class_probabilities(checker, ModelSource(str(model_dir)), data, ["text"], MAX_LENGTH),
                        data["label"])
        data = data.add_column(column, [float(p) for p in probs])
    args = WeightedTrainingArguments(output_dir=str(tmp_path), problem_type=problem_type, per_device_train_batch_size=8,
                                     train_sampling_strategy="sequential", eval_strategy="no", save_strategy="no",
                                     load_best_model_at_end=False, report_to="none", use_cpu=True)

    project = make_trainer(model, tokenizer, args, encode(data, tokenizer, ["text"], MAX_LENGTH,
                                                          keep_columns=("label", *checkers)), None)
    for checker in checkers.values():
        checker.train()  # handed over as from training: the seed style must freeze its checkers itself
    padded = encode(data, tokenizer, ["text"], MAX_LENGTH, pad_to_max_length=True)
    seed_style = make_seed_style_trainer(model, tokenizer, args, padded, *checkers.values())
    project_batch, seed_batch = _first_batch(project), _first_batch(seed_style)
    assert seed_batch["input_ids"].shape[1] == MAX_LENGTH > project_batch["input_ids"].shape[1]
    assert set(checkers).isdisjoint(seed_batch)  # the seed style gets its probabilities by forwarding the checkers

    model.train()
    expected = project.compute_loss(model, dict(project_batch), num_items_in_batch=8).item()
    actual = seed_style.compute_loss(model, dict(seed_batch), num_items_in_batch=8).item()
    return expected, actual, list(data[QUALITY_PROB])


@pytest.mark.parametrize("problem_type", ["single_label_classification_dimp", "single_label_classification_imp"])
def test_seed_style_loss_equals_the_weighted_trainer_loss(tiny_model_dir, tmp_path, problem_type):
    expected, actual, quality = _losses(tiny_model_dir, tmp_path, problem_type, _checker(tiny_model_dir, 1, 100.0))
    assert actual == pytest.approx(expected, rel=1e-5)
    # ... and it follows the checker: with the opposite one (P′ becomes 1 - P′) it is the project's loss under that
    # one's weights. (The two losses themselves need not differ much: they come close wherever P′ is near 0.5.)
    expected, actual, opposite = _losses(tiny_model_dir, tmp_path, problem_type, _checker(tiny_model_dir, 1, -100.0))
    assert actual == pytest.approx(expected, rel=1e-5)
    assert opposite == pytest.approx([1 - p for p in quality], abs=1e-5) and max(abs(p - 0.5) for p in quality) > 0.05
