"""W&B logging never blocks or stops a run: without a key or a network it logs offline and says how to upload;
a W&B that fails to start, to take an artifact or at the run's end leaves the run going without it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import wandb

from trainer import tracking
from trainer.tracking import Tracker


@pytest.fixture
def wandb_dir(tmp_path, monkeypatch):
    import wandb

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    for variable in ("WANDB_MODE", "WANDB_PROJECT", "WANDB_DISABLED"):  # unset, and so again after the test, whatever
        monkeypatch.setenv(variable, "")                             # the Tracker set meanwhile
        monkeypatch.delenv(variable)
    # W&B keeps process-wide settings (the folder among them) from its first setup, which an earlier test may have
    # made (after test_faults' W&B run, a new run here came back without its tags): each test starts afresh.
    wandb.teardown()
    yield tmp_path
    wandb.teardown()


def _wandb_cli(command: str, folder: Path) -> None:
    """`wandb offline` or `wandb disabled`, as a user runs it in `folder`: it writes the workspace's settings file."""
    subprocess.run([sys.executable, "-m", "wandb", command], check=True, capture_output=True, cwd=folder, timeout=120)


@pytest.mark.parametrize("key, reachable", [(None, True), ("k" * 40, False)], ids=["no_key", "no_network"])
def test_without_a_key_or_a_network_wandb_logs_offline_and_says_how_to_upload(
        wandb_dir, wandb_artifacts_without_key, monkeypatch, caplog, key, reachable):
    if key:
        monkeypatch.setenv("WANDB_API_KEY", key)
    monkeypatch.setattr(tracking, "_wandb_reachable", lambda: reachable)
    with caplog.at_level(logging.WARNING):
        tracker = Tracker.start(["wandb"], "a-run", {"learning_rate": 1e-4}, ["x" * 40 + "y" * 60, ""])
        assert tracker.run is not None and tracker.run.settings.mode == "offline"
        assert tracker.run.project == tracking.PROJECT
        # W&B refuses tags over 64 characters: a long one keeps its end (a model path's last part); empty ones go
        assert list(tracker.run.tags) == ["x" * 4 + "y" * 60]
        tracker.log_summary({"test_accuracy": 0.5})
        assert tracker.run.summary["test_accuracy"] == 0.5
        saved = Path(tracker.run.dir).parent
        tracker.finish()
    assert f"no API key or no network, so logging offline to {wandb_dir / 'wandb'} (upload" in caplog.text
    assert f"W&B run saved offline. Upload it with: wandb sync {saved}" in caplog.messages
    assert saved.parent == wandb_dir / "wandb" and saved.name.startswith("offline-run-")


def test_the_users_wandb_tags_and_job_type_are_kept_and_a_local_model_is_tagged_by_its_folders_name(
        wandb_dir, wandb_artifacts_without_key, monkeypatch):
    """wandb.init's own tags and job_type replaced WANDB_TAGS and WANDB_JOB_TYPE, and a model folder's tag was the
    end of its absolute path."""
    model = wandb_dir / "models" / "my-bert"
    model.mkdir(parents=True)
    monkeypatch.setenv("WANDB_MODE", "offline")
    tracker = Tracker.start(["wandb"], "a-run", {}, ["mrpc", str(model), "single_label_classification_dimp"])
    assert list(tracker.run.tags) == ["mrpc", "my-bert", "single_label_classification_dimp"]
    assert tracker.run.job_type == "run"
    tracker.finish()
    monkeypatch.setenv("WANDB_TAGS", "ablation,mrpc")
    monkeypatch.setenv("WANDB_JOB_TYPE", "sweep")
    tracker = Tracker.start(["wandb"], "a-run", {}, ["mrpc", "score"], job_type="score")
    assert list(tracker.run.tags) == ["mrpc", "score", "ablation"]
    assert tracker.run.job_type == "sweep"
    tracker.finish()
    monkeypatch.delenv("WANDB_JOB_TYPE")
    tracker = Tracker.start(["wandb"], "a-run", {}, ["mrpc", "score"], job_type="score")
    assert tracker.run.job_type == "score"
    tracker.finish()


@pytest.mark.parametrize("base_url, address", [(None, (urlsplit(str(wandb.Settings().base_url)).hostname, 443)),
                                               ("http://localhost:8080", ("localhost", 8080))])
def test_the_network_looked_for_is_the_w_and_b_servers(wandb_artifacts_without_key, monkeypatch, base_url, address):
    """A W&B server of one's own (WANDB_BASE_URL) was taken to be unreachable when api.wandb.ai was, so the run
    logged offline."""
    if base_url:
        monkeypatch.setenv("WANDB_BASE_URL", base_url)
    for variable in ("no_proxy", "NO_PROXY"):  # whatever proxy the machine has: direct
        monkeypatch.setenv(variable, "*")
    tried = []
    monkeypatch.setattr("socket.create_connection", lambda where, timeout: tried.append(where) or
                        SimpleNamespace(close=lambda: None))
    assert tracking._wandb_reachable() and tried == [address]


@pytest.mark.parametrize("report_to, mode", [(["tensorboard"], "offline"), (["wandb"], "disabled"),
                                             (["wandb"], "wandb disabled"), (["wandb"], "WANDB_DISABLED")])
def test_wandb_is_not_started_unless_asked(wandb_dir, monkeypatch, report_to, mode):
    if mode == "wandb disabled":  # in the workspace's settings file
        _wandb_cli("disabled", wandb_dir)
    elif mode == "WANDB_DISABLED":  # as transformers before 5 read it, and users of the authors' code set it
        monkeypatch.setenv("WANDB_DISABLED", "true")
    else:
        monkeypatch.setenv("WANDB_MODE", mode)
    tracker = Tracker.start(report_to, None, {}, [])
    assert tracker.run is None and not list(wandb_dir.glob("wandb/*run*"))
    if mode == "WANDB_DISABLED":
        assert os.environ["WANDB_MODE"] == "disabled"  # the Trainer's W&B callback, which no longer reads it, too
    tracker.log_artifact(wandb_dir, "checker", "model")
    tracker.log_summary({"test_accuracy": 0.5})
    tracker.finish()  # each a no-op


def test_a_project_the_user_named_is_kept(wandb_dir, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_PROJECT", "my-project")
    started = {}
    monkeypatch.setattr(wandb, "init", lambda **kwargs: started.update(kwargs))
    Tracker.start(["wandb"], None, {}, [])
    assert started["project"] == "my-project"


@pytest.mark.parametrize("mode", ["offline", "dryrun", "wandb offline"])  # dryrun: wandb's older name for offline
def test_offline_logging_asked_for_neither_looks_for_the_network_nor_warns(wandb_dir, monkeypatch, caplog, mode):
    """`wandb offline` asks for it in the workspace's settings file, which the run read as asking for nothing."""
    import wandb

    if mode == "wandb offline":
        _wandb_cli("offline", wandb_dir)
    else:
        monkeypatch.setenv("WANDB_MODE", mode)
    monkeypatch.setattr(tracking, "_wandb_reachable", lambda: pytest.fail("the network was looked for"))
    monkeypatch.setattr(wandb, "init", lambda **kwargs: SimpleNamespace(**kwargs))
    with caplog.at_level(logging.WARNING):
        assert Tracker.start(["wandb"], None, {}, []).run is not None
    assert "logging offline" not in caplog.text


def test_wandb_failing_to_start_or_to_take_an_artifact_leaves_the_run_going(wandb_dir, monkeypatch, caplog):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")

    def refuse(*args, **kwargs):
        raise RuntimeError("wandb.init timed out")

    with caplog.at_level(logging.WARNING), monkeypatch.context() as patched:
        patched.setattr(wandb, "init", refuse)
        assert Tracker.start(["wandb"], None, {}, []).run is None
    assert "could not start a run (wandb.init timed out); continuing without W&B" in caplog.text
    assert os.environ["WANDB_MODE"] == "disabled"  # the Trainer's W&B callback does not try (and wait) again
    monkeypatch.setenv("WANDB_MODE", "offline")
    tracker = Tracker.start(["wandb"], None, {}, [])
    with caplog.at_level(logging.WARNING):
        tracker.log_artifact(wandb_dir / "no-such-folder", "checker", "model")
    tracker.finish()
    assert "could not log artifact checker" in caplog.text


def test_a_w_and_b_server_that_fails_to_start_a_run_is_tried_once_then_the_run_logs_offline(
        wandb_dir, wandb_artifacts_without_key, monkeypatch, caplog):
    """A server that accepts the connection but answers with an error page (or not at all, until wandb's timeout):
    the Trainer's W&B callback tried again, waiting as long, and no offline files were kept."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setattr(tracking, "_wandb_reachable", lambda: True)
    tried, init = [], wandb.init

    def online_fails(*args, **kwargs):
        tried.append(os.environ["WANDB_MODE"])
        if os.environ["WANDB_MODE"] == "online":
            raise RuntimeError("Error 502: <!DOCTYPE HTML>\n<html><body>Bad gateway</body></html>")
        return init(*args, **kwargs)

    monkeypatch.setattr(wandb, "init", online_fails)
    with caplog.at_level(logging.WARNING):
        tracker = Tracker.start(["wandb"], "a-run", {}, [])
        assert tried == ["online", "offline"] and tracker.run.settings.mode == "offline"
        tracker.finish()
    started = [m for m in caplog.messages if m.startswith("W&B: could not start")]
    assert len(started) == 1 and "(Error 502); logging offline to" in started[0] and "html" not in caplog.text


def test_a_server_that_answers_every_request_with_an_error_leaves_an_offline_run(
        wandb_dir, wandb_artifacts_without_key, monkeypatch, caplog):
    """The wandb client itself, against a web server that is not W&B's: a client session that failed to start keeps
    its settings, so the offline retry went online again unless that session was ended first."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)  # 501 to all
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "local-" + "0" * 40)
    try:
        with caplog.at_level(logging.WARNING, logger="trainer.tracking"):
            tracker = Tracker.start(["wandb"], "a-run", {"learning_rate": 1e-4}, [])
            assert tracker.run is not None and tracker.run.settings.mode == "offline"
            tracker.finish()
    finally:
        server.shutdown()
    assert sum(m.startswith("W&B: could not start a run on http://127.0.0.1") for m in caplog.messages) == 1
    assert list((wandb_dir / "wandb").glob("offline-run-*"))


def test_an_artifact_named_in_characters_w_and_b_refuses_is_logged_under_a_name_it_allows(wandb_dir, monkeypatch,
                                                                                          caplog):
    """save_model logs the model under the config's `name`: "my run/v1:x" was refused after training, and the model
    was not logged."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    tracker = Tracker.start(["wandb"], None, {}, [])
    logged = []
    monkeypatch.setattr(tracker.run, "log_artifact", lambda artifact: logged.append(artifact.name))
    (wandb_dir / "model").mkdir()
    (wandb_dir / "model" / "config.json").write_text("{}")
    with caplog.at_level(logging.INFO, logger="trainer.tracking"):
        tracker.log_artifact(wandb_dir / "model", "my run/v1:x", "model")
        tracker.log_artifact(wandb_dir / "model", "quality-checker_mrpc_all-MiniLM-L6-v2", "model")
    tracker.finish()
    assert logged == ["my-run-v1-x", "quality-checker_mrpc_all-MiniLM-L6-v2"]
    assert "could not log" not in caplog.text and "logging artifact my run/v1:x as my-run-v1-x" in caplog.text


def test_a_model_artifact_leaves_out_the_checkpoints(wandb_dir, monkeypatch):
    """save_model logged the whole output folder: every checkpoint's optimizer state and RNG files with the model."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    tracker = Tracker.start(["wandb"], None, {}, [])
    logged = []
    monkeypatch.setattr(tracker.run, "log_artifact", lambda artifact: logged.append(sorted(artifact.manifest.entries)))
    out = wandb_dir / "out"
    for name in ("model.safetensors", "README.md", "checkpoint-2/optimizer.pt", "real_set_finetune/checkpoint-4/x",
                 "plots/weights.png"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("x")
    tracker.log_artifact(out, "model_toy", "model", leave_out=("checkpoint-*", "real_set_finetune"))
    tracker.log_artifact(out / "plots", "checker", "model")  # a checker's folder: all of it, as it is
    tracker.finish()
    assert logged == [["README.md", "model.safetensors", "plots/weights.png"], ["weights.png"]]


def test_the_w_and_b_config_ends_as_the_settings_resolved_config_json_records(wandb_dir, monkeypatch):
    """The Trainer's W&B callback writes its arguments over the config, those the run sets for itself among them:
    metric_for_best_model was null there and "accuracy" in resolved_config.json."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    tracker = Tracker.start(["wandb"], None, {"metric_for_best_model": "accuracy", "seed": 3}, [])
    tracker.run.config.update({"metric_for_best_model": None, "logging_dir": "x"}, allow_val_change=True)
    tracker.log_summary({"test_accuracy": 0.5})
    assert (tracker.run.config["metric_for_best_model"], tracker.run.config["seed"]) == ("accuracy", 3)
    assert tracker.run.config["logging_dir"] == "x"  # the Trainer's own arguments stay beside them
    tracker.finish()


def test_wandb_failing_at_the_runs_end_leaves_the_results_as_they_are(tmp_path, caplog):
    """The final metrics go to W&B once they are saved, and the run is finished as the job ends: a W&B whose
    background process has gone fails there, and the run must still end well (the model card comes after)."""
    def gone(*args, **kwargs):
        raise BrokenPipeError("the W&B service has gone")

    tracker = Tracker(SimpleNamespace(settings=SimpleNamespace(mode="offline"), dir=str(tmp_path / "run" / "files"),
                                      summary=SimpleNamespace(update=gone), finish=gone))
    with caplog.at_level(logging.WARNING):
        tracker.log_summary({"test_accuracy": 0.5})
        tracker.finish()
    assert caplog.messages == [
        "W&B: could not record the final metrics in the run's summary (the W&B service has gone)",
        f"W&B: could not finish the run (the W&B service has gone); what it logged so far is in {tmp_path / 'run'}"]


@pytest.mark.parametrize("given, named", [({}, "from-config"), ({"run_name": "from-cli"}, "from-cli")])
def test_run_name_where_given_names_the_w_and_b_run_over_the_configs_name(tiny_config, tmp_path, monkeypatch, given,
                                                                          named):
    """Every shipped config sets `name`: a --run_name on the command line was recorded, and not used."""
    import app.pipeline
    from config.loading import load_config

    names = []
    monkeypatch.setattr(Tracker, "start",
                        classmethod(lambda cls, report_to, name, *rest, **options: names.append(name) or cls()))
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "name": "from-config"}))
    app.pipeline.score(load_config(str(path), [f"--{k}={v}" for k, v in given.items()], command="score"))
    assert names == [named]


def test_a_resumed_run_continues_the_w_and_b_run_its_checkpoint_logged_to(tiny_config, wandb_dir, monkeypatch,
                                                                           caplog):
    """It started a second, unlinked W&B run of the same name, its steps counted from 0 again."""
    from app.pipeline import run
    from config.loading import load_config

    monkeypatch.setenv("WANDB_MODE", "offline")
    path = wandb_dir / "config.json"
    path.write_text(json.dumps({**tiny_config, "report_to": "wandb", "num_train_epochs": 1,
                                      "save_strategy": "epoch"}))
    out = Path(tiny_config["output_dir"])
    run(load_config(str(path)))
    first = json.loads((out / tracking.RUN_FILE).read_text())["id"]
    wandb.teardown()
    with caplog.at_level(logging.WARNING, logger="trainer.tracking"):
        run(load_config(str(path), ["--num_train_epochs", "2", "--resume_from_checkpoint", "last"]))
    assert json.loads((out / tracking.RUN_FILE).read_text())["id"] == first
    runs = sorted((wandb_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(path.name.endswith(f"-{first}") for path in runs)
    assert f"W&B run saved offline. Upload it with: wandb sync {runs[0]} {runs[1]}" in caplog.messages
    wandb.teardown()
    run(load_config(str(path), ["--overwrite_output_dir", "true"]))  # started over: a run of its own
    assert json.loads((out / tracking.RUN_FILE).read_text())["id"] != first
