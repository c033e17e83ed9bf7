"""Training a checker with CE (quality: on the small real set; diversity: on the synthetic set) and caching it."""

from __future__ import annotations

import json
import logging
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from accelerate import PartialState
from datasets import Dataset
from transformers import set_seed

from references.models import ModelSource, is_local_path
from config.arguments import CheckerArguments, WeightedTrainingArguments
from config.records import differences
from data.files import as_configured
from trainer.fitting import make_trainer
from trainer.metrics import majority_accuracy, warn_if_near_majority
from trainer.modeling import encode, for_evaluation, load_classifier, load_tokenizer

logger = logging.getLogger(__name__)

RECIPE_FILE = "checker_recipe.json"
# Recipe entries recorded only when their option is used: one side lacking them is a difference too. (Other entries
# are compared only where recorded, so that checkers cached before an entry was added stay usable.)
RECORDED_WHEN_USED = ("warm_start", "pair_separator", "base_revision")
# Recipe entries that fingerprint data: a difference is named, not shown.
DIGESTS = ("train_data", "validation_data")


@dataclass
class CheckerRecipe:
    """What a checker is trained on; recorded beside it so a stale cache can be noticed."""

    role: str  # "quality" or "diversity"
    train: Dataset
    validation: Dataset | None
    description: dict = field(default_factory=dict)


def training_recipe(role: str, options: CheckerArguments, max_length: int) -> dict:
    """How a checker of `role` is trained: recorded beside it, and compared with what a later run would use."""
    return {"num_train_epochs": options.epochs_for(role), "learning_rate": options.checker_learning_rate,
            "batch_size": options.checker_batch_size, "max_seq_length": max_length}


def build_checker(
    folder: Path,
    recipe: CheckerRecipe,
    base: ModelSource,
    label_names: list[str],
    text_columns: list[str],
    options: CheckerArguments,
    main_args: WeightedTrainingArguments,
    max_length: int,
    ignore_mismatched_sizes: bool = False,
) -> dict:
    """Train the checker and save it into `folder`; a half-built checker is never left there. A base whose head has
    another size gets a new one with `ignore_mismatched_sizes`, the model's option."""
    partial = folder.with_name(folder.name + ".partial")
    state = PartialState()  # under torchrun every process trains the checker; only the main one touches files
    if state.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    state.wait_for_everyone()
    with _removed_if_unfinished(partial, state):
        tokenizer = load_tokenizer(base)
        # The new classifier head is drawn here, before the Trainer seeds anything: seed it so that a recipe gives one
        # checker whichever command builds it and whatever that command drew from the RNG before.
        set_seed(main_args.seed)
        model = load_classifier(base, label_names, ignore_mismatched_sizes, options.match_labels_by)
        trained = training_recipe(recipe.role, options, max_length)
        args = WeightedTrainingArguments(  # checker_batch_size is the whole batch, however many processes share it
            output_dir=str(partial / "checkpoints"),
            problem_type="single_label_classification",
            learning_rate=trained["learning_rate"],
            num_train_epochs=trained["num_train_epochs"],
            per_device_train_batch_size=trained["batch_size"] // state.num_processes,  # a multiple: CheckerArguments
            per_device_eval_batch_size=max(trained["batch_size"], 64),
            seed=main_args.seed,
            report_to="none",
            save_only_model=True,  # a checker build is never resumed: its checkpoints need no optimizer state
            use_cpu=main_args.use_cpu,
            disable_tqdm=main_args.disable_tqdm,
        )
        encoded_train = encode(recipe.train, tokenizer, text_columns, max_length)
        encoded_validation = (for_evaluation(encode(recipe.validation, tokenizer, text_columns, max_length))
                              if recipe.validation else None)
        trainer = make_trainer(model, tokenizer, args, encoded_train, encoded_validation)
        trainer.train()
        metrics = best_validation_metrics(trainer) if encoded_validation is not None else {}
        trainer.save_model(str(partial))
        record = {**recipe.description, "role": recipe.role, "base_model": base.name, **trained,
                  "validation_metrics": metrics}
        if recipe.validation is not None:
            record |= validation_summary(trainer.state.log_history, recipe.validation["label"])
            warn_if_no_better_than_majority(recipe.role, record)
        if state.is_main_process:
            shutil.rmtree(partial / "checkpoints", ignore_errors=True)
            (partial / RECIPE_FILE).write_text(json.dumps(record, indent=2) + "\n")
            if folder.exists():
                shutil.rmtree(folder)
            folder.parent.mkdir(parents=True, exist_ok=True)
            partial.rename(folder)
    state.wait_for_everyone()
    logger.info("%s checker saved to %s (validation: %s)", recipe.role, folder,
                {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)})
    return record


@contextmanager
def _removed_if_unfinished(partial: Path, state: PartialState):
    """A build that fails (a full disk, Ctrl-C) takes its half-written files with it: on a full disk they hold the
    space, and a build never resumes from them."""
    try:
        yield
    except BaseException:
        if state.is_main_process:
            shutil.rmtree(partial, ignore_errors=True)
        raise


def best_validation_metrics(trainer) -> dict:
    """The kept epoch's validation metrics as logged when it was evaluated, rather than a repeated pass."""
    state = trainer.state
    for entry in state.log_history:
        if "eval_accuracy" in entry and entry.get("step") == state.best_global_step:
            return {key: value for key, value in entry.items() if key.startswith("eval_") or key == "epoch"}
    return trainer.evaluate()


def validation_summary(log_history: list[dict], validation_labels) -> dict:
    """Accuracy per epoch on the held-out real data, and what always answering the most common class scores there."""
    history = [{"epoch": entry["epoch"], "accuracy": entry["eval_accuracy"], "f1": entry.get("eval_f1")}
               for entry in log_history if "eval_accuracy" in entry]
    return {"validation_history": history, "validation_majority_accuracy": majority_accuracy(validation_labels)}


def warn_if_no_better_than_majority(role: str, record: dict) -> None:
    # Such a quality checker re-weights by class, not by example quality. Not the diversity checker: it models the
    # generated data, so its accuracy on real data measures how far that data lies from the real, not a flaw in Q.
    if role != "quality":
        return
    fold = f" of fold {record['fold']}" if "fold" in record else ""  # cross-fitted: one checker of several
    warn_if_near_majority(f"The {role} checker{fold}", record["validation_metrics"].get("eval_accuracy"),
                          record["validation_majority_accuracy"], "its weights will mostly re-balance the classes. "
                          "Consider more checker_num_train_epochs, another checker_learning_rate, or more real examples.")


def _as_configured(description: dict) -> dict:
    """Its train_source as a config names it (relative to the data root where it lies there, `./` and `//` aside),
    so that a checker recorded with an absolute path, or before the data root moved, is still found to match; and
    the local folders it started from as where they lie, however spelt (../models/bert, /home/me/models/bert)."""
    described = dict(description)
    if isinstance(source := described.get("train_source"), str):
        described["train_source"] = as_configured(os.path.normpath(source))
    for key in ("base_model", "warm_start"):
        if isinstance(folder := described.get(key), str) and is_local_path(folder):
            described[key] = os.path.realpath(os.path.expanduser(folder))
    return described


def recorded_recipe(folder: Path) -> dict | None:
    """What the checker in `folder` records of its training (RECIPE_FILE), or None: none, or not readable as one."""
    try:
        recorded = json.loads((folder / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return recorded if isinstance(recorded, dict) else None


def recipe_differs(folder: Path, recipe: CheckerRecipe) -> list[str]:
    """The recipe entries whose recorded value differs from what this run would train on, each with both values
    (but the digests of the data, which only say that it differs)."""
    if not (folder / RECIPE_FILE).is_file():
        return []
    recorded = recorded_recipe(folder)
    if recorded is None:
        return [f"data (its {RECIPE_FILE} is unreadable)"]
    recorded, now = _as_configured(recorded), _as_configured({**recipe.description, "role": recipe.role})
    keys = [key for key in dict.fromkeys([*now, *RECORDED_WHEN_USED]) if key in recorded or key in RECORDED_WHEN_USED]
    if "train_data" in recorded and "train_data" in now:  # the examples' digest says whether they are the same,
        keys.remove("train_source")  # whatever the file's path: spelt otherwise, given from elsewhere, or moved
    return differences(recorded, now, keys, DIGESTS)
