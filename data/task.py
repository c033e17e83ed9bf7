"""A classification task: its splits as memory-mapped `datasets.Dataset`s, its label names and its text columns."""

from __future__ import annotations

import logging
import math
import random
import re
from array import array
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow.compute as pc
from datasets import Dataset

from config.json_strict import is_unicode
from data.files import (DataError, as_configured, iter_records, listed, other_delimiter, position_word,
                        read_label_names)
from data.store import TextColumns, column_array, remove_scratch, scratch_folder

logger = logging.getLogger(__name__)

LABEL = "label"
# 1 for an example of the real set joined to the training data (real_set_in_training), else 0.
REAL_EXAMPLE = "real_example"
# Columns that describe an example rather than hold its text; never picked as text columns.
METADATA_COLUMNS = ("noise", "idx", "id")
# The row index pandas writes unless told not to: in a csv a column with no name ("Unnamed: 0" once read back and
# saved again), in parquet "__index_level_0__".
PANDAS_INDEX = re.compile(r"(Unnamed: \d+|__index_level_\d+__)?")
# An id: ASCII digits (int() refuses "²", which str.isdigit() takes), few enough for int() to read.
_INTEGER = re.compile(r"\s*(-?\d{1,18})(?:\.0*)?\s*", re.ASCII)
_FRACTION = re.compile(r"-?\d*\.\d*[1-9]\d*", re.ASCII)  # 0.25, not 1.0 (which names the id 1)


@dataclass
class SplitSource:
    """Where one split's records come from. `records()` reads them afresh, one at a time, each with its line
    number; a split that is part of a file (split_file) is the records `rows` of `whole`, in that order."""

    name: str
    records: Callable[[], Iterator[tuple[int, dict]]]
    origin: str
    label_names: list[str] | None = None
    unit: str = "line"  # what the record numbers count, for error messages ("row" in parquet)
    whole: SplitSource | None = None
    rows: list[int] | None = None


@dataclass
class TaskData:
    splits: dict[str, Dataset]
    label_names: list[str]
    text_columns: list[str]
    origins: dict[str, str] = field(default_factory=dict)
    validation_split: dict | None = None  # how the validation split was held out of the real set, when it was
    scratch: Path | None = None  # the folder of the splits' Arrow files (and of what is computed from them)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def training_files(self) -> str:
        """Where the training data was read from, as a config names it: train_file (+ augmented_train_file)."""
        return " + ".join(as_configured(self.origins[name]) for name in ("train", "augmented_train")
                          if name in self.origins)

    def label_counts(self, split: str) -> np.ndarray:
        """How many examples of each label id the split holds."""
        return np.bincount(column_array(self.splits[split], "label"), minlength=self.num_labels)

    def close(self) -> None:
        """Remove the splits' files; the datasets must not be used afterwards."""
        if self.scratch is not None:
            remove_scratch(self.scratch)


def split_from_file(name: str, path: Path) -> SplitSource:
    return SplitSource(name, lambda: iter_records(path), str(path), read_label_names(path), position_word(path))


def _first_record(source: SplitSource) -> dict:
    wanted = source.rows[0] if source.whole is not None else 0
    with closing((source.whole or source).records()) as records:
        for offset, (_, record) in enumerate(records):
            if offset == wanted:
                return record
    raise DataError(f"{source.origin}: no records")


def may_hold_text(column: str, label_column: str) -> bool:
    """Neither the label, nor a column that describes the example (an id, a noise tag), nor a pandas row index."""
    return column != label_column and column not in METADATA_COLUMNS and not PANDAS_INDEX.fullmatch(column)


def default_text_columns(source: SplitSource, label_column: str) -> list[str]:
    """The first two columns that may hold text; a column whose first value is a number, a list or an object
    (a score, a tag list, metadata) is passed over, unless no column holds text, whose error then names them."""
    first = _first_record(source)
    columns = [c for c in first if may_hold_text(c, label_column)]
    if not columns:
        raise DataError(f"{source.origin}: no text column (the records hold only {list(first)})")
    texts = [c for c in columns if isinstance(first[c], (str, type(None)))]
    chosen = (texts or columns)[:2]
    comma = next((c for c in chosen if "," in c), None)
    # resolved_config.json and predict.py read text_column_names comma-separated. (Without the label column, the
    # header is likely read with the wrong delimiter, which reading the records explains.)
    if comma is not None and label_column in first:
        raise DataError(f"{source.origin}: the text column {comma!r} has a comma in its name, which "
                        "text_column_names cannot hold; rename the column")
    return chosen


class _Labels:
    """The raw label values met while reading, each given a code, so that the label space can be formed after one
    pass over every split. Where a labels.json names the labels, each value is checked as it is read."""

    def __init__(self, sources: list[SplitSource]):
        named = next((s for s in sources if s.label_names), None)
        self.names, self.to_id = None, None
        self.own_names: dict[str, list[str]] = {}  # by origin: a labels.json naming the same labels in another order
        if named is not None:
            self.names = named.label_names
            for other in sources:
                if other.label_names and other.label_names != self.names:
                    self._compare(named, other)
            _check_label_names(self.names, sources[0].origin)
            count = len(self.names)
            self.to_id = {i: i for i in range(count)} | {str(i): i for i in range(count)}
            self.to_id |= {n: i for i, n in enumerate(self.names)}
        self.codes: dict = {}
        self.values: list = []
        self.first_seen: list[str] = []

    def _compare(self, named: SplitSource, other: SplitSource) -> None:
        """Another file's labels.json: the same names in another order are read by name, other names by id."""
        theirs = other.label_names
        if len(theirs) != len(self.names):
            raise DataError(f"{other.origin}: its labels.json has {len(theirs)} labels [{listed(theirs)}], but "
                            f"{named.origin} has {len(self.names)} [{listed(self.names)}]")
        if sorted(theirs) == sorted(self.names):
            self.own_names[other.origin] = theirs
            logger.info("%s: its labels.json numbers the labels [%s], that of %s [%s]; its label ids are read by name.",
                        other.origin, listed(theirs), named.origin, listed(self.names))
            return
        for i, name in enumerate(theirs):
            if name in self.names and self.names.index(name) != i:
                raise DataError(f"{other.origin}: its labels.json gives {name!r} the id {i}, {named.origin}'s the id "
                                f"{self.names.index(name)}; expected the same label names in both, or the same ids")
        logger.warning("Label names differ: %s has [%s], %s has [%s]; matching them by id.",
                       named.origin, listed(self.names), other.origin, listed(theirs))

    def in_task_terms(self, raw, source: SplitSource):
        """A label as the task reads it: an id from a file whose labels.json orders the names otherwise, by name."""
        names = self.own_names.get(source.origin)
        i = _as_int(raw) if names is not None else None
        return names[i] if i is not None and 0 <= i < len(names) else raw

    def code(self, raw, where: str) -> int:
        if self.to_id is None and (isinstance(raw, (list, dict)) or (isinstance(raw, float) and not math.isfinite(raw))):
            raise DataError(f"{where}: label {raw!r} is not a label; expected an id or a name")
        try:
            code = self.codes.get(raw)
        except TypeError:  # a list or an object
            raise DataError(f"{where}: label {raw!r} is not in the label set [{listed(self.names)}]") from None
        if code is None:
            if self.to_id is not None:
                self._id(raw, where)
            code = self.codes[raw] = len(self.values)
            self.values.append(raw)
            self.first_seen.append(where)
        return code

    def _id(self, raw, where: str) -> int:
        for key in (raw, _as_int(raw)):  # a name, else an id however spelt ("1.0" is the id 1)
            if key in self.to_id:
                return self.to_id[key]
        raise DataError(f"{where}: label {raw!r} is not in the label set [{listed(self.names)}]")

    def ids(self, origin: str) -> np.ndarray:
        """Each code's label id; sets `names` first (from the values of `origin` and the other splits) where no
        labels.json named them."""
        if self.to_id is None:
            self.names, self.to_id = _label_space(self.values)
            first = {}
            for value, where in zip(self.values, self.first_seen):
                first.setdefault(_label_name(value), where)
            _check_label_names(self.names, origin, first)
        return np.array([self._id(v, where) for v, where in zip(self.values, self.first_seen)], dtype=np.int64)


def _check_label_names(names: list[str], origin: str, first: dict[str, str] | None = None) -> None:
    """Refuses label names no classifier can train on, and warns of likely mistakes; `first` names where each label
    was first read (file and line), when the labels came from the data rather than a labels.json."""
    if not all(is_unicode(name) for name in names):
        raise DataError(f"{origin}: a label name holds an unpaired surrogate, which is not text: "
                        f"[{listed(names)}]")
    if len(names) < 2:
        raise DataError(f"{origin}: every example has the label {names[0] if names else None!r}; a classifier "
                        "needs at least two labels (give a labels.json beside the data to name them all)")
    spellings: dict[str, list[str]] = {}
    for name in names:
        spellings.setdefault(name.casefold(), []).append(name)
    for alike in (group for group in spellings.values() if len(group) > 1):
        spelt = " and ".join(f"{name!r} (first at {first[name]})" if first else repr(name) for name in alike)
        logger.warning("%s labels %s differ only in case, so they are different classes; spell them alike where they "
                       "mean one", "The" if first else f"{origin}: the", spelt)
    scores = [name for name in names if _FRACTION.fullmatch(name)]
    if scores:
        logger.warning("%s: %d of the %d labels are fractional numbers (%s%s), each a class of its own: scores of a "
                       "regression task? This trains classifiers; bin the scores into classes first", origin,
                       len(scores), len(names), ", ".join(scores[:5]), ", ..." if len(scores) > 5 else "")


def _label_space(values: list) -> tuple[list[str], dict]:
    """Label names, and a map from raw label values (ids or names) to ids, where no labels.json names them: ids in
    their order, else names in text order."""
    names = {value: _label_name(value) for value in values}
    numbered = all(_as_int(value) is not None for value in values)
    ordered = sorted(set(names.values()), key=int if numbered else str)
    return ordered, {value: ordered.index(name) for value, name in names.items()}


def _label_name(value) -> str:
    """The name of a raw label value where no labels.json names the labels: an id's number ("1" for 1, 1.0, "1.0"),
    else the value as text ("True" for true)."""
    number = _as_int(value)
    return str(value) if number is None else str(number)


def _as_int(value):
    """The label id a value spells: 1, 1.0, "1" or "1.0" (pandas writes a label column with a gap as floats)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and (digits := _INTEGER.fullmatch(value)):
        return int(digits[1])
    return None


def label_reader(names: list[str], file_names: list[str] | None) -> Callable[[object], int | None]:
    """Reads a file's label values as the ids of a trained model whose labels are `names`: a label's name, or an id
    (named by the file's labels.json, `file_names`, where it has one, and then matched by name; else read as the
    model's id, unless the model's names are numbers, as those of a model trained on numbered labels are). None for
    a value that is neither."""
    ids = {name: i for i, name in enumerate(names)}
    ids_are_names = any(_as_int(name) is not None for name in names)

    def read(raw) -> int | None:
        if isinstance(raw, str):
            raw = raw.strip()  # as training reads it: "positive " from a spreadsheet is that label
        number = _as_int(raw)
        if file_names is not None and number is not None:
            return ids.get(file_names[number]) if 0 <= number < len(file_names) else None
        name = _label_name(raw)  # as the training named it
        if name in ids:
            return ids[name]
        return number if number is not None and not ids_are_names and 0 <= number < len(names) else None

    return read


@dataclass
class _Read:
    """A file's texts and noise tags in Arrow, and per record its label code and whether it had a noise tag."""

    dataset: Dataset
    codes: np.ndarray
    tagged: np.ndarray


def _read(source: SplitSource, text_columns: list[str], columns_from: str, label_column: str, labels: _Labels,
          path: Path) -> _Read:
    """One pass over the records: each is checked, and its texts are written to Arrow as it goes by.
    `columns_from` says where the text columns' names came from, for the errors of a file that lacks one or holds
    something other than text in one."""
    writer = TextColumns(path, [*text_columns, "noise"])
    codes, tagged = array("q"), bytearray()
    try:
        for line, record in source.records():
            where = f"{source.origin}: {source.unit} {line}"
            check_texts(record, text_columns, where, f"every file needs the text columns {columns_from}",
                        f" in the text columns {columns_from}")
            if label_column not in record:
                unlabelled = "; predict.py labels texts that have none" if source.name.startswith("test") else ""
                raise DataError(f"{where}: missing label column {label_column!r} (record has [{listed(sorted(record))}]"
                                f"{column_near_miss(label_column, record)}; label_column_name names another)"
                                f"{unlabelled}")
            label = record[label_column]
            if isinstance(label, str):  # "positive " from a spreadsheet, or ", negative" in a csv, is that label
                label = label.strip()
            if label in (None, ""):
                raise DataError(f"{where}: column {label_column!r} is empty; expected a label")
            codes.append(labels.code(labels.in_task_terms(label, source), where))
            tagged.append("noise" in record)
            noise = str(record.get("noise", "original"))
            if not is_unicode(noise):
                raise DataError(f"{where}: column 'noise' holds an unpaired surrogate, which is not text")
            writer.add([*(record[c] for c in text_columns), noise])
        return _Read(writer.finish(), np.frombuffer(codes, dtype=np.int64), np.frombuffer(tagged, dtype=bool))
    finally:
        writer.close()


def check_texts(record: dict, columns: list[str], where: str, missing: str, expected_in: str = "") -> None:
    """Each of `columns` holds non-empty text in `record`; the error names `where`, says `missing` when a column is
    missing, and what was expected `expected_in` otherwise."""
    for column in columns:
        if column not in record:
            raise DataError(f"{where}: missing text column {column!r} (record has [{listed(sorted(record))}]"
                            f"{column_near_miss(column, record)}); {missing}")
        text = record[column]
        if not isinstance(text, str):
            raise DataError(f"{where}: column {column!r} holds {type(text).__name__} {text!r}; expected text"
                            f"{expected_in}")
        if not text.strip():
            raise DataError(f"{where}: column {column!r} is empty; expected non-empty text{expected_in}; fill the "
                            "record in or remove it")
        if not is_unicode(text):
            raise DataError(f"{where}: column {column!r} holds an unpaired surrogate, which is not text")


def column_near_miss(wanted: str, record: dict) -> str:
    """What a record that lacks the column `wanted` most likely holds instead, for its error: the name spelt with
    other case or spaces, or a csv/tsv header of several names read as one (a delimiter other than the suffix's)."""
    near = [c for c in record if c.strip().lower() == wanted.lower()]
    if near:
        return f"; {near[0]!r} differs from {wanted!r} only in case or spaces"
    return other_delimiter(list(record))


def _warn_if_not_a_text(dataset: Dataset, columns: list[str], origin: str) -> None:
    """A text column taken by default, first or second, that holds few distinct values (the generating model's
    name, a source) describes the examples; it is not a text of a pair."""
    few = {column: distinct for column in columns
           if (distinct := pc.count_distinct(dataset.data.column(column)).as_py()) <= len(dataset) // 10}
    for column, other in (columns, columns[::-1]):
        if column in few and other not in few:
            logger.warning("%s: the texts are read as pairs from its first two columns that may hold text, %s, but "
                           "%r holds %d distinct value(s) in %d records, unlike a text; if each example is one text, "
                           "give text_column_names %s", origin, columns, column, few[column], len(dataset), other)
    if len(few) == 2:
        logger.warning("%s: the texts are read from its first two columns that may hold text, %s, but each holds few "
                       "distinct values (%s in %d records), unlike a text; name the text column(s) with "
                       "text_column_names", origin, columns, " and ".join(map(str, few.values())), len(dataset))


def _split(read: _Read, label_ids: np.ndarray, text_columns: list[str], rows: list[int] | None) -> Dataset:
    tagged = read.tagged if rows is None else read.tagged[rows]
    dataset = read.dataset.add_column(LABEL, label_ids[read.codes])
    dataset = dataset.select_columns([*text_columns, LABEL] + (["noise"] if tagged.any() else []))
    return dataset if rows is None else dataset.select(rows)


def build_task(sources: list[SplitSource], text_columns: list[str] | None, label_column: str = LABEL,
               scratch: Path | None = None) -> TaskData:
    """The splits, read in one pass per file into Arrow files in `scratch` (default: a new temporary folder)."""
    if not sources:
        raise DataError("no data: set train_file (and validation_file / test_file), dataset_name or wandb_dataset")
    scratch = scratch or scratch_folder()
    scratch.mkdir(parents=True, exist_ok=True)
    columns = text_columns or default_text_columns(sources[0], label_column)
    # which of the two is the text, where the other is a tag, only their values tell (read below)
    one_text = f"; text_column_names {columns[0]} or {columns[1]} alone for one text per example" \
        if len(columns) == 2 else ""
    columns_from = "named by text_column_names" if text_columns else \
        f"taken from the first non-label columns of {sources[0].origin} (text_column_names names others{one_text})"
    labels = _Labels(sources)
    read: dict[int, _Read] = {}
    for source in sources:
        whole = source.whole or source
        if id(whole) not in read:
            read[id(whole)] = _read(whole, columns, columns_from, label_column, labels,
                                    scratch / f"{len(read)}-{whole.name}.arrow")
    if not text_columns and len(columns) == 2:
        _warn_if_not_a_text(read[id(sources[0].whole or sources[0])].dataset, columns, sources[0].origin)
    label_ids = labels.ids(sources[0].origin)
    splits = {s.name: _split(read[id(s.whole or s)], label_ids, columns, s.rows) for s in sources}
    logger.info("Task: %d labels [%s], text columns %s, splits %s", len(labels.names), listed(labels.names), columns,
                {k: len(v) for k, v in splits.items()})
    return TaskData(splits, labels.names, columns, {s.name: s.origin for s in sources}, scratch=scratch)


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
        tags = np.full(len(dataset), "real") if is_real else column_array(train, "noise") \
            if "noise" in train.column_names else np.full(len(dataset), "original")
        dataset = dataset.select_columns([c for c in train.column_names if c != "noise"])
        return dataset.add_column("noise", tags).add_column(REAL_EXAMPLE, np.full(len(dataset), int(is_real)))

    return concatenate_datasets([tagged(train, False), tagged(real, True)])


def real_examples(train: Dataset) -> np.ndarray:
    """True for each example of the real set joined to the training data (all False when none is)."""
    if REAL_EXAMPLE not in train.column_names:
        return np.zeros(len(train), dtype=bool)
    return column_array(train, REAL_EXAMPLE).astype(bool)


def generated_part(train: Dataset) -> Dataset:
    """The training data without the real set joined to it."""
    if REAL_EXAMPLE not in train.column_names:
        return train
    return train.select(np.flatnonzero(~real_examples(train)))
