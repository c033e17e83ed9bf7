"""Writing result files so that a crash leaves either the old file or the new one, never half of one; and with the
permissions any other file gets (the umask's)."""

from __future__ import annotations

import errno
import json
import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

# A write that found no room: a full disk, a quota, or a file past the size a file system or `ulimit -f` allows.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=4, sort_keys=True, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    with open_atomic(path) as f:
        f.write(text)


def save_figure_atomic(fig, path: Path, dpi: int) -> None:
    """A matplotlib figure saved as `path`, in the format its suffix names, through open_atomic."""
    with open_atomic(path, mode="wb") as f:
        fig.savefig(f, format=Path(path).suffix.lstrip("."), dpi=dpi)


@contextmanager
def open_atomic(path: Path, newline: str | None = None, mode: str = "w") -> Iterator[IO]:
    """A file to write `path` through: a temporary file beside it, renamed over `path` once the block ends without
    an error, and removed if it does not. `mode` "wb" writes bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_file_beside(path, ".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": newline})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unwritable(path: Path) -> str | None:
    """Why this process cannot write in the folder `path` (or the nearest existing one above it): a read-only file
    system, or no permission; None when it can. Checked before any work, rather than when the first result is
    written."""
    folder = next(f for f in (path.absolute(), *path.absolute().parents) if f.exists())
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    return f"cannot write in {folder} (a read-only file system, or no permission)"


@contextmanager
def full_disk_named(folder: Path) -> Iterator[None]:
    """torch.save and safetensors report a full disk (or quota, or size limit) as errors of their own, without its
    errno: when writing into `folder` fails, a probe write there tells whether that was the cause, and then the
    OSError it is raised, naming the folder."""
    try:
        yield
    except Exception as err:
        full = None if isinstance(err, OSError) else _no_room(Path(folder))
        if full is None:
            raise
        raise OSError(full.errno, os.strerror(full.errno), str(folder)) from err


def _no_room(folder: Path) -> OSError | None:
    """The OSError of writing a megabyte into `folder`, when it is a full disk or quota."""
    try:
        with tempfile.TemporaryFile(dir=folder) as f:
            f.write(bytes(2**20))
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        return err if err.errno in NO_ROOM else None
    return None


def _new_file_beside(path: Path, suffix: str) -> tuple[int, str]:
    """A new hidden file in `path`'s folder, open for writing, created as open() creates files: tempfile's are
    0600, and os.replace would hand that on to `path`, unreadable to anyone else."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}{suffix}")
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)


def as_umask_allows(folder: Path) -> None:
    """safetensors 0.8 writes its files 0600 whatever the umask (safetensors issue 782): give the model files in
    `folder` the mode any other file there gets, so that another user, or a container, can read the model."""
    umask = os.umask(0)
    os.umask(umask)
    for file in Path(folder).glob("*.safetensors"):
        os.chmod(file, 0o666 & ~umask)
