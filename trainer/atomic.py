"""Writing result files so that a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=4, sort_keys=True, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    with open_atomic(path) as f:
        f.write(text)


@contextmanager
def open_atomic(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """A text file to write `path` through: a temporary file beside it, renamed over `path` once the block ends
    without an error, and removed if it does not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
