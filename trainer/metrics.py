"""Accuracy and macro-F1, computed with scikit-learn (the `evaluate` package needs the hub for its metrics), and the
majority-class baseline they are judged against."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from transformers import EvalPrediction

from data.files import SHOWN_LABELS

logger = logging.getLogger(__name__)
CLASS_METRICS = ("precision", "recall", "f1", "examples")


def predicted_ids(predictions) -> np.ndarray:
    """The label ids a classifier's logits (or the first of its outputs) predict."""
    logits = predictions[0] if isinstance(predictions, tuple) else predictions
    return np.argmax(logits, axis=-1)


def scores(labels, predicted) -> dict[str, float]:
    """Accuracy and macro-F1 of the `predicted` label ids against the gold `labels`."""
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1": float(f1_score(labels, predicted, average="macro")),
    }


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    return scores(prediction.label_ids, predicted_ids(prediction.predictions))


def class_metrics(predicted, labels, names: list[str], prefix: str) -> dict[str, float]:
    """Each class's precision, recall, F1 and number of examples on one split, as `<prefix>_recall_<name>`: where
    one class dominates, accuracy and macro-F1 alone do not say which class the model misses. A class the split has
    no example of has no recall (undefined, not 0); one the model does not predict either, no precision or F1: the
    classes macro-F1 averages over are those that have them."""
    columns = precision_recall_fscore_support(labels, predicted, labels=list(range(len(names))), zero_division=0)
    examples, answered = columns[-1], np.bincount(np.asarray(predicted, dtype=np.int64), minlength=len(names))
    defined = {"recall": examples > 0, "precision": (examples > 0) | (answered > 0)}
    defined["f1"] = defined["precision"]
    return {f"{prefix}_{metric}_{name}": float(values[i]) if metric != "examples" else int(values[i])
            for metric, values in zip(CLASS_METRICS, columns) for i, name in enumerate(names)
            if metric == "examples" or defined[metric][i]}


def printable(metrics: dict[str, float], names: list[str]) -> dict[str, float]:
    """`metrics` as the console shows them: without the per-class ones of a task of more than SHOWN_LABELS labels,
    which would print hundreds of lines (150 intents: 600 per evaluation); they are saved, and sent to W&B's
    summary."""
    if len(names) <= SHOWN_LABELS:
        return metrics
    names = set(names)
    return {key: value for key, value in metrics.items()
            if not any(f"_{metric}_" in key and key.split(f"_{metric}_", 1)[1] in names for metric in CLASS_METRICS)}


def majority_accuracy(labels) -> float:
    """What always answering the most common class scores on `labels` (label ids)."""
    return float(np.bincount(labels).max() / len(labels))


def warn_if_near_majority(what: str, accuracy: float | None, majority: float, advice: str) -> None:
    # A classifier that barely beats always answering the most common class has learnt the class shares, little else.
    if accuracy is not None and accuracy < majority + 0.01:
        relation = "below" if accuracy < majority else "level with" if accuracy == majority else "within a point of"
        logger.warning("%s's validation accuracy %.3f is %s always answering the most common class (%.3f): %s",
                       what, accuracy, relation, majority, advice)
