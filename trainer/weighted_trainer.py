"""A Trainer whose `compute_loss` applies the per-example weights of CE, Focal, IMP or DIMP."""

from __future__ import annotations

import torch
from transformers import Trainer

from losses.weighting import example_weights, weighted_nll_sum

# Per-example checker probabilities, computed once before training and carried as dataset columns.
QUALITY_PROB = "quality_prob"
DIVERSITY_PROB = "diversity_prob"
WEIGHT_COLUMNS = (QUALITY_PROB, DIVERSITY_PROB)


class WeightedTrainer(Trainer):
    # compute_loss already divides by the examples of the whole accumulated batch.
    loss_is_scaled_for_ga = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._weight_sum = 0.0
        self._weight_count = 0

    def _set_signature_columns_if_needed(self):
        # remove_unused_columns keeps only what model.forward accepts; the weight columns must survive it.
        super()._set_signature_columns_if_needed()
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *WEIGHT_COLUMNS]))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        quality = inputs.pop(QUALITY_PROB, None)
        diversity = inputs.pop(DIVERSITY_PROB, None)
        outputs = model(**inputs)
        logits = outputs.logits
        if model.training:
            weights = example_weights(
                self.args.loss_kind, logits, labels, quality, diversity, self.args.focal_gamma, self.args.weight_epsilon
            )
            loss = self._scale(weighted_nll_sum(logits, labels, weights), labels.numel(), num_items_in_batch)
            if weights is not None:
                self._weight_sum += float(weights.sum())
                self._weight_count += weights.numel()
        else:
            # Evaluation reports plain cross-entropy, comparable across losses.
            loss = weighted_nll_sum(logits, labels, None) / labels.numel()
        return (loss, outputs) if return_outputs else loss

    def _scale(self, total: torch.Tensor, batch_size: int, num_items_in_batch) -> torch.Tensor:
        """Turn a sum over this micro-batch into its share of the mean over the optimizer step's batch."""
        if num_items_in_batch is None:
            return total / batch_size / self.current_gradient_accumulation_steps
        loss = total / num_items_in_batch
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            # num_items_in_batch was summed over processes, and DDP averages gradients over them.
            loss = loss * self.accelerator.num_processes
        return loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._weight_count:
            logs["train_weight_mean"] = round(self._weight_sum / self._weight_count, 4)
            self._weight_sum, self._weight_count = 0.0, 0
        super().log(logs, *args, **kwargs)
