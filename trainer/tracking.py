"""W&B logging that never blocks or crashes a run: offline mode when there is no key or no network."""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
from pathlib import Path

from accelerate import PartialState

from references.models import is_local_path, short_name
from references.network import answers
from trainer.atomic import write_json_atomic
from references.wandb_refs import wandb_api_key_configured, wandb_dir, wandb_mode, wandb_server

logger = logging.getLogger(__name__)

PROJECT = "DIMP-Loss"
RUN_FILE = "wandb_run.json"


def _wandb_reachable() -> bool:
    return answers(wandb_server())


def _init(run_name: str | None, config: dict, tags: list[str], job_type: str, run_id: str | None):
    """wandb.init's tags and job_type would replace WANDB_TAGS and WANDB_JOB_TYPE: the user's are kept beside ours."""
    import wandb

    tags = [short_name(tag) if is_local_path(tag) else tag[-64:] for tag in tags if tag]  # W&B's limit: 64 characters
    tags += [tag for tag in os.environ.get("WANDB_TAGS", "").split(",") if tag and tag not in tags]
    return wandb.init(project=os.environ["WANDB_PROJECT"], name=run_name, config=config, tags=tags,
                      job_type=os.environ.get("WANDB_JOB_TYPE") or job_type,
                      **({"id": run_id, "resume": "allow"} if run_id else {}))


def _recorded_id(folder: Path) -> str | None:
    """The W&B run a run's output folder records (RUN_FILE), if any."""
    try:
        run_id = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))["id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return run_id if isinstance(run_id, str) and run_id else None


def _set_mode(mode: str) -> None:
    """WANDB_MODE for the next wandb.init, the Trainer's too: the client reads its environment once per session, so
    the session a failed start left is ended first."""
    import wandb

    try:
        wandb.teardown()
    except Exception:
        pass
    os.environ["WANDB_MODE"] = mode


def _gist(err: Exception) -> str:
    """An error without the page a server sent with it, which would fill the log."""
    text = " ".join(str(err).split())
    return text.split("<")[0].strip(" :") or type(err).__name__


class Tracker:
    """The run's W&B run, or nothing when W&B is off; every method is safe to call either way."""

    def __init__(self, run=None, config: dict | None = None):
        self.run = run
        self.config = config or {}  # the run's settings as resolved_config.json records them

    @classmethod
    def start(cls, report_to: list[str], run_name: str | None, config: dict, tags: list[str],
              resumed: str | None = None, job_type: str = "run") -> "Tracker":
        """The W&B run; with `resumed` (a checkpoint), the run that wrote it continues, where it recorded one."""
        if "wandb" not in report_to:
            return cls()
        if (mode := wandb_mode()) == "disabled":  # the settings files only when asked
            os.environ["WANDB_MODE"] = "disabled"  # for the Trainer's W&B callback too, where WANDB_DISABLED said so
            return cls()
        if not PartialState().is_main_process:  # one W&B run per job, the main process's, where the Trainer logs
            return cls()
        if mode not in ("offline", "dryrun") and not (wandb_api_key_configured() and _wandb_reachable()):
            os.environ["WANDB_MODE"] = "offline"
            logger.warning("W&B: no API key or no network, so logging offline to %s (upload later with `wandb sync`).",
                           wandb_dir())
        os.environ.setdefault("WANDB_PROJECT", PROJECT)
        run_id = _recorded_id(Path(resumed).parent) if resumed else None
        if run_id:
            logger.info("W&B: continuing run %s, which the checkpoint's run logged to", run_id)
        try:
            return cls(_init(run_name, config, tags, job_type, run_id), config)
        except Exception as err:  # W&B failing must never stop training
            if wandb_mode() not in ("offline", "dryrun"):  # a server that answers but fails: once, then offline
                logger.warning("W&B: could not start a run on %s (%s); logging offline to %s instead (upload later "
                               "with `wandb sync`).", wandb_server(), _gist(err), wandb_dir())
                _set_mode("offline")
                try:
                    return cls(_init(run_name, config, tags, job_type, run_id), config)
                except Exception as again:
                    err = again
            _set_mode("disabled")  # so that the Trainer's own W&B callback does not try (and wait) again
            logger.warning("W&B: could not start a run (%s); continuing without W&B.", _gist(err))
            return cls()

    def record(self, folder: Path) -> None:
        """Which W&B run this is, in the run's output folder: a resume continues it, and the model links to it."""
        if self.run is not None:
            write_json_atomic(folder / RUN_FILE, {"id": self.run.id, "project": self.run.project,
                                                  "entity": self.run.entity or None, "name": self.run.name})

    def log_artifact(self, folder: Path, name: str, kind: str, leave_out: tuple[str, ...] = ()) -> None:
        """`folder` as an artifact, less what the shell patterns `leave_out` name at its top level."""
        if self.run is None:
            return
        allowed = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or kind  # W&B's characters ("my run/v1")
        if allowed != name:
            logger.info("W&B: logging artifact %s as %s, in the characters W&B allows", name, allowed)
        try:
            import wandb

            artifact = wandb.Artifact(name=allowed, type=kind)
            kept = [entry for entry in sorted(folder.iterdir())
                    if not any(fnmatch.fnmatch(entry.name, pattern) for pattern in leave_out)]
            for entry in kept:
                if entry.is_dir():
                    artifact.add_dir(str(entry), name=entry.name)
                else:
                    artifact.add_file(str(entry), name=entry.name)
            self.run.log_artifact(artifact)
        except Exception as err:
            logger.warning("W&B: could not log artifact %s (%s)", allowed, err)

    def log_summary(self, metrics: dict) -> None:
        if self.run is None:
            return
        try:
            self.run.summary.update(metrics)
            # The Trainer's W&B callback wrote its own arguments over the config, those the run sets for itself
            # among them (metric_for_best_model null where the last epoch is kept): the settings as resolved win.
            self.run.config.update(self.config, allow_val_change=True)
        except Exception as err:  # the results are written by now: W&B failing must not fail the run
            logger.warning("W&B: could not record the final metrics in the run's summary (%s)", err)

    def finish(self) -> None:
        if self.run is None:
            return
        offline = self.run.settings.mode == "offline" if hasattr(self.run, "settings") else False
        run_dir = Path(self.run.dir).parent
        # A resumed run's earlier parts too: each is a folder of the same run id.
        parts = sorted(run_dir.parent.glob(f"offline-run-*-{getattr(self.run, 'id', '')}")) or [run_dir]
        try:
            self.run.finish()
        except Exception as err:
            logger.warning("W&B: could not finish the run (%s); what it logged so far is in %s", err, run_dir)
            return
        if offline:
            logger.warning("W&B run saved offline. Upload it with: wandb sync %s", " ".join(map(str, parts)))
