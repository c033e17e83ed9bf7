"""benchmarks/memory.py's instrument and its bar: a job's exit code, output and own peak memory, however much memory
the process that starts it holds; the headline read from whichever parts have run."""

from __future__ import annotations

import sys

import pytest

from benchmarks.memory import Job, headline

HOLD_300_MB = ("import sys, time\n"
               "block = bytearray(300 * 2**20)\n"
               "block[::4096] = b'\\x01' * len(block[::4096])  # touched: resident\n"
               "print('held', flush=True)\n"
               "time.sleep(0.6)  # long enough for the 5-per-second sampler\n"
               "sys.exit(3)\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sampler reads /proc")
def test_a_job_reports_its_exit_code_its_output_and_its_own_peak(tmp_path):
    job = Job([sys.executable, "-c", HOLD_300_MB], tmp_path, tmp_path / "log.txt", {"JOB_TEST": "1"}).run()
    assert job["exit_code"] == 3 and (tmp_path / "log.txt").read_text() == "held\n"
    assert 300 < job["peak_rss_mb"] < 400  # the child's, not this process's
    assert job["peak_anon_mb_sampled"] > 290 and job["peak_file_mb_sampled"] < job["peak_rss_mb"]
    assert job["wall_s"] >= 0.6 and 0 <= job["other_processes_cpu_share"] <= 1


def test_a_job_that_cannot_start_says_where_to_read_why(tmp_path):
    with pytest.raises(RuntimeError, match="no-such-program did not start: .*log.txt says why"):
        Job([str(tmp_path / "no-such-program")], tmp_path, tmp_path / "log.txt").run()
    assert "No such file or directory" in (tmp_path / "log.txt").read_text()


def test_the_headline_takes_what_the_parts_that_ran_give():
    assert headline({}) == {}
    phases = {"new": {"peak_rss_mb": 2900.0, "test_accuracy": 0.7, "test_f1": 0.6},
              "base": {"peak_rss_mb": 4100.0, "test_accuracy": 0.7, "test_f1": 0.6}}
    scale = {"runs": [{"tree": "new", "pairs": 100_000, "peak_rss_mb": 800.0},
                      {"tree": "base", "pairs": 100_000, "peak_rss_mb": 3000.0},
                      {"tree": "new", "pairs": 1_000_000, "peak_rss_mb": 1000.0},
                      {"tree": "base", "pairs": 1_000_000, "peak_rss_mb": 9000.0}]}
    assert headline({"phases": phases, "throughput": {"ratio_new_over_base": 1.02}, "scale": scale}) == {
        "peak_rss_mb": 2900.0, "peak_rss_mb_base": 4100.0, "same_test_metrics": True,
        "throughput_new_over_base": 1.02, "scale_peak_ratio": 1.25}  # the new tree's 1M pairs over its 100k
    phases["new"]["test_f1"] = 0.61
    assert headline({"phases": phases})["same_test_metrics"] is False
    assert "scale_peak_ratio" not in headline({"scale": {"runs": scale["runs"][:2]}})  # one size: no growth to give
