"""Loss weighting for learning from LLM-generated data (Kuo et al., ICLR 2025).

Every loss here is ``mean_i(-w_i * log P(y_i | x_i; theta))`` with the weights ``w``
detached, matching the authors' code. The functions take tensors only, so they can be
tested without a model.
"""

from losses.weighting import (
    LOSS_KINDS,
    PROBLEM_TYPES,
    LossKind,
    as_loss_kind,
    dimp_weights,
    example_weights,
    focal_weights,
    gold_probabilities,
    imp_weights,
    loss_kind,
    weighted_nll,
    weighted_nll_sum,
    with_fixed_weight,
)

__all__ = [
    "LOSS_KINDS",
    "PROBLEM_TYPES",
    "LossKind",
    "as_loss_kind",
    "dimp_weights",
    "example_weights",
    "focal_weights",
    "gold_probabilities",
    "imp_weights",
    "loss_kind",
    "weighted_nll",
    "weighted_nll_sum",
    "with_fixed_weight",
]
