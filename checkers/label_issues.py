"""The peer baseline: cleanlab's `find_label_issues` on the quality checker's probabilities, to drop suspect labels."""

from __future__ import annotations

import numpy as np


def label_issue_mask(labels: np.ndarray, class_probs: np.ndarray) -> np.ndarray:
    """True for each example cleanlab flags as probably mislabelled (confident learning, default settings)."""
    from cleanlab.filter import find_label_issues

    return find_label_issues(labels=labels, pred_probs=class_probs)
