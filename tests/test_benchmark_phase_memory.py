"""benchmarks/phase_memory.py on this tree: the functions it wraps exist under the names it wraps, and a DIMP run
through it records each phase once at its outermost level (a checker build's own training is the build's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import phase_memory
from benchmarks.measure import reset_peak_rss

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def recorder(monkeypatch) -> phase_memory.Recorder:
    """A recorder without its sampling thread: memory is read only where a phase begins and ends."""
    monkeypatch.setattr(phase_memory.threading, "Thread", lambda **kwargs: SimpleNamespace(start=lambda: None))
    recorder = phase_memory.Recorder()
    recorder.end()  # of the imports
    return recorder


def test_a_phase_sums_its_calls_and_a_call_inside_another_phase_is_that_phase_s(recorder):
    jobs = SimpleNamespace(inner=lambda: time.sleep(0.02))
    jobs.outer = lambda: (jobs.inner(), time.sleep(0.03))
    recorder.wrap(jobs, "outer", "outer phase")
    recorder.wrap(jobs, "inner", "inner phase")
    jobs.outer(), jobs.outer(), jobs.inner()
    phases = recorder.phases  # unrounded
    assert [phase["phase"] for phase in recorder.result()] == ["imports", "outer phase", "inner phase"]
    assert (phases["outer phase"]["calls"], phases["inner phase"]["calls"]) == (2, 1)
    assert phases["outer phase"]["wall_s"] >= 0.1 and phases["inner phase"]["wall_s"] >= 0.02
    assert recorder.current is None


def test_a_phase_s_peaks_are_the_highest_of_its_readings_and_a_phase_that_raises_ends(recorder, monkeypatch):
    readings = iter([{"VmRSS": 100, "VmHWM": 100, "RssAnon": 60, "RssFile": 40},  # as the phase begins
                     {"VmRSS": 80, "VmHWM": 100, "RssAnon": 70, "RssFile": 10}])  # as it ends
    monkeypatch.setattr(phase_memory, "status", lambda: next(readings))

    def fails():
        raise RuntimeError("stopped")

    jobs = SimpleNamespace(fails=fails)
    recorder.wrap(jobs, "fails", "failing phase")
    with pytest.raises(RuntimeError):
        jobs.fails()
    phase = recorder.phases["failing phase"]
    assert (phase["peak_rss_mb"], phase["peak_anon_mb"], phase["peak_file_mb"]) == (100, 70, 40)
    assert (phase["rss_start_mb"], phase["rss_end_mb"], recorder.current) == (100, 80, None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the peak is reset through /proc")
def test_a_peak_between_two_samples_is_still_the_phase_s_peak(recorder):
    reset_peak_rss()  # the process's peak from here: only a rise this test makes raises it

    def spike():
        block = bytearray(300 * 2**20)
        block[::4096] = b"\x01" * len(block[::4096])

    jobs = SimpleNamespace(spike=spike)
    recorder.wrap(jobs, "spike", "spike")
    jobs.spike()
    phase = recorder.phases["spike"]
    assert phase["peak_rss_mb"] - max(phase["rss_start_mb"], phase["rss_end_mb"]) > 250


def _recorded_run(config: dict, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """run.py on `config` under benchmarks/phase_memory.py, in a process of its own; what it recorded."""
    path, out = tmp_path / "config.json", tmp_path / "phases.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "phase_memory.py"), str(ROOT), str(out), "run",
                           str(path)], env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    return done, json.loads(out.read_text()) if out.is_file() else {}  # none: the assertion shows stderr


@pytest.mark.slow
def test_a_run_is_recorded_phase_by_phase(tiny_config, tmp_path):
    done, record = _recorded_run({**tiny_config, "problem_type": "single_label_classification_dimp"}, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert record["exit_code"] == 0 and (Path(tiny_config["output_dir"]) / "all_results.json").is_file()
    phases = {phase["phase"]: phase for phase in record["phases"]}
    assert set(phases) == {"imports", "reading", "checker build", "checker scoring", "weights table", "model loading",
                           "tokenization", "training", "evaluation", "saving"}
    assert phases["checker build"]["calls"] == phases["training"]["calls"] == phases["reading"]["calls"] == 1
    assert phases["evaluation"]["calls"] == 2  # the validation split's evaluate, the test split's predict
    assert all(value == round(value, 1) for phase in phases.values() for value in phase.values()
               if isinstance(value, float))
    assert sum(phase["wall_s"] for phase in phases.values()) <= record["wall_s"]
    for phase in phases.values():  # /proc's counters and getrusage's may differ by a few pages
        assert phase["rss_start_mb"] <= phase["peak_rss_mb"] <= record["peak_rss_mb"] + 1, phase
        assert phase["peak_anon_mb"] + phase["peak_file_mb"] >= phase["peak_rss_mb"] - 1, phase


def test_a_job_that_fails_is_recorded_with_its_exit_status(tiny_config, tmp_path):
    done, record = _recorded_run({**tiny_config, "train_file": "toy/missing.jsonl"}, tmp_path)
    assert done.returncode == 2 and record["exit_code"] == 2, done.stderr[-2000:]


@pytest.mark.parametrize("argv, status, stream", [(["--help"], 0, "out"), (["-h"], 0, "out"), ([], 2, "err"),
                                                  (["."], 2, "err")])
def test_asked_for_help_or_given_too_few_arguments_it_shows_its_usage(capsys, argv, status, stream):
    assert phase_memory.main(argv) == status
    assert "python benchmarks/phase_memory.py ROOT OUT.json run|score CONFIG" in getattr(capsys.readouterr(), stream)
