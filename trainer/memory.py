"""Handing memory that PyTorch and Python have freed back to the operating system, where a phase of a run ends.

PyTorch's CPU tensors come from glibc's malloc, which keeps freed memory for reuse rather than returning it: only the
top of its heap is returned, and once a tensor of up to 32 MB has been freed, tensors up to that size are placed on
the heap. A run whose tensor sizes change at every step (dynamic padding) and whose phases differ (a checker is
trained, then scores, then the model trains) keeps the fragments earlier phases freed. `malloc_trim(0)` returns
them. Called where a phase ends, it costs one refault of the pages the next phase touches. Settings that keep the
heap tight at every step (glibc's mmap threshold, one arena) are the `settings` part of benchmarks/memory.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc

from transformers import TrainerCallback

from data.store import release_mapped_pages


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim; None elsewhere (musl, macOS, Windows), where nothing is done."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    """Hand the pages of freed heap memory back to the operating system."""
    if _malloc_trim() is not None:
        _malloc_trim()(0)


def release_freed_memory() -> None:
    """Collect unreachable objects (a Trainer and its model form reference cycles), trim the heap, and let go of the
    data pages that the phase read (data.store.release_mapped_pages)."""
    gc.collect()
    trim_heap()
    release_mapped_pages()


class ReleaseAtEpochEnd(TrainerCallback):
    """Trims the heap and lets go of the data pages read, before each epoch's evaluation and after it, so that
    neither heap fragments nor an epoch's pages of data pile up from epoch to epoch."""

    def on_epoch_end(self, args, state, control, **kwargs):
        trim_heap()
        release_mapped_pages()

    def on_evaluate(self, args, state, control, **kwargs):
        trim_heap()
        release_mapped_pages()
