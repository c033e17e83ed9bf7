"""Command lines: `python run.py [CONFIG.json] [--key value ...] [--debug]`, score.py alike, and predict.py."""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import sys
from contextlib import contextmanager, nullcontext
from typing import Callable

import transformers
from transformers.training_args import trainer_log_levels

from trainer.progress import library_bars_off
from references.wandb_refs import ArtifactError
from checkers.scoring import CheckerError
from config.arguments import PredictArguments
from config.help import render
from config.loading import ConfigError, load_arguments, load_config
from data.files import DataError
from trainer.atomic import NO_ROOM
from trainer.diverged import TrainingDiverged

USER_ERRORS = (ConfigError, DataError, ArtifactError, CheckerError, TrainingDiverged)
# What a command writes, for the error of a full disk: the OSError rarely names the file.
DISK_FULL_HINTS = {
    "run": "a run writes its data files to data_work_dir (default: the system's temporary folder; about twice the "
           "data's size), its model and checkpoints to output_dir and its checkers to their folders; free space "
           "there, or set data_work_dir to a folder with room",
    "predict": "predict.py writes its output (and --metrics_output) through a temporary file beside it; free "
               "space in that folder, or write to another",
}
FILE_TOO_LARGE = ("a file outgrew the size this process may write (`ulimit -f`) or its file system allows; raise the "
                  "limit, or write to another file system")


class Terminated(BaseException):
    """SIGTERM (`kill`, `timeout`, a scheduler's preemption), raised where the process is: the run then ends as on
    Ctrl-C, its finally blocks and exit handlers removing its temporary data, where the signal's default would end
    it on the spot and leave them behind."""


class _StdoutHandler(logging.StreamHandler):
    """Log lines to stdout. Once its reader has gone (`head`, a pager quit early), the run stops with one line
    (until_stopped), where every line would print a 'Logging error' traceback until a print() ended the run
    mid-epoch."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            raise
        super().handleError(record)


def _setup_logging() -> None:
    # Under torchrun the other processes log at warning from the start, as log_level_replica sets them once the
    # config is read, so that the config's own INFO lines are printed once too.
    replica = int(os.environ.get("LOCAL_RANK", "0")) != 0
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=logging.WARNING if replica else logging.INFO, handlers=[_StdoutHandler(sys.stdout)])
    transformers.utils.logging.set_verbosity_warning()


def main(argv: list[str] | None = None, command: str = "run") -> int:
    """`command` is run (train) or score, the app.pipeline function called with the config, or predict."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        try:
            print(render(command), flush=True)
        except BrokenPipeError:  # read by `head` or a pager that was closed: no traceback, and none at exit
            _stdout_to_devnull()
        return 0
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    _setup_logging()
    try:
        return until_stopped(lambda: _run(command, argv), f"{command}.py")
    except USER_ERRORS as err:
        if debug:
            raise
        message = " ".join(str(err).split()).encode("utf-8", "backslashreplace").decode()  # one line of text
        _tell(f"error: {message}")
        return 2
    except OSError as err:
        if err.errno not in NO_ROOM or debug:
            raise
        hint = FILE_TOO_LARGE if err.errno == errno.EFBIG else DISK_FULL_HINTS.get(command, DISK_FULL_HINTS["run"])
        _tell(f"error: {os.strerror(err.errno)}{f' ({err.filename})' if err.filename else ''}: {hint}")
        return 2
    finally:
        _end_process_group()


def until_stopped(work: Callable[[], int | None], name: str) -> int:
    """The exit status of `work` (0 for None), or where Ctrl-C, SIGTERM or the reader of stdout going away stops
    it, one line and the shell's status for that signal: it ends through its finally blocks and exit handlers,
    cleaning up, where SIGPIPE's default would end it on the spot."""
    try:
        with sigterm_raises():
            return work() or 0
    except KeyboardInterrupt:
        _tell("interrupted")
        return 130
    except Terminated:
        _tell("terminated")
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        _stdout_to_devnull()
        _tell(f"error: stdout was closed (the program reading it, such as head or a pager, exited), so {name} "
              "stopped; send its output to a file to read it as it goes")
        return 128 + signal.SIGPIPE


def _tell(line: str) -> None:
    """One line to stderr in one write, where print makes two (the text, then the newline): under torchrun the
    processes share stderr, and their lines ran into one another."""
    sys.stderr.write(line + "\n")


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (its write end polls as an error)."""
    poller = select.poll()
    poller.register(sys.stdout.fileno(), select.POLLOUT)
    return any(event & select.POLLERR for _, event in poller.poll(0))


def _stdout_to_devnull() -> None:
    """No more writes to a closed stdout: the interpreter's last flush would print a traceback of its own."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@contextmanager
def sigterm_raises():
    """SIGTERM raises Terminated in this process while the command runs, once: a second SIGTERM (sent to the
    process group and passed on by a parent, as the grid does) would cut the cleanup short. A process forked
    meanwhile (a DataLoader worker) keeps the signal's default; so does a process whose SIGTERM is ignored or
    handled already."""
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    pid = os.getpid()

    def handler(signum, frame):
        if os.getpid() != pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        signal.signal(signum, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(command: str, argv: list[str]) -> None:
    # The options are read first: a mistake in them is told before the seconds that importing the Trainer takes.
    if command == "predict":
        args = load_arguments(PredictArguments, argv)
        from app.predict import predict

        predict(args)
        return
    config_file = argv[0] if argv and not argv[0].startswith("--") else None
    cfg = load_config(config_file, argv[1:] if config_file else argv, command)
    from app import pipeline

    _process_log_level(cfg.training)
    cfg.command = [*_launcher(), f"{command}.py", *argv]
    with library_bars_off() if cfg.training.disable_tqdm else nullcontext():  # no progress bar at all, as asked
        getattr(pipeline, command)(cfg)


def _launcher() -> list[str]:
    """What started this process, for the model card's command: python, or torchrun (accelerate launch alike) with
    as many processes, which the global batch depends on."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return ["python"]
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    nodes = ["--nnodes", str(world // local)] if local != world else []
    return ["torchrun", *nodes, "--nproc_per_node", str(local)]


def _process_log_level(args) -> None:
    """The project's own logs at the Trainer's levels: `log_level` in the main process (unless passive), and
    `log_level_replica` in the others under torchrun (warning by default: each INFO line is printed once)."""
    level = trainer_log_levels[args.log_level if args.should_log else args.log_level_replica]
    if level >= 0:
        logging.getLogger().setLevel(level)


def _end_process_group() -> None:
    """Under torchrun, leave the process group cleanly; exiting with it open can crash at interpreter shutdown."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
