"""What a run may find in its output_dir, and the checks that keep it from writing where it must not: into a
file, among its own inputs, among files this project did not write, or over earlier results unless asked."""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from accelerate import PartialState
from accelerate.utils import broadcast_object_list
from filelock import Timeout
from transformers import TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from config.arguments import ARGUMENT_CLASSES
from config.loading import ConfigError, RunConfig
from config.records import differences
from data.files import find_data_path
from references.models import corrupt_checkpoint, is_local_path
from references.wandb_refs import local_artifact_dir, looks_like_artifact_ref, parse_artifact_ref
from reports.model_card import CARD_FILE
from reports.weight_report import CSV_FILE, REPORT_FILE
from trainer.atomic import unwritable
from trainer.fitting import FINETUNE_DIR
from trainer.locks import hold
from trainer.selection import PREDICTIONS_FILE
from trainer.tracking import RUN_FILE

logger = logging.getLogger(__name__)

# Files whose presence means the folder holds a finished (or started) run's results; the model card is among them,
# so that a README.md already in output_dir is never replaced unasked.
RESULT_MARKERS = ("all_results.json", "train_results.json", "test_results.json", "resolved_config.json", CARD_FILE)
# Results a run writes only in some configurations (a test split, a weighted loss, save_validation_predictions), and
# all_results.json, which merges the others: a run started over in a folder removes the earlier run's, which would
# otherwise stand beside its own as if they were its.
# What makes a folder a run's: two of its files together (a resolved_config.json copied out of a run, to rerun it,
# marks none). score.py's report with its weights.csv marks score.py's.
RUN_MARKS = (("resolved_config.json", "trainer_state.json"), ("resolved_config.json", f"{PREFIX_CHECKPOINT_DIR}-*"),
             (REPORT_FILE, CSV_FILE))
EARLIER_RESULTS = ("*_results.json", CSV_FILE, REPORT_FILE, "weights_by_*.png", PREDICTIONS_FILE, RUN_FILE)
# The earlier run's checkpoints go too: resume_from_checkpoint true takes the highest-numbered checkpoint, which would
# be the earlier run's wherever it trained more steps, and resume it in place of this run.
EARLIER_CHECKPOINTS = (f"{PREFIX_CHECKPOINT_DIR}-*", FINETUNE_DIR)  # FINETUNE_DIR: real_set_finetune_epochs' phase
# Every name this project writes into an output_dir (shell patterns). overwrite_output_dir may replace these and
# nothing else: a folder holding anything more is not a run's output folder.
OWN_FILES = (
    *RESULT_MARKERS, *EARLIER_RESULTS, "trainer_state.json",  # results (eval_, test_1_, ...), the weights report
    *EARLIER_CHECKPOINTS, "runs",  # checkpoints; TensorBoard's logs when report_to names it
    # the trained model, as save_model writes it (the tokenizer files depend on the tokenizer's kind)
    "config.json", "generation_config.json", "model.safetensors", "model-*-of-*.safetensors",
    "model.safetensors.index.json", "training_args.bin", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "spiece.model",
    "spm.model", "sentencepiece.bpe.model", "tokenizer.model", "chat_template.jinja",
    ".*.tmp",  # an atomic write interrupted before its rename (trainer/atomic.py)
    "run.log",  # experiments/grid.py's log of the cell, opened before run.py starts
    "wandb",  # W&B's offline runs, in the working directory, where output_dir is that folder (never removed)
)
# What an operating system leaves in any folder a file browser opened.
SYSTEM_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")
# Options naming a data file the run reads.
DATA_KEYS = ("train_file", "validation_file", "test_file", "augmented_train_file", "split_file",
             "noise_unrelated_file", "quality_checker_train_file", "quality_checker_validation_file")
# Options naming a folder the run reads: a model, a checker (built there when missing), a W&B artifact.
FOLDER_KEYS = ("model_name_or_path", "checker_base_model", "quality_checker_model", "diversity_checker_model",
               "wandb_dataset", "wandb_augmented_dataset", "wandb_generalization_dataset")


# Options of this project's own that a resume may change: they say what is reported, where things are kept, or
# when training stops, not what model is trained. Every other option of its own is part of the recipe below, so that a
# new option is compared unless it is listed here.
RESUMABLE_OWN_OPTIONS = (
    "test_file", "max_predict_samples", "wandb_generalization_dataset", "track_test_each_epoch",
    "save_validation_predictions", "overwrite_output_dir",
    "pad_to_max_length", "data_work_dir", "cache_dir", "trust_remote_code", "allow_pickle_checkpoints",
    "ignore_mismatched_sizes", "name", "save_model",
)
# TrainingArguments' own settings that shape the model, or choose the one kept. (Early stopping's options are the
# project's own, compared above: a resume restores its count, and the checkpoint's options with it.)
TRAINING_RECIPE_KEYS = (
    "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "weight_decay", "adam_beta1",
    "adam_beta2", "adam_epsilon", "max_grad_norm", "lr_scheduler_type", "warmup_steps", "optim", "seed", "data_seed",
    "train_sampling_strategy", "label_smoothing_factor", "load_best_model_at_end", "metric_for_best_model",
    "greater_is_better",
)
_UPSTREAM = frozenset(f.name for f in dataclasses.fields(TrainingArguments))
# The settings that make the model a checkpoint holds, as resolved_config.json records them: a resume must keep them,
# or the run's records (resolved_config.json, the model card) would describe a model it did not train.
RECIPE_KEYS = tuple(f.name for cls in ARGUMENT_CLASSES for f in dataclasses.fields(cls)
                    if f.name not in _UPSTREAM and f.name not in RESUMABLE_OWN_OPTIONS) + TRAINING_RECIPE_KEYS


def is_own(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in OWN_FILES)


def _inputs(cfg: RunConfig, command: str) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """The data files and the folders (models, checkers, W&B artifacts) the run reads, resolved, by option."""
    options = {**asdict(cfg.model), **asdict(cfg.data), **asdict(cfg.checkers)}
    files = [(key, find_data_path(options[key])) for key in DATA_KEYS if options[key]]
    roles = set(cfg.needed_checkers(command))
    folders = []
    for key in FOLDER_KEYS:
        value = options[key]
        if not value or (key.endswith("_checker_model") and key.split("_")[0] not in roles):
            continue  # a checker the config names but this command never reads
        if looks_like_artifact_ref(value):  # every wandb_ option is one: RunConfig.check parsed them
            folders.append((key, local_artifact_dir(parse_artifact_ref(value, key))))
        elif is_local_path(value):  # a checker folder that does not exist yet is built there
            folders.append((key, Path(value).expanduser()))
    return ([(key, path.resolve()) for key, path in files if path is not None],
            [(key, path.resolve()) for key, path in folders])  # paths the OS cannot resolve were refused in check()


def _refuse_inputs(out: Path, cfg: RunConfig, command: str) -> None:
    files, folders = _inputs(cfg, command)
    for key, path in files:
        if out in path.parents:
            raise ConfigError(f"output_dir: {out} holds {key} {path}; the run would write among its own inputs. "
                              "Choose an output_dir outside the data folders")
    for key, path in folders:
        relation = "is" if path == out else "holds" if out in path.parents else "is inside" if path in out.parents \
            else None
        if relation:
            raise ConfigError(f"output_dir: {out} {relation} the {key} folder {path}; the run would write its model "
                              "and results among what it reads. Choose an output_dir outside it")
    config = Path(cfg.source).resolve() if cfg.source else None
    if config is not None and config.parent == out and is_own(config.name):
        raise ConfigError(f"output_dir: {out} is where the config file {cfg.source} lies, and the run writes its own "
                          f"{config.name} there; keep the config outside output_dir or give it another name")


def remove_earlier_results(out: Path) -> None:
    """Once a run started over (overwrite_output_dir) is past its checks, the earlier run's EARLIER_RESULTS and
    EARLIER_CHECKPOINTS go."""
    earlier = sorted([path for pattern in EARLIER_RESULTS for path in out.glob(pattern) if path.is_file()]
                     + [path for pattern in EARLIER_CHECKPOINTS for path in out.glob(pattern) if path.is_dir()])
    for path in earlier:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:  # a file, or a link (removed, not what it points to)
            path.unlink()
    if earlier:
        logger.info("Removed the earlier run's results and checkpoints from %s: %s", out,
                    ", ".join(p.name for p in earlier))


def claim_output_dir(output_dir: str) -> Callable[[], None]:
    """Held while this run writes `output_dir`: another run started into it meanwhile (a sweep that did not change
    it) is refused, where both would pass check_output_dir and mix their results. The lock file lies in the system's
    temporary folder, so that nothing is written to output_dir before the run writes its results: runs on other
    machines, or with another $TMPDIR, are not seen. The lock ends with the run, or its process, and the run removes
    its file, so that a sweep leaves none behind. Returns what releases it. Under torchrun the main process holds it,
    and every process is told whether it got it."""
    state = PartialState()
    out = Path(output_dir).expanduser().resolve()
    release, refused = (lambda: None), [False]
    if state.is_main_process:
        try:
            release = hold(_lock_file(out), timeout=0)
        except Timeout:
            refused = [True]
    if state.num_processes > 1:
        broadcast_object_list(refused)
    if refused[0]:
        _refuse_busy(out)
    return release


def _lock_file(out: Path) -> Path:
    digest = hashlib.sha256(str(out).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dimp-output-{digest}.lock"


def _refuse_busy(out: Path) -> None:
    raise ConfigError(f"output_dir: another run is writing to {out}; give this one another output_dir")


def _refuse_if_busy(out: Path) -> None:
    """A folder that holds results because another run is writing them now: said so, rather than that it holds
    results, whose advice (overwrite_output_dir) the claim on it would then refuse. (Every process looks; one that
    meets a sibling's look waits a moment for it.)"""
    try:
        hold(_lock_file(out), timeout=0.5)()
    except Timeout:
        _refuse_busy(out)


def _refuse_inside_a_run(out: Path) -> None:
    """A run's folder holds its own files only: one inside another's made that folder one a rerun with
    overwrite_output_dir refuses (it holds files this project did not write), and its results beside the other's."""
    for folder in out.parents:
        marker = next((first for first, second in RUN_MARKS if (folder / first).is_file() and any(folder.glob(second))),
                      None)
        if marker:
            raise ConfigError(f"output_dir: {out} is inside {folder}, the folder of another run (it holds {marker}); "
                              "give a folder outside it")


def _refuse_foreign(out: Path, config: Path | None) -> None:
    foreign = sorted(p.name for p in out.iterdir()
                     if not is_own(p.name) and p.name not in SYSTEM_FILES and p.resolve() != config)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ConfigError(f"output_dir: {out} holds files this project did not write ({shown}); choose a new or "
                          "empty folder (overwrite_output_dir only replaces a run's own results and checkpoints)")


def dangling_link(path: Path) -> str | None:
    """Why nothing can be created at `path`: it, or a folder above it, is a symbolic link to nothing (a missing
    folder would simply be made; one through a broken link cannot)."""
    link = next((p for p in (path.absolute(), *path.absolute().parents) if p.is_symlink() and not p.exists()), None)
    return None if link is None else f"{link} is a symbolic link to {os.readlink(link)}, which does not exist"


def file_in_the_way(path: Path) -> Path | None:
    """The file that keeps `path` from being created: the nearest existing folder above it, when that is a file."""
    above = next(folder for folder in path.absolute().parents if folder.exists())
    return None if above.is_dir() else above


def _refuse_non_folder(out: Path) -> None:
    blocking = out if out.exists() and not out.is_dir() else file_in_the_way(out)
    if blocking is not None:
        what = f"{out} is a file" if blocking == out else f"{blocking} is a file, so {out} cannot be created"
        raise ConfigError(f"output_dir: {what}; give a folder (created when missing)")
    problem = unwritable(out)
    if problem:
        raise ConfigError(f"output_dir: {problem}; give a folder this user can write to")


def _last_checkpoint(out: Path) -> str:
    """The newest checkpoint that is complete; a damaged newer one is skipped with a warning."""
    checkpoints = sorted((p for p in out.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if p.is_dir()
                          and p.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-").isdecimal()),  # int() reads these
                         key=lambda p: int(p.name.rsplit("-", 1)[1]), reverse=True)
    for checkpoint in checkpoints:
        problem = corrupt_checkpoint(checkpoint)
        if problem is None:
            return str(checkpoint)
        logger.warning("resume_from_checkpoint: skipping %s: %s; resuming from the one before", checkpoint, problem)
    if checkpoints:
        raise ConfigError(f"resume_from_checkpoint: every checkpoint in {out} is damaged "
                          f"({corrupt_checkpoint(checkpoints[0])}); start again without resume_from_checkpoint")
    raise ConfigError(f"resume_from_checkpoint: no checkpoint-* folder in {out} to resume from")


def _saved_by_as_many_processes(checkpoint: str) -> str:
    """`checkpoint`, saved by as many processes as this run has (the Trainer keeps one RNG state per process): with
    another number, each process's batches and RNG state would not be the checkpoint's, and at the same per-device
    batch the steps an epoch takes would change, so that the resumed schedule trained part of an epoch again or
    skipped one."""
    folder = Path(checkpoint).expanduser()
    saved = 1 if (folder / "rng_state.pth").is_file() else len(list(folder.glob("rng_state_*.pth")))
    now = PartialState().num_processes
    if saved and saved != now:
        how = f"with {saved} processes (torchrun --nproc_per_node {saved})" if saved > 1 else \
            "in one process (without torchrun)"
        raise ConfigError(f"resume_from_checkpoint: {checkpoint} was saved by {saved} process{'es' * (saved > 1)} and "
                          f"this run has {now}; a resume takes as many as saved it (their batches and RNG states), so "
                          f"resume it {how}, or train afresh")
    return checkpoint


def _same_place(key: str, recorded, now) -> bool:
    """Whether a file or folder option names the same thing as when the run started, spelt otherwise (./x, an
    absolute path), or names where it went: where things are kept may change, what they are may not. One that is not
    found from here any more is taken to have moved, with a warning."""
    if key not in DATA_KEYS + FOLDER_KEYS or not (isinstance(recorded, str) and isinstance(now, str)):
        return False
    then, here = _located(key, recorded), _located(key, now)
    if here is None:  # a hub id, an artifact, or nothing there: as written
        return False
    if then is not None:
        return then == here
    logger.warning("resume_from_checkpoint: %s %s, which the run started with, is not found from here; resuming with "
                   "%s, taken to be the same %s moved", key, recorded, now, "file" if key in DATA_KEYS else "folder")
    return True


def _located(key: str, value: str) -> Path | None:
    """The file or folder a path option names, resolved; None where there is none."""
    if key in DATA_KEYS:
        found = find_data_path(value)
        return found.resolve() if found is not None else None
    folder = Path(value).expanduser()
    return folder.resolve() if folder.is_dir() else None


def refuse_other_recipe(checkpoint: str, resolved: dict) -> None:
    """A resume whose settings (`resolved`, as resolved_config.json will record them) differ in RECIPE_KEYS from
    those the run that wrote `checkpoint` started with, as its folder records them (output_dir's, for `last`).
    Called once the task is read: the text columns are resolved there."""
    recorded_file = Path(checkpoint).parent / "resolved_config.json"
    try:
        recorded = json.loads(recorded_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet (the run stopped before writing it), or unreadable: nothing to compare
        return
    now = json.loads(json.dumps(resolved, default=str))  # as the file holds them
    differing = differences(recorded, now, [key for key in RECIPE_KEYS if key in recorded and key in now
                                            and not _same_place(key, recorded[key], now[key])])
    if differing:
        raise ConfigError(f"resume_from_checkpoint: the run in {recorded_file.parent} started with other settings: "
                          f"{', '.join(differing)}; resume it with the settings {recorded_file.name} there records "
                          "(a config file once copied out of that folder), or train afresh, without "
                          "resume_from_checkpoint")


def check_output_dir(cfg: RunConfig, command: str = "run") -> str | None:
    """Refuse an output_dir the run must not write to; return the checkpoint to resume from, if asked to resume.
    `command` is run (train) or score, which write different results."""
    args = cfg.training
    broken = dangling_link(Path(args.output_dir).expanduser())
    if broken:
        raise ConfigError(f"output_dir: {broken}; create its target, or give another folder")
    out = Path(args.output_dir).expanduser().resolve()
    _refuse_non_folder(out)
    _refuse_inside_a_run(out)
    _refuse_inputs(out, cfg, command)
    checkpoints = [p.name for p in out.glob(f"{PREFIX_CHECKPOINT_DIR}-*")]
    # A folder holding the run's checkpoints is a run's, whatever was put beside them since (predict.py's output): a
    # resume there replaces nothing else.
    if out.is_dir() and not (command == "run" and args.resume_from_checkpoint and checkpoints):
        _refuse_foreign(out, Path(cfg.source).resolve() if cfg.source else None)
    trained = [m for m in RESULT_MARKERS if (out / m).exists()] + checkpoints
    if command == "score":
        if trained:  # the report would stand beside a trained run's results and card as if it were that run's
            raise ConfigError(f"output_dir: {out} holds a trained run ({', '.join(sorted(trained)[:3])}); score.py "
                              "writes its report into a folder of its own, even with overwrite_output_dir")
        if (out / CSV_FILE).exists() and not args.overwrite_output_dir:
            raise ConfigError(f"output_dir: {out} already holds {CSV_FILE}; choose another folder or set "
                              "overwrite_output_dir true")
        return None
    resume = args.resume_from_checkpoint
    if resume in ("last", "true", "True"):
        return _saved_by_as_many_processes(_last_checkpoint(out))
    if resume:
        folder = Path(resume).expanduser().resolve().parent
        if folder.name == FINETUNE_DIR and folder != out:  # (an output_dir may have that name)
            raise ConfigError(f"resume_from_checkpoint: {resume} is a checkpoint of the real-set fine-tuning "
                              "(real_set_finetune_epochs), and a resume continues the weighted training before it; "
                              f"name one of {out}'s own checkpoint-* folders, or resume_from_checkpoint last")
        problem = corrupt_checkpoint(Path(resume)) if Path(resume).is_dir() else "not a checkpoint folder"
        if problem:
            raise ConfigError(f"resume_from_checkpoint: {resume}: {problem}")
        return _saved_by_as_many_processes(resume)
    existing = trained + [CSV_FILE] * (out / CSV_FILE).exists()  # score.py's report alone is a result too
    if existing and not args.overwrite_output_dir:
        _refuse_if_busy(out)
        raise ConfigError(f"output_dir: {out} already holds results ({', '.join(sorted(existing)[:3])}); "
                          "choose another folder, set overwrite_output_dir true"
                          + (", or resume_from_checkpoint last" if checkpoints else ""))
    return None

