"""Per-example loss weights and the weighted negative log-likelihood.

Notation, per training example i with gold label y_i:
  P(y|x; theta)  the model being trained,
  P'(y|x)        the quality checker (CE on the small real set),
  Q(y|x)         the diversity checker (CE on the synthetic set).

  CE     w = 1
  Focal  w = (1 - P(y|x; theta)) ** gamma
  IMP    w = P'(y|x) / Q(y|x)
  DIMP   w = P'(y|x) / P(y|x; theta)
  DIMP without diversity checker: w = P'(y|x)

With label smoothing eps (the Trainer's `label_smoothing_factor`), -log P(y|x) becomes
(1 - eps) * -log P(y|x) + eps * mean_k(-log P(k|x)), as in transformers' LabelSmoother; the weights are unchanged.
"""

from __future__ import annotations

import enum

import torch
import torch.nn.functional as F

# Probabilities are clamped to at least this before dividing, so a checker (or the model)
# that gives an example probability 0 yields a large but finite weight, never inf/NaN.
DEFAULT_EPSILON = 1e-6


class LossKind(str, enum.Enum):
    CE = "ce"
    FOCAL = "focal"
    IMP = "imp"
    DIMP = "dimp"
    QUALITY_ONLY = "quality_only"


# `problem_type` values accepted in configs, including the authors' historical names.
PROBLEM_TYPES: dict[str, LossKind] = {
    "single_label_classification": LossKind.CE,
    "single_label_classification_focalloss": LossKind.FOCAL,
    "single_label_classification_imp": LossKind.IMP,
    "single_label_classification_myloss_importance": LossKind.IMP,
    "single_label_classification_dimp": LossKind.DIMP,
    "single_label_classification_myloss_v2": LossKind.DIMP,
    "single_label_classification_quality_only": LossKind.QUALITY_ONLY,
}
LOSS_KINDS = tuple(LossKind)


def loss_kind(problem_type: str) -> LossKind:
    try:
        return PROBLEM_TYPES[problem_type]
    except KeyError:
        valid = ", ".join(sorted(PROBLEM_TYPES))
        raise ValueError(f"problem_type: unknown value {problem_type!r}; expected one of: {valid}") from None


def as_loss_kind(kind: LossKind | str) -> LossKind:
    """`kind` as a LossKind: itself, its value ("dimp") or a config's problem_type
    ("single_label_classification_dimp"), so that code calling the losses may use either vocabulary."""
    if kind in PROBLEM_TYPES:
        return PROBLEM_TYPES[kind]
    try:
        return LossKind(kind)
    except ValueError:
        raise ValueError(f"unknown loss {kind!r}; expected one of {', '.join(k.value for k in LossKind)}, or a "
                         f"problem_type: {', '.join(sorted(PROBLEM_TYPES))}") from None


def gold_probabilities(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """P(y_i | x_i) for each row of ``logits`` (shape [N, C]) at its gold label."""
    return logits.softmax(dim=-1).gather(1, labels.view(-1, 1)).squeeze(1)


def _safe(prob: torch.Tensor, epsilon: float) -> torch.Tensor:
    return prob.detach().clamp(min=epsilon)


def focal_weights(model_prob: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Focal: (1 - P(y|x; theta)) ** gamma."""
    return (1.0 - model_prob.detach()).clamp(min=0.0) ** gamma


def imp_weights(quality_prob: torch.Tensor, diversity_prob: torch.Tensor, epsilon: float = DEFAULT_EPSILON) -> torch.Tensor:
    """IMP: P'(y|x) / Q(y|x), Q clamped to at least `epsilon`."""
    return quality_prob.detach() / _safe(diversity_prob, epsilon)


def dimp_weights(quality_prob: torch.Tensor, model_prob: torch.Tensor, epsilon: float = DEFAULT_EPSILON) -> torch.Tensor:
    """DIMP: P'(y|x) / P(y|x; theta), the model's probability clamped to at least `epsilon`."""
    return quality_prob.detach() / _safe(model_prob, epsilon)


def example_weights(
    kind: LossKind | str,
    logits: torch.Tensor,
    labels: torch.Tensor,
    quality_prob: torch.Tensor | None = None,
    diversity_prob: torch.Tensor | None = None,
    gamma: float = 1.0,
    epsilon: float = DEFAULT_EPSILON,
) -> torch.Tensor | None:
    """The detached weight of every example, or None for plain CE. `gamma` and `epsilon` are the config's
    `focal_gamma` and `weight_epsilon`."""
    kind = as_loss_kind(kind)
    if kind is LossKind.CE:
        return None
    if kind is not LossKind.FOCAL and quality_prob is None:
        raise ValueError(f"{kind.value} loss needs the quality checker's probabilities (quality_prob)")
    if kind is LossKind.IMP and diversity_prob is None:
        raise ValueError("imp loss needs the diversity checker's probabilities (diversity_prob)")
    if kind is LossKind.QUALITY_ONLY:
        return quality_prob.detach()
    if kind is LossKind.IMP:
        return imp_weights(quality_prob, diversity_prob, epsilon)
    model_prob = gold_probabilities(logits.detach(), labels)
    if kind is LossKind.FOCAL:
        return focal_weights(model_prob, gamma)
    return dimp_weights(quality_prob, model_prob, epsilon)


def with_fixed_weight(weights: torch.Tensor | None, mask: torch.Tensor, value: float) -> torch.Tensor | None:
    """`weights` (None: all 1) with `value` wherever `mask` is true, as the real examples' own weight policy."""
    if weights is None:
        if value == 1.0:
            return None
        weights = torch.ones(mask.shape, dtype=torch.float32, device=mask.device)
    return torch.where(mask.bool(), torch.full_like(weights, value), weights)


def weighted_nll_sum(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None,
                     label_smoothing: float = 0.0) -> torch.Tensor:
    """sum_i(-w_i * log P(y_i|x_i)), label-smoothed by `label_smoothing`; the caller divides by the number of
    examples."""
    nll = F.cross_entropy(logits.float(), labels, reduction="none", label_smoothing=label_smoothing)
    if weights is not None:
        nll = nll * weights.to(nll.dtype)
    return nll.sum()


def weighted_nll(
    kind: LossKind | str,
    logits: torch.Tensor,
    labels: torch.Tensor,
    quality_prob: torch.Tensor | None = None,
    diversity_prob: torch.Tensor | None = None,
    gamma: float = 1.0,
    epsilon: float = DEFAULT_EPSILON,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """mean_i(-w_i * log P(y_i|x_i)) over the batch (no division by sum(w)): the Trainer's training loss, with
    `label_smoothing` its `label_smoothing_factor`."""
    weights = example_weights(kind, logits, labels, quality_prob, diversity_prob, gamma, epsilon)
    return weighted_nll_sum(logits, labels, weights, label_smoothing) / labels.numel()
