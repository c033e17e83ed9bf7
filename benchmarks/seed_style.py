"""The authors' way of weighting, for comparison only: every input padded to max_length, and the frozen checkers
forwarded on every training batch (their models.py keeps model2/model3 inside the model and runs them in forward).

The loss is the project's own (WeightedTrainer.compute_loss): only where the checker probabilities come from
differs, so both trainers compute the same loss values (tests/test_benchmark_seed_style.py)."""

from __future__ import annotations

import torch

from losses.weighting import gold_probabilities
from trainer.fitting import make_trainer
from trainer.weighted_trainer import DIVERSITY_PROB, QUALITY_PROB, WeightedTrainer

CHECKER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class SeedStyleTrainer(WeightedTrainer):
    """A WeightedTrainer whose checker columns are computed on the fly, batch by batch, under torch.no_grad."""

    def __init__(self, *args, quality_checker, diversity_checker=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.checkers = {QUALITY_PROB: quality_checker}
        if diversity_checker is not None:
            self.checkers[DIVERSITY_PROB] = diversity_checker
        for checker in self.checkers.values():
            # Frozen, as in the precompute: eval mode (no dropout), no gradients.
            checker.to(self.args.device).eval().requires_grad_(False)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            features = {name: inputs[name] for name in CHECKER_INPUTS if name in inputs}
            with torch.no_grad():
                for column, checker in self.checkers.items():
                    inputs[column] = gold_probabilities(checker(**features).logits.float(), inputs["labels"])
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)


def make_seed_style_trainer(model, tokenizer, args, train, quality_checker, diversity_checker=None) -> SeedStyleTrainer:
    """`train` must be encoded with pad_to_max_length=True (the authors' padding); no validation, as in the timing."""
    return make_trainer(model, tokenizer, args, train, None, pad_to_max_length=True, trainer_class=SeedStyleTrainer,
                        quality_checker=quality_checker, diversity_checker=diversity_checker)
