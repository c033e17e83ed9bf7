"""What the benchmarks measure with: a phase's wall time, CPU time and its own memory peak; each training step's
times, the warm-up step left out."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from benchmarks import measure
from benchmarks.measure import StepTimer, measured


def test_a_step_runs_from_one_step_end_to_the_next_and_the_first_step_is_not_timed(monkeypatch):
    wall, cpu = iter([10.0, 11.5, 14.0]), iter([100.0, 102.0, 107.0])
    monkeypatch.setattr(measure.time, "perf_counter", lambda: next(wall))
    monkeypatch.setattr(measure.time, "process_time", lambda: next(cpu))
    timer = StepTimer()
    for _ in range(3):  # the ends of the warm-up step and of two timed steps
        timer.on_step_end(None, None, None)
    assert timer.steps() == {"step_wall_s": [1.5, 2.5], "step_cpu_s": [2.0, 5.0]}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the peak is reset through /proc")
def test_a_phase_gets_its_own_memory_peak_not_one_an_earlier_phase_raised():
    big, quiet = {}, {}
    with measured(big):
        block = bytearray(400 * 2**20)
        block[::4096] = b"\x01" * len(block[::4096])  # touch every page: resident, not only reserved
        del block
    with measured(quiet):
        time.sleep(0.05)
    resident_mb = int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())[1]) / 1024
    assert big["peak_rss_mb"] - quiet["peak_rss_mb"] > 300
    assert abs(quiet["peak_rss_mb"] - resident_mb) < 2  # in MB of 1024 kB, as the RSS the kernel reports
    assert quiet["wall_s"] >= 0.05 and quiet["cpu_s"] < quiet["wall_s"]  # sleeping takes no CPU time
    assert set(quiet) == {"wall_s", "cpu_s", "peak_rss_mb", "load_average_1min"}
