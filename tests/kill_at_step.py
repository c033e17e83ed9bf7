"""Run by tests/test_faults.py: `python run.py`, but the process sends itself KILL_SIGNAL (default SIGKILL) right
after optimizer step KILL_AT_STEP."""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import TrainerCallback  # noqa: E402

import trainer.fitting  # noqa: E402
import app.pipeline  # noqa: E402
from app.cli import main  # noqa: E402

KILL_AT = int(os.environ["KILL_AT_STEP"])
SIGNAL = signal.Signals[os.environ.get("KILL_SIGNAL", "SIGKILL")]


class KillAt(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == KILL_AT:
            os.kill(os.getpid(), SIGNAL)


def make_trainer_that_dies(*args, **kwargs):
    built = trainer.fitting.make_trainer(*args, **kwargs)
    built.add_callback(KillAt())
    return built


app.pipeline.make_trainer = make_trainer_that_dies
sys.exit(main(sys.argv[1:]))
