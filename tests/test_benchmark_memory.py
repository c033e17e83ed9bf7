"""benchmarks/memory.py's instrument and its bar: a job's exit code, output and own peak memory, however much memory
the process that starts it holds; the throughput and settings parts' order and what they compare; the headline read
from whichever parts have run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks import memory
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


class ShortRun:
    """Job's stand-in for the short run.py runs: records what it was started with and writes the train_results.json
    and trainer_state.json a run would, with the training speed `speeds` gives its tree (or a failure at 0)."""

    started: list[dict] = []
    speeds: dict[str, list[float]] = {}

    def __init__(self, command, cwd, log, env=None):
        self.command, self.env = command, env

    def run(self) -> dict:
        tree = "base" if "/base/" in self.command[1] else "new"
        speed = self.speeds[tree][sum(s["tree"] == tree for s in self.started)]
        self.started.append({"tree": tree, "args": self.command[2:], "env": self.env})
        output = Path(self.command[self.command.index("--output_dir") + 1])
        if not speed:
            return {"exit_code": 1}
        output.mkdir(parents=True)
        (output / "train_results.json").write_text(json.dumps({"train_samples_per_second": speed}))
        losses = [0.7, 0.5 if "--gradient_checkpointing" not in self.command else 0.6]
        (output / "trainer_state.json").write_text(json.dumps({"log_history": [{"loss": v} for v in losses]}))
        return {"exit_code": 0}


@pytest.fixture
def short_runs(monkeypatch) -> type[ShortRun]:
    monkeypatch.setattr(ShortRun, "started", [])
    monkeypatch.setattr(ShortRun, "speeds", {})
    monkeypatch.setattr(memory, "Job", ShortRun)
    return ShortRun


def test_throughput_alternates_the_trees_and_gives_the_median_of_each_rounds_own_ratio(tmp_path, short_runs):
    """ABBA, so that neither tree always runs first on a machine that warms up or slows down; a round with a
    failed run gives no ratio."""
    short_runs.speeds = {"base": [10, 10, 10, 10, 10], "new": [11, 12, 0, 13, 9]}
    result = memory.throughput(memory.parse(["--rounds", "5", "--steps", "3"]), tmp_path, tmp_path / "base",
                               tmp_path / "checker")
    assert [s["tree"] for s in short_runs.started] == ["base", "new", "new", "base", "base", "new", "new", "base",
                                                       "base", "new"]
    assert all(s["args"][s["args"].index("--max_steps") + 1] == "3" for s in short_runs.started)
    assert result["ratio_new_over_base_per_round"] == [1.1, 1.2, 1.3, 0.9]
    assert result["ratio_new_over_base"] == pytest.approx(1.15)


def test_settings_runs_each_in_turn_with_its_environment_and_says_which_changed_the_losses(tmp_path, short_runs):
    short_runs.speeds = {"new": [10] * 10}
    result = memory.settings(memory.parse(["--settings_rounds", "2"]), tmp_path, tmp_path / "checker")
    names = [run["setting"] for run in result["runs"]]
    assert names == [*memory.SETTINGS, *reversed(memory.SETTINGS)]
    for run, started in zip(result["runs"], short_runs.started):
        env, extra = memory.SETTINGS[run["setting"]]
        assert env.items() <= started["env"].items()
        assert started["args"][started["args"].index("--logging_steps") + 2:] == extra
        assert run["same_losses"] is (run["setting"] != "gradient_checkpointing")


def test_parts_not_asked_for_keep_their_earlier_results_and_the_headline_reads_them(tmp_path, monkeypatch):
    earlier = {"phases": {"new": {"peak_rss_mb": 2900.0}, "base": {"peak_rss_mb": 4100.0}},
               "throughput": {"ratio_new_over_base": 1.02}, "step": {"old": True}}
    (tmp_path / "memory.json").write_text(json.dumps(earlier))
    monkeypatch.setattr(memory, "export_base", lambda commit, work: work / "base")

    def step_while_another_run_writes_its_part(model):
        (tmp_path / "memory.json").write_text(json.dumps({**earlier, "settings": {"runs": []}}))
        return {"activations_mb": 12.0}
    monkeypatch.setattr(memory, "step_breakdown", step_while_another_run_writes_its_part)
    argv = ["--parts", "step", "--output", str(tmp_path / "memory.json"), "--work_dir", str(tmp_path / "work")]
    results = memory.main(argv)
    assert results["phases"] == earlier["phases"] and results["throughput"] == earlier["throughput"]
    assert results["settings"] == {"runs": []}  # a part another memory.py wrote meanwhile
    assert results["step"]["activations_mb"] == 12.0 and "old" not in results["step"]
    assert results["step"]["command"] == " ".join(["python benchmarks/memory.py", *argv])
    assert results["peak_rss_mb"] == 2900.0 and results["throughput_new_over_base"] == 1.02
    assert json.loads((tmp_path / "memory.json").read_text()) == results
