"""A run without a config file: the recommended method's settings, and checker folders named after the data.

The recommendation lives in one place, configs/config_recommended.json (a complete config for MRPC, runnable as it
is); a run without a config file takes its method keys, not the keys that name, size or locate its data."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from config.arguments import CheckerArguments, DataArguments, ModelArguments
from references.models import short_name

logger = logging.getLogger(__name__)

RECOMMENDED_FILE = Path(__file__).resolve().parent.parent / "configs" / "config_recommended.json"
# DataArguments that choose how to model the data rather than which data: the recommendation keeps them.
_MODELLING_OPTIONS = frozenset({"max_seq_length", "pad_to_max_length", "real_set_in_training",
                                "real_validation_fraction"})
# Keys outside DataArguments that say where the real set, the checkers and the results are, or how much of the real
# set to use (the recommended config samples 500 of MRPC's; your own real examples are all used).
_PLACES = frozenset({"quality_checker_train_file", "quality_checker_validation_file", "quality_checker_model",
                     "diversity_checker_model", "output_dir", "run_name", "hub_model_id", "resume_from_checkpoint",
                     "quality_checker_max_train_samples"})
DATA_KEYS = (frozenset(f.name for f in dataclasses.fields(DataArguments)) - _MODELLING_OPTIONS) | _PLACES
CHECKER_CACHE = "./cache/checkers"
_CHECKER_OPTIONS = frozenset(f.name for f in dataclasses.fields(CheckerArguments))


def method_settings() -> dict:
    """The recommended config's keys, less its data keys."""
    config = json.loads(RECOMMENDED_FILE.read_text(encoding="utf-8"))
    return {key: value for key, value in config.items() if key not in DATA_KEYS}


def name_checkers(needed: dict[str, str], model: ModelArguments, data: DataArguments,
                  checkers: CheckerArguments) -> frozenset[str]:
    """Name each needed checker that the command line did not: a folder in ./cache/checkers named after the data it
    is trained on and the model it starts from, as the shipped configs name theirs, and the recipe options set away
    from the recommendation (built there on the first run, reused after, built again when the data changed). Returns
    the roles it named."""
    named = set()
    for role in needed:
        field = f"{role}_checker_model"
        folder = None if getattr(checkers, field) else default_checker_folder(role, model, data, checkers)
        if folder:
            named.add(role)
            setattr(checkers, field, folder)
            logger.info("%s: %s (the default without a config file)", field, folder)
    return frozenset(named)


def default_checker_folder(role: str, model: ModelArguments, data: DataArguments,
                           checkers: CheckerArguments) -> str | None:
    """The cache folder of the `role` checker that these settings train, or None where no data is named to train
    it from."""
    trained_on = {"quality": checkers.quality_checker_train_file,
                  "diversity": data.train_file or data.split_file or data.dataset_name}[role]
    if not trained_on:
        return None
    data_file = Path(trained_on)  # its folder too: two projects' real.csv are two real sets
    name = f"{data_file.parent.name}-{data_file.stem}" if data_file.parent.name else data_file.stem
    base = checkers.checker_base_model or model.model_name_or_path
    return f"{CHECKER_CACHE}/{role}-checker_{short_name(name)}_{short_name(base)}" + recipe_suffix(role, checkers)


def recipe_suffix(role: str, checkers: CheckerArguments) -> str:
    """`_warm`, `_folds3`, `_e20`, `_lr0.0001`, `_bs16`: how the `role` checker is built, where that is not the
    recommendation, so that a run trying another recipe (as the warnings about a checker trained too little advise)
    caches its checker beside the recommended one, and a run back on the recommendation finds that one still there.
    The checkers' W&B artifacts carry it too."""
    usual = dataclasses.replace(CheckerArguments(), **{key: value for key, value in method_settings().items()
                                                        if key in _CHECKER_OPTIONS})
    tags = ""
    if role == "quality" and checkers.quality_checker_warm_start:
        tags += "_warm"  # another checker than the one trained from the model
    if role == "quality" and checkers.quality_checker_folds > 1:
        tags += f"_folds{checkers.quality_checker_folds}"  # fold checkers, never read as the single one
    if checkers.epochs_for(role) != usual.epochs_for(role):
        tags += f"_e{checkers.epochs_for(role):g}"
    if checkers.checker_learning_rate != usual.checker_learning_rate:
        tags += f"_lr{checkers.checker_learning_rate:g}"
    if checkers.checker_batch_size != usual.checker_batch_size:
        tags += f"_bs{checkers.checker_batch_size}"
    return tags


def join_real_set_only_if_given(data: DataArguments, checkers: CheckerArguments, asked: dict) -> None:
    """The recommendation joins the real set to the training data; a run given none trains without it (asking for
    it on the command line is still an error, from RunConfig.check)."""
    if data.real_set_in_training and not checkers.quality_checker_train_file and "real_set_in_training" not in asked:
        data.real_set_in_training = False
