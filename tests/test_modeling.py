"""Evaluation splits are reordered longest first: less padding, the same metrics."""

from __future__ import annotations

import numpy as np
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from datasets import Dataset

from conftest import toy_records
from config.arguments import WeightedTrainingArguments
from trainer.fitting import make_trainer
from trainer.modeling import encode, for_evaluation, longest_first


def varied_lengths(tokenizer, n: int = 40) -> Dataset:
    """Toy sentences of 5 to 12 words: the label's word plus i % 8 repeated filler words."""
    records = [{**r, "text": r["text"] + " the" * (i % 8)} for i, r in enumerate(toy_records(n, seed=5))]
    return encode(Dataset.from_list(records), tokenizer, ["text"], 32)


def test_longest_first_is_a_stable_permutation_by_decreasing_length(tiny_model_dir):
    encoded = varied_lengths(AutoTokenizer.from_pretrained(tiny_model_dir))
    order = longest_first(encoded)
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    assert len(set(lengths.tolist())) == 8
    assert sorted(order.tolist()) == list(range(len(encoded)))
    assert (np.diff(lengths[order]) <= 0).all()
    for length in set(lengths.tolist()):  # ties keep their original order
        tied = order[lengths[order] == length]
        assert (np.diff(tied) > 0).all()


def test_evaluating_longest_first_gives_the_same_metrics(tiny_model_dir, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    encoded = varied_lengths(tokenizer)
    args = WeightedTrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=8, report_to="none",
                                     use_cpu=True, disable_tqdm=True)
    trainer = make_trainer(model, tokenizer, args, encoded, encoded)
    as_given, sorted_ = trainer.evaluate(encoded), trainer.evaluate(for_evaluation(encoded))
    assert as_given["eval_accuracy"] == sorted_["eval_accuracy"] and as_given["eval_f1"] == sorted_["eval_f1"]
    assert np.isclose(as_given["eval_loss"], sorted_["eval_loss"], rtol=1e-5)
