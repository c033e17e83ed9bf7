"""Injecting the poster's three kinds of noise into a clean training set, each example tagged with what it is.

Tags: `original`, `duplicate` (a copy of an original example), `swap` (an original example given another label),
`unrelated` (text from another benchmark, with a random label). Ratios are fractions of the clean set's size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from datasets import Dataset

from data.files import DataError
from data.task import LABEL, may_hold_text

NOISE_KINDS = ("original", "duplicate", "swap", "unrelated")


@dataclass(frozen=True)
class NoiseSpec:
    duplicate_ratio: float = 0.0
    swap_ratio: float = 0.0
    unrelated_ratio: float = 0.0
    seed: int = 0

    @property
    def active(self) -> bool:
        return any((self.duplicate_ratio, self.swap_ratio, self.unrelated_ratio))


def unrelated_texts(records: list[dict], origin: str, label_column: str = LABEL) -> list[str]:
    """The first text field of each record of another benchmark: not its label (under the run's label column name
    or `label`), an id, a noise tag or a row index pandas wrote."""
    texts = [next((v for k, v in r.items() if k != LABEL and may_hold_text(k, label_column)
                   and isinstance(v, str) and v.strip()), None) for r in records]
    texts = [t for t in texts if t]
    if not texts:
        raise DataError(f"noise_unrelated_file: {origin} has no text to draw unrelated examples from")
    return texts


def inject_noise(clean: Dataset, text_columns: list[str], num_labels: int, spec: NoiseSpec,
                 unrelated: list[str] | None = None) -> Dataset:
    rng = random.Random(spec.seed)
    n = len(clean)
    rows = clean.to_list()
    for row in rows:  # the data's own tags (the generating model, say) stay on the examples no noise touches
        row["noise"] = row.get("noise") or "original"
    # Duplicates are copies of clean examples, taken before any label is swapped.
    duplicates = [{**rows[i], "noise": "duplicate"} for i in rng.choices(range(n), k=round(spec.duplicate_ratio * n))]
    for i in rng.sample(range(n), round(spec.swap_ratio * n)):
        rows[i]["label"] = rng.choice([k for k in range(num_labels) if k != rows[i]["label"]])
        rows[i]["noise"] = "swap"
    extra = []
    count = round(spec.unrelated_ratio * n)
    if count:
        if not unrelated:
            raise DataError("noise_unrelated_ratio: > 0 needs noise_unrelated_file (another benchmark's data)")
        for _ in range(count):
            row = {c: rng.choice(unrelated) for c in text_columns}
            extra.append({**row, "label": rng.randrange(num_labels), "noise": "unrelated"})
    combined = rows + duplicates + extra
    rng.shuffle(combined)
    return Dataset.from_list(combined)
