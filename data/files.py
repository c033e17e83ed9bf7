"""Reading data files (jsonl, json, csv, tsv, parquet; the text formats also compressed, as train.jsonl.gz) record by
record, with errors that name the line."""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import json
import logging
import lzma
import os
import re
import zlib
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterator

from config.json_strict import DuplicateKey, loads_unique, repeated_key_line

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT_ENV = "DIMP_DATA_ROOT"
SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
LABELS_FILE = "labels.json"  # beside a data file: the names of its label ids
# A text format's file may be compressed (as the hub's and pandas' are): train.jsonl.gz reads as train.jsonl.
COMPRESSIONS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_ID_KEY = re.compile(r"0|[1-9][0-9]{0,17}")  # a labels.json id as written: "00", "²" or 5,000 digits are not
PARQUET_BATCH_ROWS = 10_000


class DataError(ValueError):
    """A data problem the user has to fix; the message names the file and, where it can, the line."""


# The most labels a message or a log line shows one by one: a task of 150 intents must not fill the screen.
SHOWN_LABELS = 10


def listed(values) -> str:
    """Values (labels, mostly) as a message lists them: all of them, or the first SHOWN_LABELS and how many there
    are."""
    values = list(values)
    more = f", ... ({len(values)} in all)" if len(values) > SHOWN_LABELS else ""
    return ", ".join(map(repr, values[:SHOWN_LABELS])) + more


def data_root() -> Path:
    return Path(os.environ.get(DATA_ROOT_ENV) or REPO_ROOT.parent / "shared" / "data").expanduser()


def as_configured(origin: str) -> str:
    """A data file (or one split of it, or a description starting with one) as a config names it: relative to the
    data root, or else to the working directory, where that name finds the same file again; so what a run writes
    for others to read (model card, weights report) does not give this machine's folders."""
    path = origin.partition(" (")[0]
    if path.endswith("]") and "[" in path:  # one split of a split_file: "file[train]"
        path = path[: path.rindex("[")]
    for folder in _search_folders():
        for root in {f"{folder}/", f"{folder.resolve()}/"}:
            found = find_data_path(path[len(root):]) if path.startswith(root) else None
            if found is not None and found.resolve() == Path(path).resolve():
                return origin[len(root):]
    return origin


def _search_folders() -> tuple[Path, Path]:
    """Where relative paths are looked up, in order: the data root, then the working directory."""
    return data_root(), Path.cwd()


def _candidates(path: str) -> list[Path]:
    candidate = Path(path).expanduser()
    return [candidate] if candidate.is_absolute() else [folder / candidate for folder in _search_folders()]


_SHADOWED_TOLD: set[str] = set()


def _tell_if_shadowed(path: str, field: str, found: Path) -> None:
    """A relative path that names a file in the data root and another in the working directory reads the data
    root's: said once, since a user's own file of that name, in the folder they run from, is read in silence."""
    others = [option for option in _candidates(path)[1:] if option.is_file() and option.resolve() != found.resolve()]
    if others and path not in _SHADOWED_TOLD:
        _SHADOWED_TOLD.add(path)
        logger.warning("%s: %s is in the data root (%s) and in the working directory too; reading the data root's, "
                       "which comes first (give the other's absolute path to read it)", field, path, found)


def find_data_path(path: str) -> Path | None:
    return next((option for option in _candidates(path) if option.is_file()), None)


def resolve_data_path(path: str, field: str) -> Path:
    found = find_data_path(path)
    if found is not None:
        _tell_if_shadowed(path, field, found)
        return found
    tried = _candidates(path)
    folders = [t for t in tried if t.is_dir()]
    if folders:
        raise DataError(f"{field}: {folders[0]} is a folder; expected a data file ({', '.join(SUFFIXES)})")
    raise DataError(f"{field}: file {path!r} not found (looked in: {', '.join(str(t) for t in tried)}; "
                    f"set {DATA_ROOT_ENV} to change the data root)")


def format_suffix(path: Path) -> str:
    """The format a file's name gives, whether compressed or not: .jsonl for train.jsonl and train.jsonl.gz."""
    inner, outer = (["", ""] + [suffix.lower() for suffix in path.suffixes])[-2:]
    return inner if outer in COMPRESSIONS and inner not in ("", ".parquet") else outer


def compression_of(path: Path) -> Callable | None:
    """What opens the file `path` names compressed (gzip.open for train.jsonl.gz), or None when it is not."""
    return COMPRESSIONS[path.suffix.lower()] if format_suffix(path) != path.suffix.lower() else None


def _raw_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as bytes, decompressed where its name says so; damaged compressed data names its line."""
    opener = compression_of(path)
    if opener is None:
        with path.open("rb") as f:
            yield from f
        return
    number = 0
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                yield raw
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as err:
        raise DataError(f"{path}: line {number + 1}: cannot decompress ({err}); the file is damaged, cut short, or "
                        f"not {path.suffix} data") from None


def _read_text(path: Path) -> str:
    # A plain file in one read: joining its lines is far slower, and holds the text several times over.
    raw = path.read_bytes() if compression_of(path) is None else b"".join(_raw_lines(path))
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{path}: UTF-16 text; re-save the file as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: not valid UTF-8 (byte {err.start}); re-save the file as UTF-8") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataError(f"{path}: line {line}: a NUL character; the file is binary, UTF-16 or damaged")
    return text


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines, decoded one at a time (a leading BOM dropped); a byte that is not UTF-8, a NUL, or a BOM
    starting a later line names its line."""
    offset = 0
    with closing(_raw_lines(path)) as raw_lines:
        for number, raw in enumerate(raw_lines, start=1):
            if number == 1 and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise DataError(f"{path}: UTF-16 text; re-save the file as UTF-8")
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise DataError(f"{path}: line {number}: not valid UTF-8 (byte {offset + err.start}); re-save the "
                                "file as UTF-8") from None
            if "\x00" in line:
                raise DataError(f"{path}: line {number}: a NUL character; the file is binary, UTF-16 or damaged")
            if line.startswith("\ufeff"):  # csv would read it as part of a text, or of a repeated header
                raise DataError(f"{path}: line {number}: starts with a byte-order mark, which only begins a file "
                                "(files joined together with `cat`?); remove it")
            offset += len(raw)
            yield number, line


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = loads_unique(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {number}: invalid JSON ({err.msg}, column {err.colno})") from None
        except DuplicateKey as err:
            raise DataError(f"{path}: line {number}: {err}") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}: line {number}: expected a JSON object per line, got {type(record).__name__}")
        yield number, record


def _is_object(line: str) -> bool:
    try:
        return isinstance(loads_unique(line), dict)
    except DuplicateKey:
        return True  # an object, refused with its line when the lines are read
    except json.JSONDecodeError:
        return False


def _json_file(path: Path) -> Iterator[tuple[int, dict]]:
    """A .json file: JSON lines (streamed), or one document, read whole: a list of records, {"data": [...]}, or
    columns ({"text": [...], "label": [...]}, as a Dataset's to_dict() writes)."""
    with closing(_lines(path)) as lines:
        filled = (line for _, line in lines if line.strip())
        first, second = next(filled, None), next(filled, None)
    if first is not None and second is not None and _is_object(first):
        yield from _json_lines(path)
        return
    text = _read_text(path)
    try:
        document = loads_unique(text)
    except json.JSONDecodeError:
        yield from _json_lines(path)
        return
    except DuplicateKey as err:
        line = repeated_key_line(text, err.key)
        raise DataError(f"{path}: {f'line {line}: ' if line else ''}{err}") from None
    wrapped = document.get("data") if isinstance(document, dict) else None
    if isinstance(wrapped, list) and all(isinstance(r, dict) for r in wrapped):  # not a column named "data"
        document = wrapped
    if isinstance(document, dict):
        document = _columns_as_records(path, document)
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise DataError(f"{path}: expected a list of JSON objects (or one object per line)")
    yield from enumerate(document, start=1)


def _columns_as_records(path: Path, document: dict) -> list[dict]:
    """One JSON object: columns of equal length, read as their rows; pandas' default to_json() (each column an object
    keyed by row) refused with how to write records; else a single record."""
    values = list(document.values())
    if values and all(isinstance(v, dict) for v in values):
        raise DataError(f"{path}: each column is an object keyed by row, as pandas' DataFrame.to_json() writes by "
                        "default; write the records instead: to_json(path, orient='records', lines=True)")
    if not values or not all(isinstance(v, list) for v in values):
        return [document]
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        counts = ", ".join(f"{key!r} {len(column)}" for key, column in document.items())
        raise DataError(f"{path}: columns of different lengths ({counts}); expected one value per row in each")
    return [dict(zip(document, row)) for row in zip(*values)]


def _delimited(path: Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    """Each row with the line it ends on (the header is line 1)."""
    record_lines: list[str] = []  # the lines the row being read came from

    def lines() -> Iterator[str]:
        for _, line in _lines(path):
            record_lines.append(line)
            yield line

    reader = csv.DictReader(lines(), delimiter=delimiter)
    try:
        if not reader.fieldnames:
            return
        # A header written "text, label" names " label": spaces around a name are not part of it, as around a label.
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        # Columns without a name (a spreadsheet's trailing ",,") are never read, however many there are.
        repeated = sorted({name for name in reader.fieldnames if name and reader.fieldnames.count(name) > 1})
        if repeated:
            raise DataError(f"{path}: line 1: column {repeated[0]!r} appears twice in the header")
        first, ended = reader.fieldnames[0], 1
        record_lines.clear()
        for row in reader:
            if _rows_run_together(row, record_lines, delimiter):
                where = f"lines {ended + 1}-{reader.line_num} were read as one record" \
                    if reader.line_num > ended + 1 else f"line {reader.line_num}"
                raise DataError(f"{path}: {where}: a field that starts with a quote mark (\") is read as quoted "
                                "up to the next one, or to the file's end; write such texts quoted, their own quote "
                                "marks doubled (as csv.writer and pandas do), or save the data as JSON lines")
            record_lines.clear()
            ended = reader.line_num
            if None in row:
                raise DataError(f"{path}: line {reader.line_num}: more fields than the header's "
                                f"{len(reader.fieldnames)}{other_delimiter(reader.fieldnames)}")
            # The header again (files joined with `cat`) would be a record whose label is "label".
            if (row[first] or "").strip() == first and all((v or "").strip() == k for k, v in row.items()):
                raise DataError(f"{path}: line {reader.line_num}: repeats the header (files joined together?); remove "
                                "the line")
            yield reader.line_num, row
    except csv.Error as err:  # a field over csv's size limit, a quote the parser cannot close
        if "new-line character seen in unquoted field" in str(err):  # lines split on "\n" only
            err = ("a line ends in a bare carriage return (CR), as in old Mac files; re-save the file with LF or "
                   "CRLF line endings")
        raise DataError(f"{path}: line {reader.line_num + 1}: {err}") from None


def _rows_run_together(row: dict, lines: list[str], delimiter: str) -> bool:
    """Whether a quote mark that starts a field but was not meant as quoting (`"Wow" she said`, a text cut short)
    ran the lines after it into one record: csv's lenient reading keeps going to the next quote mark, or the file's
    end. Only a field holding a line break can have taken lines, and it did when csv's strict reading finds its
    quote never closed, or closed mid-text; a text quoted as csv.writer and pandas quote it passes."""
    if not any(isinstance(v, str) and "\n" in v for v in row.values()):
        return False
    try:
        list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error:
        return True
    return False


def _parquet(path: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH_ROWS)
        row = 0
        for batch in batches:
            for record in batch.to_pylist():
                row += 1
                yield row, record
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable parquet file ({err})") from None


def position_word(path: Path) -> str:
    """What a record's number counts in error messages: parquet has rows, the text formats lines."""
    return "row" if format_suffix(path) == ".parquet" else "line"


def other_delimiter(header: list[str]) -> str:
    """For a header read as one column whose name holds another delimiter (`id;text;label` in a .csv), the note that
    says why; else nothing."""
    only = header[0] if len(header) == 1 else ""
    delimiter = next((d for d in (";", "\t", ",", "|") if d in only), None)
    if delimiter is None:
        return ""
    return f"; its one column's name holds {delimiter!r}: a .csv file is read comma-separated, a .tsv tab-separated"


def unsupported_type(path: Path, suffixes: tuple[str, ...]) -> str:
    """Why `path` is not read, for a name whose format is not one of `suffixes` (a name without any included)."""
    suffix = format_suffix(path)
    named = f"unsupported file type {suffix!r}" if suffix else "no file type in its name"
    return (f"{path}: {named}; expected one of {', '.join(suffixes)} "
            f"(the text formats may be compressed: {', '.join(COMPRESSIONS)})")


def iter_records(path: Path) -> Iterator[tuple[int, dict]]:
    """Each record of a data file with its line number (its row, in parquet), read one at a time, so that memory
    does not grow with the file; a .json document (rather than JSON lines) is the exception, parsed whole. A file
    without records is an error."""
    suffix = format_suffix(path)
    if suffix not in SUFFIXES:
        raise DataError(unsupported_type(path, SUFFIXES))
    if suffix == ".jsonl":
        records = _json_lines(path)
    elif suffix == ".json":
        records = _json_file(path)
    elif suffix == ".parquet":
        records = _parquet(path)
    else:
        records = _delimited(path, "\t" if suffix == ".tsv" else ",")
    empty = True
    for number, record in records:
        empty = False
        if any(key != key.strip() for key in record):
            record = _stripped_keys(path, number, record)
        yield number, record
    if empty:
        what = "the file is empty" + (", or holds only its header" if suffix in (".csv", ".tsv") else "")
        raise DataError(f"{path}: no records ({what})")


def _stripped_keys(path: Path, number: int, record: dict) -> dict:
    """A record's keys without spaces around them, as a csv header's names are read: a key "Text " would otherwise
    name a text column that resolved_config.json's comma-separated text_column_names cannot give back to predict.py."""
    stripped = {}
    for key, value in record.items():
        if key.strip() in stripped:
            first = next(other for other in record if other.strip() == key.strip())
            raise DataError(f"{path}: {position_word(path)} {number}: keys {first!r} and {key!r} differ only in the "
                            "spaces around them; keep one")
        stripped[key.strip()] = value
    return stripped


def read_records(path: Path) -> list[dict]:
    """All records of a (small) data file, as dicts."""
    return [record for _, record in iter_records(path)]


def iter_text_lines(path: Path, column: str = "text") -> Iterator[tuple[int, dict]]:
    """A plain text file, one text per line, as records read one at a time; line N is record N (blank lines at the
    end left out, those before a text kept, for the caller to refuse)."""
    blank: list[tuple[int, dict]] = []
    empty = True
    for number, line in _lines(path):
        record = (number, {column: line.rstrip("\r\n")})
        if not line.strip():
            blank.append(record)
            continue
        yield from blank
        blank, empty = [], False
        yield record
    if empty:
        raise DataError(f"{path}: no records (the file is empty)")


def read_label_names(data_file: Path) -> list[str] | None:
    """Names from a `labels.json` ({"0": name, ...}) beside the data file, if there is one."""
    labels_file = data_file.parent / LABELS_FILE
    if not labels_file.is_file():
        return None
    expected = "expected a JSON object mapping label ids to names, like {\"0\": \"negative\", \"1\": \"positive\"}"
    text = _read_text(labels_file)
    try:
        mapping = loads_unique(text)
    except (json.JSONDecodeError, DuplicateKey) as err:
        raise DataError(f"{labels_file}: {err}; {expected}") from None
    if not isinstance(mapping, dict) or not mapping:
        raise DataError(f"{labels_file}: {expected}")
    ids = [int(k) if _ID_KEY.fullmatch(k) else None for k in mapping]
    if None in ids or sorted(ids) != list(range(len(ids))):
        raise DataError(f"{labels_file}: label ids must be 0..{len(ids) - 1}, got [{listed(sorted(mapping))}]")
    names = [mapping[str(i)] for i in range(len(ids))]
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise DataError(f"{labels_file}: label names must be non-empty strings, got [{listed(names)}]")
    if len(set(names)) != len(names):
        raise DataError(f"{labels_file}: label names must differ, got [{listed(names)}]")
    return names
