"""Reading one data file (jsonl, json, csv, tsv) into a list of records, with errors that name the line."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT_ENV = "DIMP_DATA_ROOT"
SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")


class DataError(ValueError):
    """A data problem the user has to fix; the message names the file and, where it can, the line."""


def data_root() -> Path:
    return Path(os.environ.get(DATA_ROOT_ENV) or REPO_ROOT.parent / "shared" / "data")


def resolve_data_path(path: str, field: str) -> Path:
    """Relative paths are looked up in the data root first, then in the working directory."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        tried = [candidate]
    else:
        tried = [data_root() / candidate, Path.cwd() / candidate]
    for option in tried:
        if option.is_file():
            return option
    raise DataError(f"{field}: file {path!r} not found (looked in: {', '.join(str(t) for t in tried)}; "
                    f"set {DATA_ROOT_ENV} to change the data root)")


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: not valid UTF-8 (byte {err.start}); re-save the file as UTF-8") from None


def _json_lines(path: Path, text: str) -> list[dict]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {number}: invalid JSON ({err.msg}, column {err.colno})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}: line {number}: expected a JSON object per line, got {type(record).__name__}")
        records.append(record)
    return records


def _json_document(path: Path, text: str) -> list[dict]:
    """A .json file: a list of records, {"data": [...]}, or (as HF `datasets` allows) JSON lines."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return _json_lines(path, text)
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    if isinstance(document, dict):
        return [document]
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise DataError(f"{path}: expected a list of JSON objects (or one object per line)")
    return document


def _delimited(path: Path, text: str, delimiter: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        return []
    records = []
    for row in reader:
        if None in row:
            raise DataError(f"{path}: line {reader.line_num}: more fields than the header's {len(reader.fieldnames)}")
        records.append(row)
    return records


def read_records(path: Path) -> list[dict]:
    """All records of a data file, as dicts. Empty files are an error."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUFFIXES)}")
    text = _read_text(path)
    if suffix == ".jsonl":
        records = _json_lines(path, text)
    elif suffix == ".json":
        records = _json_document(path, text)
    else:
        records = _delimited(path, text, "\t" if suffix == ".tsv" else ",")
    if not records:
        raise DataError(f"{path}: no records (the file is empty)")
    return records


def read_text_lines(path: Path, column: str = "text") -> list[dict]:
    """A plain text file, one text per line, as records; line N is record N (blank lines at the end left out)."""
    records = [{column: line} for line in _read_text(path).rstrip().splitlines()]
    if not records:
        raise DataError(f"{path}: no records (the file is empty)")
    return records


def read_label_names(data_file: Path) -> list[str] | None:
    """Names from a `labels.json` ({"0": name, ...}) beside the data file, if there is one."""
    labels_file = data_file.parent / "labels.json"
    if not labels_file.is_file():
        return None
    try:
        mapping = json.loads(_read_text(labels_file))
        ids = sorted(int(k) for k in mapping)
    except (json.JSONDecodeError, ValueError, AttributeError):
        raise DataError(f"{labels_file}: expected a JSON object mapping label ids to names, like {{\"0\": \"negative\"}}") from None
    if ids != list(range(len(ids))):
        raise DataError(f"{labels_file}: label ids must be 0..{len(ids) - 1}, got {ids}")
    return [str(mapping[str(i)]) for i in ids]
