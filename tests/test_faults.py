"""Faults: a run killed mid-epoch resumes to the same result; W&B failing mid-run does not stop training;
run.py under torchrun with two processes gives the same losses and model as one process; two runs started together
build a checker they share once."""

from __future__ import annotations

import errno
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from config.loading import load_config
from conftest import weights_rows, write_long_texts
from app.output_dir import claim_output_dir
from app.pipeline import run
from trainer.locks import hold
from trainer.selection import PREDICTIONS_FILE

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra) -> dict:
    """The environment for a subprocess, read when it starts (after the fixtures' monkeypatching)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **extra}


def _torchrun(config: str, *options: str, script: Path = ROOT / "run.py") -> list[str]:
    return ["torchrun", "--standalone", "--nproc_per_node", "2", *options, str(script), config]


def _write(tmp_path, config: dict, name="config.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.slow
# Killed in the middle of the second epoch: 8 steps an epoch, or 12 with the 32 real examples joined (the recommended
# config's method). The first also keeps what a run carries from epoch to epoch beside its checkpoints: the sum of the
# epochs' weights (average_checkpoints) and each epoch's validation predictions.
@pytest.mark.parametrize("extra, kill_at, last_checkpoint", [
    ({"average_checkpoints": True, "save_validation_predictions": True}, 11, 9),
    ({"real_set_in_training": True}, 17, 15)], ids=["dimp_averaged", "dimp_real_set_joined"])
def test_killed_run_resumes_to_the_same_final_metrics(tiny_config, tmp_path, extra, kill_at, last_checkpoint):
    # data_work_dir: the killed run's data files, which a SIGKILL leaves behind, go to tmp_path, not $TMPDIR.
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "num_train_epochs": 3,
              "save_strategy": "steps", "save_steps": 3, "save_total_limit": 2, "eval_strategy": "epoch",
              "data_work_dir": str(tmp_path / "work"), **extra}
    reference = run(load_config(_write(tmp_path, {**config, "output_dir": str(tmp_path / "whole")}, "whole.json")))

    interrupted = _write(tmp_path, {**config, "output_dir": str(tmp_path / "killed")}, "killed.json")
    killed = subprocess.run([sys.executable, str(ROOT / "tests" / "kill_at_step.py"), interrupted],
                            env=_env(KILL_AT_STEP=str(kill_at)), capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "killed" / "all_results.json").exists()
    assert (tmp_path / "killed" / f"checkpoint-{last_checkpoint}").is_dir()

    resumed = subprocess.run([sys.executable, str(ROOT / "run.py"), interrupted, "--resume_from_checkpoint", "last"],
                             env=_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    results = json.loads((tmp_path / "killed" / "all_results.json").read_text())
    for key in ("test_accuracy", "test_f1", "test_loss", "eval_loss", "train_loss"):  # train_loss: every step's mean
        assert results[key] == pytest.approx(reference[key], rel=1e-5, abs=1e-7), key
    # Each logged interval's loss and mean weight, the one the kill cut too (the model card's epoch table shows them)
    logged = [[{k: v for k, v in entry.items() if k in ("step", "loss", "train_weight_mean")}
               for entry in json.loads((tmp_path / folder / "trainer_state.json").read_text())["log_history"]
               if "loss" in entry] for folder in ("whole", "killed")]
    assert len(logged[0]) == 3 and [e["step"] for e in logged[1]] == [e["step"] for e in logged[0]]
    for whole, continued in zip(*logged):
        assert continued == pytest.approx(whole, rel=1e-5), (whole, continued)
    if extra.get("save_validation_predictions"):
        with np.load(tmp_path / "whole" / PREDICTIONS_FILE) as whole, \
                np.load(tmp_path / "killed" / PREDICTIONS_FILE) as continued:
            assert set(continued.files) == set(whole.files) == {"epoch1", "epoch2", "epoch3", "final", "labels"}
            for name in whole.files:
                assert np.allclose(continued[name], whole[name], atol=1e-6), name


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_a_torchrun_run_killed_mid_epoch_resumes_to_the_same_steps(tiny_config, tmp_path):
    """Length-grouped batches, two processes, killed in the second epoch: the resumed epoch takes the interrupted
    one's order (accelerate's set_epoch did not reach the sampler once the resume wrapped it to skip the batches
    done, so it drew epoch 0's), and every example's weight of that epoch is recorded."""
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "num_train_epochs": 3,
              "train_sampling_strategy": "group_by_length", "per_device_train_batch_size": 4,
              "save_strategy": "steps", "save_steps": 3, "eval_strategy": "epoch", "logging_strategy": "steps",
              "logging_steps": 1, "data_work_dir": str(tmp_path / "work")}
    whole = _write(tmp_path, {**config, "output_dir": str(tmp_path / "whole")}, "whole.json")
    killed = _write(tmp_path, {**config, "output_dir": str(tmp_path / "killed")}, "killed.json")
    for command, env in ((_torchrun(whole), _env()),
                         (_torchrun(killed, script=ROOT / "tests" / "kill_at_step.py"), _env(KILL_AT_STEP="11")),
                         (_torchrun(killed) + ["--resume_from_checkpoint", "last"], _env())):
        ended = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if "KILL_AT_STEP" in env:  # 8 steps an epoch: the resume starts mid-epoch 2
            assert sorted(p.name for p in (tmp_path / "killed").glob("checkpoint-*"))[-1] == "checkpoint-9"
        else:
            assert ended.returncode == 0, ended.stderr[-2000:]

    def logged(out):
        return [(e["step"], e["loss"], e["train_weight_mean"]) for e in
                json.loads((tmp_path / out / "trainer_state.json").read_text())["log_history"] if "loss" in e]

    assert len(logged("whole")) == 24 and logged("killed") == pytest.approx(logged("whole"), rel=1e-5)
    assert weights_rows(tmp_path / "killed") == weights_rows(tmp_path / "whole")


def test_a_terminated_run_removes_its_temporary_data(tiny_config, tmp_path):
    """SIGTERM (`kill`, `timeout`, a scheduler's preemption) mid-training: the run ends as on Ctrl-C, status 143 and
    one line, removing the Arrow and token files of its data (the signal's default would leave them behind)."""
    work = tmp_path / "work"
    config = _write(tmp_path, {**tiny_config, "problem_type": "single_label_classification_dimp",
                               "data_work_dir": str(work)})
    ended = subprocess.run([sys.executable, str(ROOT / "tests" / "kill_at_step.py"), config],
                           env=_env(KILL_AT_STEP="3", KILL_SIGNAL="SIGTERM"), capture_output=True, text=True,
                           timeout=300)
    assert ended.returncode == 128 + signal.SIGTERM, ended.stderr[-2000:]
    assert ended.stderr.splitlines()[-1] == "terminated" and "Traceback" not in ended.stderr
    assert work.is_dir() and not any(work.iterdir())
    assert not (tmp_path / "out" / "all_results.json").exists()
    # Started with SIGTERM ignored (as nohup does with SIGHUP), it stays ignored: the run goes on to its end.
    ignored = subprocess.run([sys.executable, str(ROOT / "tests" / "kill_at_step.py"), config,
                              "--overwrite_output_dir", "true"],
                             env=_env(KILL_AT_STEP="3", KILL_SIGNAL="SIGTERM"), capture_output=True, text=True,
                             timeout=300, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    assert ignored.returncode == 0, ignored.stderr[-2000:]
    assert (tmp_path / "out" / "all_results.json").exists()


def test_a_run_whose_output_reader_has_gone_stops_in_one_line(tiny_config, tmp_path):
    """`python run.py ... | head`: once head has exited, each log line printed a 'Logging error' traceback, and the
    Trainer's first print() ended the run mid-epoch with one more. It now stops at the first line it cannot write,
    as the shell's default for SIGPIPE would, but cleanly: one line, status 141, its temporary data removed."""
    work = tmp_path / "work"
    config = _write(tmp_path, {**tiny_config, "data_work_dir": str(work)})
    run = subprocess.Popen([sys.executable, str(ROOT / "run.py"), config], env=_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    for line in run.stdout:  # until its data is read, so that there are temporary files to remove
        if "Task:" in line:
            break
    run.stdout.close()  # as head does once it has its lines
    stderr = run.stderr.read()
    assert run.wait(timeout=300) == 128 + signal.SIGPIPE, stderr[-2000:]
    assert stderr.splitlines()[-1].startswith("error: stdout was closed (the program reading it, such as head or a "
                                              "pager, exited), so run.py stopped")
    assert "Traceback" not in stderr and "Logging error" not in stderr
    assert work.is_dir() and not any(work.iterdir())


def test_a_broken_pipe_other_than_stdout_is_not_taken_for_a_closed_output(capfd):
    """Only stdout's reader going away stops a run in one line; a pipe the run itself writes (a worker's, a
    socket's) breaking is an error of its own, with its traceback."""
    from app.cli import until_stopped

    def work():
        raise BrokenPipeError(errno.EPIPE, "a worker's pipe")

    with pytest.raises(BrokenPipeError, match="a worker's pipe"):
        until_stopped(work, "run.py")
    assert "stdout was closed" not in capfd.readouterr().err


def test_each_line_to_stderr_is_one_write(tmp_path, monkeypatch):
    """Processes that share stderr, as torchrun's do, each wrote the text and then the newline (print's two
    writes, stderr being unbuffered): two processes' errors ran into one line."""
    from app.cli import main, until_stopped

    def interrupted():
        raise KeyboardInterrupt  # Ctrl-C's: a suite started as a background job inherits SIGINT ignored

    writes = []
    monkeypatch.setattr(sys, "stderr", type("Stderr", (), {"write": staticmethod(writes.append)})())
    assert main([str(tmp_path / "missing.json")]) == 2
    assert until_stopped(interrupted, "run.py") == 130
    said = [w for w in writes if w.startswith(("error:", "interrupted"))]
    assert len(said) == 2 and said[0].endswith("missing.json: config file not found\n"), writes
    assert said[1] == "interrupted\n"


def test_a_second_sigterm_does_not_cut_the_cleanup_short():
    """The same signal twice (sent to the process group, and passed on by a parent such as the grid) ends the run
    once: the second, arriving while the first unwinds it, would raise again inside its cleanup."""
    from app.cli import Terminated, sigterm_raises

    cleaned = []
    with pytest.raises(Terminated):
        with sigterm_raises():
            try:
                signal.raise_signal(signal.SIGTERM)
            finally:
                signal.raise_signal(signal.SIGTERM)
                cleaned.append(True)
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_process_forked_while_sigterm_raises_keeps_the_signals_default():
    """A DataLoader worker, forked from the run, ends on SIGTERM as a process does: raising Terminated there would
    unwind a copy of the run's stack, cleaning up what the run still uses."""
    from app.cli import sigterm_raises

    with sigterm_raises():
        pid = os.fork()
        if pid == 0:
            try:
                signal.raise_signal(signal.SIGTERM)
            finally:
                os._exit(3)  # only when the signal raised instead of ending the process
        _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_a_full_disk_is_one_error_line(tiny_config, tmp_path, monkeypatch, capsys):
    """No space left while the data files are written (data_work_dir on a small tmpfs, as measured by hand): one
    line saying what the run writes where, not pyarrow's traceback. The disk is made full by the writer raising
    what pyarrow raises then."""
    from app.cli import main

    def full(self):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr("data.store.TextColumns._flush", full)
    config = _write(tmp_path, {**tiny_config, "data_work_dir": str(tmp_path / "work")})
    assert main([config]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith("error:")]
    assert err.startswith("error: No space left on device: a run writes its data files to data_work_dir")
    with pytest.raises(OSError):
        main([config, "--debug"])


@pytest.fixture
def small_disk(tmp_path):
    """A 200 KB file system (tmpfs), where this process may mount one (root with CAP_SYS_ADMIN, as in CI)."""
    folder = tmp_path / "small"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)], capture_output=True,
                      check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)  # the failed save may leave a file open here


@pytest.mark.parametrize("where", ["data_work_dir", "output_dir", "quality_checker_model"])
def test_a_disk_that_fills_up_is_one_error_line(tiny_config, tmp_path, capsys, small_disk, where):
    """A real full disk: data_work_dir while the data's Arrow files are written (pyarrow's OSError), output_dir
    while the first checkpoint is saved (torch.save reports it as a RuntimeError, without its errno), a checker's
    folder while it is built, whose half-written files then go, leaving the space they took."""
    from app.cli import main

    changes = {
        "data_work_dir": {"data_work_dir": str(small_disk),
                          "train_file": str(write_long_texts(tmp_path / "long.jsonl", 1000))},
        "output_dir": {"output_dir": str(small_disk / "out"), "save_strategy": "epoch"},
        "quality_checker_model": {"quality_checker_model": str(small_disk / "quality"),
                                  "problem_type": "single_label_classification_dimp"},
    }[where]
    assert main([_write(tmp_path, {**tiny_config, **changes})]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith("error: No space left on device")
    if where == "output_dir":
        assert err.startswith(f"error: No space left on device ({small_disk / 'out'}): a run writes")
    if where == "quality_checker_model":
        assert not any(small_disk.iterdir())


def test_a_file_past_the_size_limit_is_one_error_line(tiny_config, tmp_path):
    """`ulimit -f` (or a file system's own cap) fails a write with EFBIG: it was a traceback, not the one line a full
    disk gets. Here the checker's weights, the first large file the run writes, outgrow a 60 KB limit."""
    config = _write(tmp_path, {**tiny_config, "problem_type": "single_label_classification_dimp"})

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    done = subprocess.run([sys.executable, str(ROOT / "run.py"), config], capture_output=True, text=True,
                          cwd=tmp_path, preexec_fn=limited, timeout=600, env=_env())
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr[-2000:]
    assert done.stderr.startswith("error: File too large (") and "`ulimit -f`" in done.stderr
    assert not (tmp_path / "checkers" / "quality").exists()  # the half-built checker went with the run


def test_wandb_failing_mid_run_does_not_stop_training(tiny_config, tmp_path, monkeypatch, caplog):
    """Nor what the run sends W&B at its end: the final metrics to the run's summary, and with save_model the
    model as an artifact."""
    import wandb

    from trainer.tracking import Tracker

    monkeypatch.chdir(tmp_path)
    summaries, log_summary, artifacts, log_artifact = [], Tracker.log_summary, [], Tracker.log_artifact
    monkeypatch.setattr(Tracker, "log_summary", lambda self, metrics: summaries.append(dict(metrics))
                        or log_summary(self, metrics))
    monkeypatch.setattr(Tracker, "log_artifact", lambda self, *args, **kwargs: artifacts.append((*args, kwargs))
                        or log_artifact(self, *args, **kwargs))
    monkeypatch.setenv("WANDB_MODE", "offline")
    calls = []

    def broken_log(self, *args, **kwargs):
        calls.append(1)
        raise ConnectionError("wandb.ai unreachable")

    # wandb.init rebinds the module-level wandb.log to the run's method, so break it on the class.
    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", broken_log)
    with caplog.at_level(logging.WARNING):
        metrics = run(load_config(_write(tmp_path, {**tiny_config, "report_to": "wandb", "save_model": True})))
    assert len(calls) == 1, "the W&B callback never logged, or tried again after it failed"
    assert "test_accuracy" in metrics and summaries[0]["test_accuracy"] == metrics["test_accuracy"]
    assert [(Path(folder), kind) for folder, _, kind, _ in artifacts[-1:]] == [(Path(tiny_config["output_dir"]),
                                                                                 "model")]
    assert "checkpoint-*" in artifacts[-1][-1]["leave_out"]  # the model, without its checkpoints
    assert caplog.text.count("W&B failed during") == 1 and "W&B failed during on_log" in caplog.text
    assert list((tmp_path / "wandb").glob("offline-run-*")), "offline files were not kept"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
@pytest.mark.parametrize("problem_type, extra, steps", [
    ("single_label_classification_imp", {"logging_steps": 3}, 2),  # steps 7 and 8 logged only in train_loss
    ("single_label_classification_dimp", {}, 8),
    ("single_label_classification_dimp", {"real_set_in_training": True}, 12),  # the recommended config's method
], ids=["imp", "dimp", "dimp_real_set_joined"])
def test_run_py_under_torchrun_matches_one_process(tiny_config, tmp_path, problem_type, extra, steps):
    config = {**tiny_config, "problem_type": problem_type, "train_sampling_strategy": "random", "logging_strategy": "steps",
              "logging_steps": 1, "num_train_epochs": 1, "eval_strategy": "no", "optim": "sgd", "learning_rate": 0.05,
              "checker_batch_size": 8, **extra}
    single = run(load_config(_write(tmp_path, {**config, "per_device_train_batch_size": 8,
                                               "output_dir": str(tmp_path / "one")}, "one.json")))
    # the two processes build their own checkers: checker_batch_size is the whole batch, as it is for one process
    two = _write(tmp_path, {**config, "per_device_train_batch_size": 4, "output_dir": str(tmp_path / "two"),
                            "report_to": "wandb", "quality_checker_model": str(tmp_path / "checkers2" / "quality"),
                            "diversity_checker_model": str(tmp_path / "checkers2" / "diversity")}, "two.json")
    result = subprocess.run(_torchrun(two), env=_env(WANDB_MODE="offline", WANDB_DIR=str(tmp_path)),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((tmp_path / "wandb").glob("offline-run-*"))) == 1  # one W&B run for the job, not one per process
    assert (result.stdout + result.stderr).count("INFO data.task: Task: 2 labels") == 1  # the other at warning
    assert "parallel_mode != ParallelMode.DISTRIBUTED" not in result.stderr  # no single-process arguments made

    def logged(out, key="loss"):
        history = json.loads((tmp_path / out / "trainer_state.json").read_text())["log_history"]
        return [h[key] for h in history if "loss" in h]

    assert len(logged("one")) == steps
    assert logged("two") == pytest.approx(logged("one"), rel=1e-4)
    two_results = json.loads((tmp_path / "two" / "all_results.json").read_text())
    assert two_results["train_loss"] == pytest.approx(single["train_loss"], rel=1e-6)  # every step's, all processes'
    # the mean weight of the step's whole batch, not of the main process's half
    assert logged("two", "train_weight_mean") == pytest.approx(logged("one", "train_weight_mean"), abs=1e-4)
    models = [("one", "two")] + [(f"checkers/{role}", f"checkers2/{role}") for role in ("quality", "diversity")
                                 if (tmp_path / "checkers" / role).exists()]
    for alone, together in models:
        one_weights = load_file(tmp_path / alone / "model.safetensors")
        two_weights = load_file(tmp_path / together / "model.safetensors")
        for name, tensor in one_weights.items():
            assert torch.allclose(tensor, two_weights[name], atol=1e-6), (together, name)
    results = json.loads((tmp_path / "two" / "all_results.json").read_text())
    assert results["test_accuracy"] == pytest.approx(single["test_accuracy"])
    # the card's config to reproduce the run leaves out the use_cpu and ddp_backend torchrun on CPU sets itself; its
    # command starts as many processes, which the global batch depends on
    card = (tmp_path / "two" / "README.md").read_text()
    assert '"use_cpu"' not in card and f"\ntorchrun --nproc_per_node 2 run.py {two}\n" in card


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_under_torchrun_an_output_dir_another_run_writes_stops_every_process_in_one_line(tiny_config, tmp_path):
    """Only the main process can tell that another run holds output_dir; told nothing, the other went on to train
    alone and ended in a gloo traceback once the main one had stopped."""
    out = tmp_path / "taken"
    release = claim_output_dir(str(out))  # this test's process is the other run
    try:
        # torchrun stops the other processes once one has ended, at its next look (every 0.1 s by default). Looking
        # every 3 s, it leaves the other process time to print its own line on a busy machine.
        job = subprocess.run(_torchrun(_write(tmp_path, {**tiny_config, "output_dir": str(out)}), "--monitor-interval",
                                       "3"), env=_env(), capture_output=True, text=True, timeout=300)
    finally:
        release()
    lines = job.stderr.splitlines()
    refused = f"error: output_dir: another run is writing to {out.resolve()}; give this one another output_dir"
    assert job.returncode != 0 and lines.count(refused) == 2, job.stderr[-3000:]
    assert not any(line.startswith("[rank") for line in lines), job.stderr[-3000:]
    assert [p.name for p in tmp_path.iterdir() if p.name != "config.json"] == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_under_torchrun_every_process_waits_for_a_checker_another_run_is_building(tiny_config, tmp_path):
    """The main process waits for the other run's lock, the others for the main process: one that went on alone
    found no checker, began to build it and waited forever for the main one, which had gone on to train."""
    config = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    run(load_config(_write(tmp_path, {**config, "output_dir": str(tmp_path / "first")}, "first.json")))
    quality = Path(config["quality_checker_model"])
    quality.rename(tmp_path / "built")
    release = hold(quality.with_name("quality.lock"))  # the other run, building the checker
    log = tmp_path / "torchrun.log"
    with log.open("w") as output:
        job = subprocess.Popen(_torchrun(_write(tmp_path, {**config, "output_dir": str(tmp_path / "second")})),
                               env=_env(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while "waiting for it" not in log.read_text():
                assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            (tmp_path / "built").rename(quality)
            release()
            assert job.wait(timeout=120) == 0, log.read_text()[-3000:]
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
    assert f"reusing the checker cached in {quality}" in log.read_text()
    assert "training the quality checker" not in log.read_text()
    assert (tmp_path / "second" / "all_results.json").exists()


@pytest.mark.slow
def test_two_runs_started_together_build_their_shared_checker_once(tiny_config, tmp_path):
    """Each used to build the checker into the same folder and delete the other's half-built one (the other then
    stopped with a traceback): now one builds it and the other, having waited, reuses it."""
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "checker_num_train_epochs": 3}
    runs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), _write(tmp_path, {**config, "output_dir": str(
        tmp_path / name)}, f"{name}.json")], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name in ("first", "second")]
    logs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], logs
    assert sum("training the quality checker" in log for log in logs) == 1
    assert sum("reusing the checker cached in" in log for log in logs) == 1
    assert sum("another run is finding or building the checker in" in log for log in logs) <= 1
    checkers = Path(config["quality_checker_model"]).parent
    assert [p.name for p in checkers.iterdir()] == ["quality"]  # no half-built folder, no lock file left
