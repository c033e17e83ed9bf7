"""A classification task: its splits as `datasets.Dataset`s, its label names and its text columns."""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset

from config.json_strict import is_unicode
from data.files import DataError, read_label_names, read_records

logger = logging.getLogger(__name__)

LABEL = "label"
# 1 for an example of the real set joined to the training data (real_set_in_training), else 0.
REAL_EXAMPLE = "real_example"
# Columns that describe an example rather than hold its text; never picked as text columns.
METADATA_COLUMNS = ("noise", "idx", "id")


@dataclass
class SplitSource:
    """Raw records of one split and where they came from (for error messages)."""

    name: str
    records: list[dict]
    origin: str
    label_names: list[str] | None = None
    first_line: int = 1  # line number of records[0] in the file (2 for csv/tsv, after the header)


@dataclass
class TaskData:
    splits: dict[str, Dataset]
    label_names: list[str]
    text_columns: list[str]
    origins: dict[str, str] = field(default_factory=dict)
    validation_split: dict | None = None  # how the validation split was held out of the real set, when it was

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def split_from_file(name: str, path: Path) -> SplitSource:
    header_lines = 1 if path.suffix.lower() in (".csv", ".tsv") else 0
    return SplitSource(name, read_records(path), str(path), read_label_names(path), first_line=1 + header_lines)


def default_text_columns(source: SplitSource, label_column: str) -> list[str]:
    columns = [c for c in source.records[0] if c != label_column and c not in METADATA_COLUMNS]
    if not columns:
        raise DataError(f"{source.origin}: no text column (the records hold only {list(source.records[0])})")
    return columns[:2]


def _label_space(sources: list[SplitSource], label_column: str) -> tuple[list[str], dict]:
    """Label names, and a map from raw label values (ids or names) to ids."""
    named = next((s for s in sources if s.label_names), None)
    if named is not None:
        names = named.label_names
        for other in sources:
            if other.label_names and other.label_names != names:
                if len(other.label_names) != len(names):
                    raise DataError(f"{other.origin}: its labels.json has {len(other.label_names)} labels "
                                    f"{other.label_names}, but {named.origin} has {len(names)} {names}")
                logger.warning("Label names differ: %s has %s, %s has %s; matching them by id.",
                               named.origin, names, other.origin, other.label_names)
        to_id = {i: i for i in range(len(names))} | {str(i): i for i in range(len(names))}
        to_id |= {n: i for i, n in enumerate(names)}
        return names, to_id
    values = set()
    for source in sources:
        for offset, record in enumerate(source.records):
            value = record.get(label_column)
            if isinstance(value, (list, dict)) or (isinstance(value, float) and not math.isfinite(value)):
                raise DataError(f"{source.origin}: line {source.first_line + offset}: label {value!r} is not a label; "
                                "expected an id or a name")
            if value is not None:
                values.add(value)
    as_ints = {_as_int(v) for v in values}
    if None not in as_ints:
        ordered = sorted(as_ints)
        to_id = {}
        for v in values:
            to_id[v] = ordered.index(_as_int(v))
        return [str(v) for v in ordered], to_id
    ordered = sorted(str(v) for v in values)
    return ordered, {v: ordered.index(str(v)) for v in values}


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _to_dataset(source: SplitSource, text_columns: list[str], label_column: str, names: list[str], to_id: dict) -> Dataset:
    columns: dict[str, list] = {c: [] for c in text_columns}
    labels, noise = [], []
    for offset, record in enumerate(source.records):
        where = f"{source.origin}: line {source.first_line + offset}"
        for column in text_columns:
            if column not in record:
                raise DataError(f"{where}: missing text column {column!r} (record has {sorted(record)})")
            text = record[column]
            if not isinstance(text, str):
                raise DataError(f"{where}: column {column!r} holds {type(text).__name__} {text!r}; expected text")
            if not text.strip():
                raise DataError(f"{where}: column {column!r} is empty; expected non-empty text")
            if not is_unicode(text):
                raise DataError(f"{where}: column {column!r} holds an unpaired surrogate, which is not text")
            columns[column].append(text)
        if label_column not in record or record[label_column] in (None, ""):
            raise DataError(f"{where}: missing label column {label_column!r}")
        raw = record[label_column]
        key = raw if not isinstance(raw, float) else _as_int(raw)
        try:
            label = to_id[key]
        except (KeyError, TypeError):
            raise DataError(f"{where}: label {raw!r} is not in the label set {names}") from None
        labels.append(label)
        noise.append(str(record.get("noise", "original")))
    columns[LABEL] = labels
    if any("noise" in record for record in source.records):
        columns["noise"] = noise
    return Dataset.from_dict(columns)


def build_task(sources: list[SplitSource], text_columns: list[str] | None, label_column: str = LABEL) -> TaskData:
    if not sources:
        raise DataError("no data: set train_file (and validation_file / test_file), dataset_name or wandb_dataset")
    train = sources[0]
    columns = text_columns or default_text_columns(train, label_column)
    names, to_id = _label_space(sources, label_column)
    if not all(is_unicode(name) for name in names):
        raise DataError(f"{train.origin}: a label name holds an unpaired surrogate, which is not text: {names}")
    if len(names) < 2:
        raise DataError(f"{train.origin}: every example has the label {names[0] if names else None!r}; a classifier "
                        "needs at least two labels (give a labels.json beside the data to name them all)")
    splits = {s.name: _to_dataset(s, columns, label_column, names, to_id) for s in sources}
    logger.info("Task: %d labels %s, text columns %s, splits %s", len(names), names, columns,
                {k: len(v) for k, v in splits.items()})
    return TaskData(splits, names, columns, {s.name: s.origin for s in sources})


def subsample(dataset: Dataset, limit: int | None, seed: int | None = None) -> Dataset:
    """At most `limit` examples: a seeded random subset when `seed` is given, else the first ones."""
    if limit is None or limit >= len(dataset):
        return dataset
    if seed is None:
        return dataset.select(range(limit))
    indices = sorted(random.Random(seed).sample(range(len(dataset)), limit))
    return dataset.select(indices)


def join_real_set(train: Dataset, real: Dataset) -> Dataset:
    """The training data followed by the real set, each example marked in REAL_EXAMPLE and tagged in `noise`
    (`real` for the real set, the training data keeping its own tags or `original`)."""
    from datasets import concatenate_datasets

    def tagged(dataset: Dataset, is_real: bool) -> Dataset:
        dataset = dataset.select_columns([c for c in train.column_names if c != "noise"])
        tags = ["real"] * len(dataset) if is_real else list(train["noise"]) if "noise" in train.column_names \
            else ["original"] * len(dataset)
        return dataset.add_column("noise", tags).add_column(REAL_EXAMPLE, [int(is_real)] * len(dataset))

    return concatenate_datasets([tagged(train, False), tagged(real, True)])


def generated_part(train: Dataset) -> Dataset:
    """The training data without the real set joined to it."""
    if REAL_EXAMPLE not in train.column_names:
        return train
    return train.select([i for i, real in enumerate(train[REAL_EXAMPLE]) if not real])
