"""Locks between processes on one machine whose files do not outlive them: a sweep of runs, a grid's cells or a
cache of checkers would otherwise leave one empty lock file each, for good."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

from filelock import FileLock

_TRIES = 20  # more removals in a row than runs finishing at once ever make


class _Removed(Exception):
    """The lock file this process opened was removed, by the one that held it, before this one locked it."""


def _is_still(path: Path) -> Callable[[int], None]:
    def check(fd: int) -> None:
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return
        except FileNotFoundError:
            pass
        raise _Removed(path)
    return check


def hold(path: Path, timeout: float = -1) -> Callable[[], None]:
    """Locks `path`, waiting up to `timeout` seconds (-1: as long as it takes; filelock's Timeout past it), and returns
    what releases the lock and removes its file. The file goes while still locked: a process that opened it meanwhile
    then locks a file that is no longer `path`, sees that, and locks `path` anew, so that two never both hold it."""
    lock = FileLock(str(path), on_acquired=_is_still(path))
    for _ in range(_TRIES):
        try:
            lock.acquire(timeout=timeout)
            break
        except _Removed:
            continue
    else:  # a file system that gives a file another identity each time (some FUSE mounts): keep the file, as filelock
        lock = FileLock(str(path))
        lock.acquire(timeout=timeout)
        return lock.release

    def release() -> None:
        with contextlib.suppress(OSError):  # Windows cannot remove an open file; filelock removes it there
            path.unlink()
        lock.release()
    return release
