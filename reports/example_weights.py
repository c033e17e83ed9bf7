"""The per-example table behind weights.csv: texts, labels, checker probabilities and weights."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from checkers.filtering import static_weights
from checkers.scoring import at_gold
from data.store import column_array, release_mapped_pages
from data.task import real_examples
from trainer.atomic import open_atomic
from trainer.weight_history import Seen


CSV_CHUNK_ROWS = 10_000  # weights.csv is written this many rows at a time
LOSS_NAMES = {"ce": "CE", "focal": "Focal", "imp": "IMP", "dimp": "DIMP", "quality_only": "DIMP without diversity checker"}


def loss_name(kind: str) -> str:
    return LOSS_NAMES.get(kind, kind or "the loss")


class Ranking(NamedTuple):
    """The weight the report sorts examples by."""

    column: str  # its weights.csv column
    name: str  # short, for table headers and axes
    meaning: str  # a sentence for the reader
    values: np.ndarray  # NaN where an example has none (not seen in that epoch)


@dataclass
class ExampleWeights:
    """One entry per training example, in training-set order (filtered-out examples included)."""

    texts: dict[str, Sequence[str]]  # text column -> texts (a list, or a Dataset column read when needed)
    labels: np.ndarray
    label_names: list[str]
    noise: Sequence[str] | None = None  # injected-noise tag, where the data has one
    quality: np.ndarray | None = None  # P'(y|x)
    quality_label: np.ndarray | None = None  # the label the quality checker finds most likely
    diversity: np.ndarray | None = None  # Q(y|x)
    static: np.ndarray | None = None  # P'/Q, or P' without a diversity checker; NaN where a fixed weight replaced it
    kept: np.ndarray | None = None  # False for examples filtering dropped
    model_prob: dict[int, np.ndarray] = field(default_factory=dict)  # epoch -> P(y|x; θ) the loss used
    weight: dict[int, np.ndarray] = field(default_factory=dict)  # epoch -> the loss weight used
    loss: str = ""  # the loss kind's value, for the report's wording
    real: np.ndarray | None = None  # True for the real examples joined to the training data (real_set_in_training)
    real_weight: float | None = None  # their fixed loss weight; None where the loss weighs them as the others

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def epochs(self) -> list[int]:
        return sorted(self.weight)

    def noise_kinds(self) -> list[str]:
        """The noise tags present, `original` first."""
        return sorted(set(self.noise if self.noise is not None else ()), key=lambda tag: (tag != "original", tag))

    @property
    def fixed(self) -> int:
        """How many real examples joined to the training data train at a fixed weight, weighed by no checker nor
        by the loss."""
        return int(self.real.sum()) if self.real is not None and self.real_weight is not None else 0

    def without_fixed(self, values: np.ndarray) -> np.ndarray:
        """`values`, NaN for the real examples at a fixed weight: what describes the weights the method gave."""
        return np.where(self.real, np.nan, values) if self.fixed else values

    def with_history(self, epochs: dict[int, Seen]) -> "ExampleWeights":
        """Add the per-epoch values the loss used; examples not seen in an epoch get NaN."""
        for epoch, seen in epochs.items():
            prob, weight = np.full(len(self), np.nan), np.full(len(self), np.nan)
            prob[seen.index], weight[seen.index] = seen.model_prob, seen.weight
            self.model_prob[epoch], self.weight[epoch] = prob, weight
        return self

    def ranking(self) -> Ranking | None:
        distrust = ("A low weight means the example counts little in training: the checker trained on real data finds "
                    "its label unlikely for its text, often a wrong label or a text unlike the task's")
        unranked = (f". The {self.fixed} real examples joined to the training data (noise `real`) train at the "
                    f"fixed weight {self.real_weight:g} and are not ranked" if self.fixed else "")
        if self.static is not None:
            if self.diversity is not None:
                return Ranking("static_weight", "P′/Q", "the quality checker's probability of the label divided by "
                               f"the diversity checker's (IMP's weight). {distrust}; or, where Q is high, an example so "
                               f"typical of the generated data that it adds little{unranked}", self.static)
            return Ranking("static_weight", "P′", "the quality checker's probability of the label (the weight "
                           f"without a diversity checker). {distrust}{unranked}", self.static)
        if self.epochs:
            last = self.epochs[-1]
            return Ranking(f"weight_epoch{last}", f"weight, epoch {last}",
                           f"the weight {loss_name(self.loss)} gave each example in epoch {last}. A low weight means "
                           "the model already fitted the example; the highest-weighted are those it fitted worst, "
                           f"hard or mislabelled ones{unranked}", self.without_fixed(self.weight[last]))
        return None

    def columns(self, rows: slice = slice(None)) -> dict[str, list]:
        """weights.csv's columns in order, for `rows` of the examples; None where a value is missing."""
        columns: dict[str, list] = {"index": list(range(len(self))[rows])}
        columns.update({name: list(texts[rows]) for name, texts in self.texts.items()})
        labels = self.labels[rows]
        columns["label"] = labels.tolist()
        columns["label_name"] = [self.label_names[y] for y in labels]
        if self.noise is not None:
            columns["noise"] = list(self.noise[rows])
        if self.quality_label is not None:
            columns["quality_label"] = [self.label_names[y] for y in self.quality_label[rows]]
        for name, values in (("quality_prob", self.quality), ("diversity_prob", self.diversity),
                             ("static_weight", self.static)):
            if values is not None:
                columns[name] = _floats(values[rows])
        if self.kept is not None:
            columns["kept"] = self.kept[rows].tolist()
        for epoch in self.epochs:
            columns[f"model_prob_epoch{epoch}"] = _floats(self.model_prob[epoch][rows])
            columns[f"weight_epoch{epoch}"] = _floats(self.weight[epoch][rows])
        return columns


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in np.asarray(values, dtype=np.float64).tolist()]


def from_training_set(train, text_columns: list[str], label_names: list[str], probabilities: dict[str, np.ndarray],
                      epsilon: float, loss: str = "", real_weight: float | None = None) -> ExampleWeights:
    """The table for a training set (a `datasets.Dataset`) and each checker's class probabilities [N, C].
    `real_weight`: the fixed weight of the real examples joined to it, which then have no static weight."""
    labels = column_array(train, "label")
    gold = {role: at_gold(probs, labels).astype(np.float64) for role, probs in probabilities.items()}
    quality, diversity = gold.get("quality"), gold.get("diversity")
    real = real_examples(train)
    static = static_weights(quality, diversity, epsilon) if quality is not None else None
    if static is not None and real_weight is not None:
        static = np.where(real, np.nan, static)
    return ExampleWeights(
        texts={name: train[name] for name in text_columns},  # read from Arrow when needed
        labels=labels,
        label_names=list(label_names),
        noise=column_array(train, "noise") if "noise" in train.column_names else None,
        quality=quality,
        quality_label=probabilities["quality"].argmax(axis=1) if "quality" in probabilities else None,
        diversity=diversity,
        static=static,
        loss=loss,
        real=real,
        real_weight=real_weight,
    )


def write_csv(path: Path, weights: ExampleWeights) -> None:
    """Floats with 6 significant digits; an empty cell where a value is missing. Replaced atomically."""
    with open_atomic(path, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")  # Unix lines, as predict.py's output
        for start in range(0, max(len(weights), 1), CSV_CHUNK_ROWS):
            columns = weights.columns(slice(start, start + CSV_CHUNK_ROWS))
            if start == 0:
                writer.writerow(columns)
            for row in zip(*columns.values()):
                writer.writerow(["" if v is None else f"{v:.6g}" if isinstance(v, float) else v for v in row])
            release_mapped_pages()  # the texts are read from the Arrow file: one pass over it, not kept resident
