"""Wall time, CPU time and peak memory of a phase or of each training step; the machine they were taken on."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import platform
import resource
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import transformers
from transformers import TrainerCallback


def reset_peak_rss() -> None:
    """On Linux, restart the peak-RSS counter (VmHWM, which getrusage also reports) from the memory that is live now:
    each phase gets its own peak, not one raised by pages that earlier phases freed but malloc kept."""
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
    except (OSError, AttributeError):
        pass  # elsewhere the peak stays the process's peak so far: an upper bound


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


@contextmanager
def measured(record: dict):
    """Fills `record` with wall_s, cpu_s (this process, all threads) and peak_rss_mb of the block, and the machine's
    load average at its end (how busy the shared machine was)."""
    reset_peak_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    yield record
    record.update(wall_s=round(time.perf_counter() - wall, 3), cpu_s=round(time.process_time() - cpu, 3),
                  peak_rss_mb=round(peak_rss_mb(), 1), load_average_1min=os.getloadavg()[0])


class StepTimer(TrainerCallback):
    """Wall and CPU time of every optimizer step but the first, which is a warm-up (optimizer state is created
    lazily). A step runs from one on_step_end to the next, so it includes fetching and collating its batch."""

    def __init__(self):
        self.marks: list[tuple[float, float]] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.marks.append((time.perf_counter(), time.process_time()))

    def steps(self) -> dict[str, list[float]]:
        pairs = list(zip(self.marks, self.marks[1:]))
        return {"step_wall_s": [round(b[0] - a[0], 4) for a, b in pairs],
                "step_cpu_s": [round(b[1] - a[1], 4) for a, b in pairs]}


def command_line(script: str, argv: list[str] | None) -> str:
    """How to run `script` again with the options it was given (the command line's, where `argv` is None)."""
    return "python " + shlex.join([script, *(sys.argv[1:] if argv is None else argv)])


def machine() -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return {
        "cpu_model": cpu_model,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
    }
