"""Memory that a phase of a run freed goes back to the operating system (glibc's malloc_trim), also what only a
reference cycle held, and at the end of every epoch."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

import trainer.memory
from trainer.memory import _malloc_trim, release_freed_memory, trim_heap
from trainer_helpers import train_steps

# Blocks below glibc's mmap threshold (128 KB by default) live on the heap, where free() keeps them. A threshold set
# in the environment, as benchmarks/memory.py's settings do, may be lower: the blocks would be mapped, and free()
# alone would hand them back.
needs_malloc_trim = pytest.mark.skipif(_malloc_trim() is None or "MALLOC_MMAP_THRESHOLD_" in os.environ,
                                       reason="needs glibc's malloc_trim and its default mmap threshold")
BLOCKS, BLOCK = 1000, 100_000  # 100 MB


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@needs_malloc_trim
def test_trim_heap_hands_back_the_heap_pages_freed_below_a_block_still_in_use():
    blocks = [bytearray(BLOCK) for _ in range(BLOCKS)]
    in_use = bytearray(BLOCK)  # above them on the heap: free() alone cannot shrink the heap past it
    del blocks
    freed = _resident_bytes()
    trim_heap()
    assert freed - _resident_bytes() > BLOCKS * BLOCK // 2
    del in_use


@needs_malloc_trim
def test_release_freed_memory_also_frees_what_only_a_reference_cycle_held():
    gc.disable()  # no collection may happen on its own in between
    try:
        cycle = {"blocks": [bytearray(BLOCK) for _ in range(BLOCKS)]}
        cycle["self"] = cycle  # as a Trainer and its model hold each other
        in_use = bytearray(BLOCK)
        del cycle
        held = _resident_bytes()
        release_freed_memory()
        assert held - _resident_bytes() > BLOCKS * BLOCK // 2
        del in_use
    finally:
        gc.enable()


def test_release_freed_memory_also_lets_go_of_the_data_pages_the_phase_read(monkeypatch):
    """A phase ends after a pass over its data (a checker scoring the training set): those pages count in RSS until
    released (data.store.release_mapped_pages, tested in test_data)."""
    calls = []
    monkeypatch.setattr(trainer.memory, "trim_heap", lambda: calls.append("trim"))
    monkeypatch.setattr(trainer.memory, "release_mapped_pages", lambda: calls.append("release"))
    release_freed_memory()
    assert calls == ["trim", "release"]


def test_each_epoch_and_each_evaluation_ends_by_trimming_the_heap_and_letting_go_of_the_data_read(
        tiny_model_dir, tmp_path, monkeypatch):
    """So that neither heap fragments nor pages of data pile up from epoch to epoch."""
    calls = []
    monkeypatch.setattr(trainer.memory, "trim_heap", lambda: calls.append("trim"))
    monkeypatch.setattr(trainer.memory, "release_mapped_pages", lambda: calls.append("release"))
    trained = train_steps(tiny_model_dir, tmp_path, batch_size=8, accumulation=1,
                          extra={"max_steps": -1, "num_train_epochs": 2})
    assert calls == ["trim", "release"] * 2
    trained.evaluate(trained.train_dataset)
    assert calls == ["trim", "release"] * 3
