"""The checkers' static weight of each example, and keeping only the examples they trust (as SunGen does).

The static weight is IMP's P'(y|x) / Q(y|x) when there is a diversity checker, else P'(y|x) (the quality-only
weight): it is computed once, before training, and is the same whatever loss then trains on the kept examples.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from losses.weighting import imp_weights


def static_weights(quality: np.ndarray, diversity: np.ndarray | None, epsilon: float) -> np.ndarray:
    """P'/Q (Q clamped to at least epsilon, as the IMP loss does), or P' without a diversity checker."""
    if diversity is None:
        return np.asarray(quality, dtype=np.float64)
    weights = imp_weights(torch.as_tensor(quality, dtype=torch.float64),
                          torch.as_tensor(diversity, dtype=torch.float64), epsilon)
    return weights.numpy()


def keep_mask(weights: np.ndarray, min_weight: float | None, keep_top_fraction: float | None,
              trusted: np.ndarray | None = None) -> np.ndarray:
    """True for the examples to train on: weight at least `min_weight`, and among the `keep_top_fraction`
    highest-weighted (ties broken by position, so the count is exact). `trusted` examples (the real set joined to
    the training data) are always kept, and the fraction counts only the others."""
    trusted = np.zeros(len(weights), dtype=bool) if trusted is None else np.asarray(trusted, dtype=bool)
    weighed = weights[~trusted]
    keep = np.ones(len(weighed), dtype=bool)
    if min_weight is not None:
        keep &= weighed >= min_weight
    if keep_top_fraction is not None:
        count = max(1, math.ceil(keep_top_fraction * len(weighed) - 1e-9))  # 0.07 * 100 is 7.000000000000001
        top = np.zeros(len(weighed), dtype=bool)
        top[np.argsort(-weighed, kind="stable")[:count]] = True
        keep &= top
    kept = trusted.copy()
    kept[~trusted] = keep
    return kept
