"""Accuracy and macro-F1, computed with scikit-learn (the `evaluate` package needs the hub for its metrics)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from transformers import EvalPrediction


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    predicted = np.argmax(logits, axis=-1)
    labels = prediction.label_ids
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1": float(f1_score(labels, predicted, average="macro")),
    }
