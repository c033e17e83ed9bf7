"""Where a run's data lives: Arrow files in a scratch folder, memory-mapped, so that memory does not grow with the
number of examples. `datasets` writes what is computed from them (`Dataset.map`: tokens) beside them."""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import fcntl
import hashlib
import logging
import mmap
import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasets import Dataset

from data.files import DataError

BATCH_ROWS = 10_000  # rows per Arrow record batch: a few MB of text held while writing
SCRATCH_PREFIX = "dimp-data-"
ALIVE_FILE = ".alive"  # locked by the process whose scratch folder it is, until it ends; the kernel drops the lock
_alive: dict[Path, int] = {}  # this process's scratch folders, and the descriptor holding each one's lock
logger = logging.getLogger(__name__)


def scratch_folder(parent: str | None = None) -> Path:
    """A new folder for a run's Arrow files, in `parent` (default: the system's temporary folder). Removed by
    `remove_scratch` when the run ends, or at the latest when the process exits; those of runs on this machine that
    were killed (SIGKILL, out of memory), which nothing removed, are removed here."""
    try:
        if parent:
            Path(parent).mkdir(parents=True, exist_ok=True)
        # "+" is in no host name, nor in the random part mkdtemp adds.
        folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{socket.gethostname()}+", dir=parent))
        alive = os.open(folder / ALIVE_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:  # a file in the way, no permission, a full disk
        raise DataError(f"data_work_dir: cannot make a folder for the run's data in {parent or tempfile.gettempdir()} "
                        f"({err.strerror or err})") from None
    _alive[folder] = alive
    atexit.register(remove_scratch, folder)
    _remove_orphans(folder.parent)
    return folder


def _remove_orphans(parent: Path) -> None:
    """The scratch folders in `parent` whose process no longer holds their lock: it was killed. Only this machine's:
    another machine's, on a shared disk, may hold its lock where this one cannot see it."""
    for folder in parent.glob(f"{SCRATCH_PREFIX}{socket.gethostname()}+*"):
        try:
            alive = os.open(folder / ALIVE_FILE, os.O_WRONLY)
        except OSError:  # not locked yet (a run starting), or another user's: left alone
            continue
        try:
            fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its run goes on
            continue
        else:
            logger.info("Removing %s: the data files of a run that was killed", folder)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(alive)


def remove_scratch(folder: Path) -> None:
    alive = _alive.pop(folder, None)
    if alive is not None:
        os.close(alive)
    shutil.rmtree(folder, ignore_errors=True)


class TextColumns:
    """String columns written to an Arrow file a batch at a time; `finish` returns them as a memory-mapped Dataset."""

    def __init__(self, path: Path, names: list[str]):
        self.path, self.names = path, names
        self.schema = pa.schema([(name, pa.string()) for name in names])
        self.pending: list[list[str]] = [[] for _ in names]
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_stream(self.sink, self.schema)

    def add(self, row: list[str]) -> None:
        for values, value in zip(self.pending, row):
            values.append(value)
        if len(self.pending[0]) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self.writer.write_batch(pa.record_batch([pa.array(v, pa.string()) for v in self.pending], schema=self.schema))
        self.pending = [[] for _ in self.names]

    def close(self) -> None:
        if not self.sink.closed:
            self.writer.close()
            self.sink.close()

    def finish(self) -> Dataset:
        if self.pending[0]:
            self._flush()
        self.close()
        return Dataset.from_file(str(self.path))


def release_mapped_pages() -> None:
    """Drop this process's references to the pages of the Arrow files it has memory-mapped (read-only), on Linux.

    Resident memory (RSS) counts every page of a mapped file that the process has touched, so one pass over a large
    dataset leaves it counted whole, although these pages are clean page cache that the kernel may take back at any
    time. madvise(MADV_DONTNEED) removes them from the process (not from the cache): a later access maps them again
    at the cost of a minor page fault. Called after each pass, and every so often during long ones, it keeps a run's
    RSS to what it holds itself, whatever the size of its data."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
        madvise = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").madvise
    except (OSError, AttributeError):
        return
    for line in maps:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].endswith(".arrow") and fields[1].startswith("r-"):  # read-only mappings
            start, end = (int(address, 16) for address in fields[0].split("-"))
            madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), mmap.MADV_DONTNEED)


def arrow_column(dataset: Dataset, name: str) -> pa.ChunkedArray:
    """One column of the dataset's rows, in their order, without converting its values to Python."""
    column = dataset.data.column(name)
    if dataset._indices is not None:  # a select()ed dataset: its rows are an index into the table
        column = column.take(dataset._indices.column(0))
    return column


def column_array(dataset: Dataset, name: str) -> np.ndarray:
    """One column as a numpy array, taken from Arrow in one call: reading a Dataset's column value by value costs
    a fraction of a millisecond per example, minutes for a million."""
    return arrow_column(dataset, name).to_numpy()


def iter_texts(dataset: Dataset, text_columns: list[str], batch: int = 10_000):
    """Each example's texts, as a tuple, in order; a slice at a time, so a million texts never sit in Python at once."""
    columns = [arrow_column(dataset, name) for name in text_columns]
    for start in range(0, len(dataset), batch):
        yield from zip(*(column.slice(start, batch).to_pylist() for column in columns))


def content_digest(dataset: Dataset, text_columns: list[str], label_names: list[str]) -> str:
    """A short fingerprint of the examples' texts and labels (by name), in their order: a file edited in place keeps
    its name and often its size, yet a checker trained on it before is stale."""
    digest = hashlib.sha256()
    for texts in iter_texts(dataset, text_columns):
        for text in texts:
            encoded = text.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
    digest.update("\n".join(label_names[i] for i in column_array(dataset, "label")).encode("utf-8"))
    return digest.hexdigest()[:16]
