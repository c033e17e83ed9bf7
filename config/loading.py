"""One JSON config, then `--key value` overrides (later wins), checked and parsed into the argument dataclasses."""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import HfArgumentParser

from config import legacy, recommended
from config.json_strict import DuplicateKey, is_unicode, loads_unique, repeated_key_line
from config.ranges import RangeError, numeric_fields
from config.training_setup import check_training_setup
from losses.weighting import LossKind
from references.models import is_local_path
from references.wandb_refs import names_artifact, parse_artifact_ref
from config.arguments import (
    ARGUMENT_CLASSES,
    CheckerArguments,
    DataArguments,
    ModelArguments,
    WeightedTrainingArguments,
)


logger = logging.getLogger(__name__)

# What a run derived from its arguments, recorded in resolved_config.json; reading that file back as a config ignores
# them (the run derives them again).
RECORDED_KEYS = frozenset({"validation_from_real_set"})

# Options naming a file, folder or reference: an empty string would silently mean the working directory.
PATH_KEYS = ("model_name_or_path", "config_name", "tokenizer_name", "cache_dir", "train_file", "validation_file",
             "test_file", "augmented_train_file", "split_file", "dataset_name", "wandb_dataset",
             "wandb_augmented_dataset", "wandb_generalization_dataset", "noise_unrelated_file",
             "quality_checker_model", "diversity_checker_model", "quality_checker_train_file",
             "quality_checker_validation_file", "checker_base_model", "output_dir", "resume_from_checkpoint",
             "data_work_dir", "model", "input", "output", "metrics_output")  # the last four: predict.py's


# transformers' error for an enum option's unknown value: "foo is not a valid OptimizerNames, please select ..."
_NOT_AN_ENUM_VALUE = re.compile(r"(.*) is not a valid \w+, please select one of ", re.S)


class ConfigError(ValueError):
    """A configuration problem the user has to fix; the message names the key or file."""


def check_training_data_given(data: DataArguments) -> None:
    if not (data.train_file or data.split_file or data.dataset_name or data.wandb_dataset):
        raise ConfigError("train_file: not set; give train_file (and validation_file, test_file), split_file, "
                          "dataset_name, or wandb_dataset, in a config file or as --key value (--help lists the "
                          "options)")


def missing_checker(role: str, why: str, folder: str | None = None) -> ConfigError:
    """`folder`: where a run without a config file would build this checker, offered as a choice."""
    offered = f"; for instance {folder}, the folder a run without a config file builds it in" if folder else ""
    return ConfigError(f"{role}_checker_model: {why} needs a {role} checker: a folder (trained there when missing, "
                       "from quality_checker_train_file for the quality checker, from the training data for the "
                       f"diversity checker), a hub id or a W&B artifact{offered}")


@dataclass
class RunConfig:
    model: ModelArguments
    data: DataArguments
    checkers: CheckerArguments
    training: WeightedTrainingArguments
    source: str | None = None
    command: list[str] = field(default_factory=list)  # the command line that made this config, for the model card
    # The checker roles whose folder a run without a config file chose: its own cache, rebuilt when stale.
    default_checkers: frozenset[str] = frozenset()

    def needed_checkers(self, command: str = "run") -> dict[str, str]:
        """The checkers a training run (or score.py, which always scores with the quality checker) needs, by role,
        each with the option that needs it (for error messages)."""
        checkers = self.checkers
        why = f"problem_type {self.training.problem_type}"
        needed = {LossKind.IMP: {"quality": why, "diversity": why}, LossKind.DIMP: {"quality": why},
                  LossKind.QUALITY_ONLY: {"quality": why}}.get(self.training.loss_kind, {})
        if checkers.drop_label_issues:
            needed.setdefault("quality", "drop_label_issues")
        if checkers.filtering:
            option = "filter_min_weight" if checkers.filter_min_weight is not None else "filter_keep_top_fraction"
            needed.setdefault("quality", option)
            if checkers.diversity_checker_model:  # the static weight is then P'/Q
                needed.setdefault("diversity", option)
        if self.model.init_from_quality_checker:
            needed.setdefault("quality", "init_from_quality_checker")
        if command == "score":
            needed["quality"] = "score.py"
        if checkers.quality_checker_warm_start and "quality" in needed:
            needed.setdefault("diversity", "quality_checker_warm_start")
        return needed

    def static_weight_roles(self) -> tuple[str, ...]:
        """The checkers whose probabilities make the static weight: P'/Q for IMP and for filtering with a diversity
        checker, else P' (a diversity checker built only to warm-start the quality checker weighs nothing)."""
        ratio = self.training.loss_kind is LossKind.IMP or (self.checkers.filtering
                                                            and bool(self.checkers.diversity_checker_model))
        return ("quality", "diversity") if ratio else ("quality",)

    def check(self) -> None:
        """Rules across argument groups, checked before any file is read."""
        self._check_paths()
        for key, what in (("config_name", "config"), ("tokenizer_name", "tokenizer")):  # null in the authors' configs
            if getattr(self.model, key) is not None:
                raise ConfigError(f"{key}: not supported; the {what} of model_name_or_path is used (leave it null)")
        data = self.data
        if data.use_wandb_dataset and not data.wandb_dataset:
            raise ConfigError("use_wandb_dataset: true, but wandb_dataset is not set")
        check_training_data_given(data)
        # split_file, dataset_name and wandb_dataset bring every split; another source beside one would be silently
        # ignored (train_file, validation_file and test_file then name files inside wandb_dataset).
        whole = [key for key in ("split_file", "dataset_name") if getattr(data, key)]
        files = [key for key in ("train_file", "validation_file", "test_file") if getattr(data, key)]
        if whole and data.reads_wandb_dataset:
            raise ConfigError(f"{whole[0]}: the splits are read from wandb_dataset, so {whole[0]} would be ignored; "
                              "give one data source")
        if whole and (len(whole) > 1 or files):
            raise ConfigError(f"{whole[0]}: brings all the splits, so {(whole[1:] + files)[0]} would be ignored; "
                              "give one data source")
        checkers, training = self.checkers, self.training
        for role, why in self.needed_checkers().items():
            if getattr(checkers, f"{role}_checker_model") is None:
                offered = recommended.default_checker_folder(role, self.model, self.data, checkers)
                raise missing_checker(role, why, offered)
        if len(self.needed_checkers()) == 2 and _one_place(checkers.quality_checker_model,
                                                           checkers.diversity_checker_model):
            raise ConfigError(f"diversity_checker_model: {checkers.diversity_checker_model} is quality_checker_model "
                              "too; the quality checker (CE on the real set) and the diversity checker (CE on the "
                              "training data) are two models, each in a folder of its own")
        real_set = checkers.quality_checker_train_file
        if self.data.real_set_in_training and not real_set:
            raise ConfigError("real_set_in_training: needs quality_checker_train_file, the real set to train on")
        if training.real_set_finetune_epochs and not real_set:
            raise ConfigError("real_set_finetune_epochs: needs quality_checker_train_file, the real set to fine-tune on")
        if training.real_set_weight is None and self.data.real_set_in_training and checkers.quality_checker_folds < 2:
            raise ConfigError("real_set_weight: null (the loss's own weight for real examples) needs "
                              "quality_checker_folds >= 2, so that no real example is weighted by a checker it trained")
        if checkers.quality_checker_folds > 1 and not real_set:
            raise ConfigError("quality_checker_folds: cross-fitting builds the quality checkers, so it needs "
                              "quality_checker_train_file")
        if checkers.quality_checker_folds > 1 and checkers.quality_checker_model \
                and not is_local_path(checkers.quality_checker_model):
            raise ConfigError(f"quality_checker_folds: cross-fitting builds one checker per fold inside "
                              f"quality_checker_model, which must be a local folder; got "
                              f"{checkers.quality_checker_model!r}")
        if self.model.init_from_quality_checker and checkers.quality_checker_folds > 1:
            raise ConfigError("init_from_quality_checker: needs one quality checker; quality_checker_folds is "
                              f"{checkers.quality_checker_folds}")
        if checkers.checker_calibration == "temperature" and checkers.quality_checker_folds < 2 and not (
                self.has_validation or checkers.quality_checker_validation_file):
            raise ConfigError("checker_calibration: temperature scaling needs held-out real data: validation_file, "
                              "quality_checker_validation_file, real_validation_fraction > 0 or quality_checker_folds >= 2")
        if training.early_stopping_patience and not self.has_validation:
            raise ConfigError("early_stopping_patience: needs validation data to watch: validation_file, or "
                              "quality_checker_train_file with real_validation_fraction > 0")
        if self.data.noise_unrelated_ratio > 0 and not self.data.noise_unrelated_file:
            raise ConfigError("noise_unrelated_ratio: > 0 needs noise_unrelated_file (another benchmark's data)")
        try:
            check_training_setup(training)
        except ValueError as err:
            raise ConfigError(str(err)) from None

    def unread_options(self) -> list[tuple[str, str]]:
        """The options set away from their default that a training run of this config never reads, each with the
        setting that would read it: set by mistake, they would change nothing and say nothing."""
        training, data = self.training, self.data
        needed = self.needed_checkers()
        no_quality = ("quality" not in needed,
                      "a quality checker (IMP, DIMP, filtering, drop_label_issues or init_from_quality_checker)")
        unread = {
            "checker_calibration": no_quality,
            "quality_checker_folds": no_quality,
            "quality_checker_warm_start": no_quality,
            "noise_seed": (not (data.noise_duplicate_ratio or data.noise_swap_ratio or data.noise_unrelated_ratio),
                           "noise_duplicate_ratio, noise_swap_ratio or noise_unrelated_ratio above 0"),
            "focal_gamma": (training.loss_kind is not LossKind.FOCAL,
                            "problem_type single_label_classification_focalloss"),
            "weight_epsilon": (training.loss_kind not in (LossKind.IMP, LossKind.DIMP),
                               "IMP or DIMP, whose weights divide by a probability"),
            "real_set_weight": (not data.real_set_in_training, "real_set_in_training true"),
            "real_set_finetune_learning_rate": (not training.real_set_finetune_epochs, "real_set_finetune_epochs > 0"),
            "early_stopping_threshold": (not training.early_stopping_patience, "early_stopping_patience"),
            "diversity_checker_num_train_epochs": ("diversity" not in needed,
                                                   "a diversity checker to build (IMP, quality_checker_warm_start, "
                                                   "or filtering with diversity_checker_model)"),
            # TrainingArguments paces evaluations by logging_steps where eval_strategy is steps without eval_steps
            "logging_steps": (training.logging_strategy != "steps" and not (
                training.eval_strategy == "steps" and training.eval_steps == training.logging_steps),
                "logging_strategy steps (or eval_strategy steps without eval_steps)"),
            "eval_steps": (training.eval_strategy != "steps", "eval_strategy steps"),
            "save_steps": (training.save_strategy != "steps", "save_strategy steps"),
            **dict.fromkeys(("track_test_each_epoch", "save_validation_predictions"), (
                not self.has_validation, "a validation split to evaluate each epoch on (validation_file, or a real "
                                         "set with real_validation_fraction above 0)")),
        }
        set_away = self.non_default()
        return [(key, f"{key} {json.dumps(_as_given(set_away[key]))} is not read by this run; it needs {needs}")
                for key, (not_read, needs) in unread.items() if not_read and key in set_away]

    @property
    def has_validation(self) -> bool:
        """Whether the run will have a validation split (see data/prepare.py): its own, or a share of the real set."""
        data = self.data
        return bool(data.validation_file or data.split_file or data.dataset_name or data.wandb_dataset
                    or (self.checkers.quality_checker_train_file and data.real_validation_fraction > 0))

    def _check_paths(self) -> None:
        """No empty path or reference, and W&B references well formed, before anything is looked up."""
        for part in (self.model, self.data, self.checkers, self.training):
            for key in PATH_KEYS:
                value = getattr(part, key, None)
                if isinstance(value, str):
                    _check_path(key, value)
        model, data, checkers = self.model, self.data, self.checkers
        references = {"model_name_or_path": model.model_name_or_path, "checker_base_model": checkers.checker_base_model,
                      "quality_checker_model": checkers.quality_checker_model,
                      "diversity_checker_model": checkers.diversity_checker_model}
        for key, value in references.items():
            if value and names_artifact(value, key == "model_name_or_path" and model.use_wandb_model):
                parse_artifact_ref(value, key)
        for key in ("wandb_dataset", "wandb_augmented_dataset", "wandb_generalization_dataset"):
            if getattr(data, key):
                parse_artifact_ref(getattr(data, key), key)

    def to_dict(self) -> dict:
        """Every argument's final value, flat, in the same vocabulary a config file uses."""
        resolved = {}
        for part in (self.model, self.data, self.checkers):
            resolved.update(dataclasses.asdict(part))
        resolved.update(self.training.to_dict())
        return resolved

    def non_default(self) -> dict:
        """The settings that differ from the dataclasses' defaults: a config file that reproduces this run. Tokens
        stay out: TrainingArguments.to_dict() writes every one as a placeholder, the same as the default's."""
        auto = {}  # under torchrun on CPU, the defaults load_config sets (and a default CPU run would warn there)
        _cpu_only_multiprocess_defaults(auto)
        defaults = RunConfig(*HfArgumentParser(ARGUMENT_CLASSES).parse_dict(auto)).to_dict()
        return {key: value for key, value in self.to_dict().items() if value != defaults.get(key)}


def _one_place(first: str, second: str) -> bool:
    """Whether two model references name one model: one folder however spelt, or one hub id or W&B artifact."""
    if is_local_path(first) and is_local_path(second):
        return Path(first).expanduser().resolve() == Path(second).expanduser().resolve()
    return first == second


def _as_given(value):
    """A whole number as a config gives it: float fields (epochs, steps) hold 2 as 2.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _check_path(key: str, value: str) -> None:
    """A path the operating system can look up: not empty, no NUL, no name too long, no symlink loop."""
    if not value.strip():
        raise ConfigError(f"{key}: empty; give a path (or leave the key out)")
    if "\x00" in value:
        raise ConfigError(f"{key}: {value!r} holds a NUL character")
    try:
        os.stat(os.path.expanduser(value))
    except (FileNotFoundError, NotADirectoryError):
        pass  # not there (yet): whether it must be is for the step that reads it to say
    except OSError as err:
        raise ConfigError(f"{key}: {_shortened(value)!r}: {err.strerror}") from None


def _shortened(path: str) -> str:
    """A path of over 80 characters as its start and its end: the end names the file that is wrong."""
    return path if len(path) <= 80 else f"{path[:38]}...{path[-39:]}"


def _field_types(classes=ARGUMENT_CLASSES) -> dict[str, typing.Any]:
    hints = {}
    for cls in classes:
        type_hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init:
                hints[f.name] = type_hints[f.name]
    return hints


FIELD_TYPES = _field_types()
# Options that shape only the model run.py trains, never the checkers: score.py, given one on its command line, says
# it is not read (a config file's are the run's, shared).
MODEL_TRAINING_ONLY = frozenset({
    "num_train_epochs", "max_steps", "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
    "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm", "lr_scheduler_type", "warmup_steps",
    "optim", "train_sampling_strategy", "label_smoothing_factor", "load_best_model_at_end",
    "metric_for_best_model", "resume_from_checkpoint", "push_to_hub", "focal_gamma", "init_from_quality_checker",
    "real_set_finetune_epochs", "real_set_finetune_learning_rate", "track_test_each_epoch", "average_checkpoints",
    "early_stopping_patience", "early_stopping_threshold", "save_validation_predictions"})
NUMERIC_KEYS = frozenset(key for cls in ARGUMENT_CLASSES for key in numeric_fields(cls))
KNOWN_KEYS = (frozenset(FIELD_TYPES) | frozenset(legacy.RENAMED) | frozenset(legacy.DROPPED)
              | frozenset(legacy.REWRITTEN) | RECORDED_KEYS)


def _closest(key: str, known=KNOWN_KEYS) -> str:
    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def allowed_types(tp) -> tuple[set, bool]:
    """The basic types a field accepts, and whether it accepts null."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        basics, nullable = set(), False
        for arg in typing.get_args(tp):
            sub, sub_null = allowed_types(arg)
            basics |= sub
            nullable |= sub_null
        return basics, nullable
    if tp is type(None):
        return set(), True
    if origin is list:
        return {list}, False
    if origin is dict or tp is dict:  # a string only where the type allows one too (dict | str: a JSON object)
        return {dict}, False
    if isinstance(tp, type) and issubclass(tp, str):  # str and str-valued enums
        return {str}, False
    if tp in (bool, int, float):
        return {tp}, False
    return {object}, True


def _check_value(key: str, value, where: str, field_types=FIELD_TYPES) -> None:
    basics, nullable = allowed_types(field_types[key])
    if value is None:
        if not nullable:
            raise ConfigError(f"{where}{key}: expected {_describe(basics)}, got null")
        return
    if object in basics:
        return
    if isinstance(value, bool):
        ok = bool in basics
    elif isinstance(value, int):
        ok = bool(basics & {int, float}) or (bool in basics and value in (0, 1))
    elif isinstance(value, float):
        ok = float in basics
    else:
        ok = type(value) in basics
    if not ok:
        raise ConfigError(f"{where}{key}: expected {_describe(basics)}, got {type(value).__name__} {_shown(value)}")


def _check_content(key: str, value, where: str) -> None:
    """JSON's NaN and Infinity inside a list or object value (numeric options are checked by config.ranges), and
    strings that are not Unicode text (JSON allows an unpaired surrogate, "\\ud800", which no file name or log
    line can hold)."""
    if isinstance(value, dict):
        for item in [*value, *value.values()]:
            _check_content(key, item, where)
    elif isinstance(value, list):
        for item in value:
            _check_content(key, item, where)
    elif isinstance(value, float) and not math.isfinite(value) and key not in NUMERIC_KEYS:
        raise ConfigError(f"{where}{key}: expected finite numbers, got {value}")
    elif isinstance(value, str) and not is_unicode(value):
        raise ConfigError(f"{where}{key}: {value!r} holds an unpaired surrogate, which is not text")


def _shown(value, limit: int = 80) -> str:
    """A value as an error quotes it: in full, or its start and its length when it would fill the screen."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 20]}... ({len(text)} characters)"


def _long_values_shown(detail: str, values: dict) -> str:
    """`detail` with each long string value it quotes whole (as transformers' checks and the arguments' own do)
    shown as _shown shows it."""
    for value in values.values():
        if isinstance(value, str) and len(repr(value)) > 80:
            detail = detail.replace(repr(value), _shown(value)).replace(value, _shown(value))
    return detail


def _describe(basics: set) -> str:
    """What a field takes, in words, in one order (a set's order of types could change from run to run)."""
    names = {bool: "true/false", int: "an integer", float: "a number", list: "a list", dict: "an object",
             str: "a string"}
    return " or ".join(name for basic, name in names.items() if basic in basics)


def _coerce(key: str, raw: str, field_types=FIELD_TYPES):
    """Turn a command-line string into the value the field expects. `null` is null, as in a JSON file; so is `none`,
    except for a field that takes text, where it is the text: `--report_to none` turns W&B off and
    `--checker_calibration none` is that option's value."""
    key = legacy.RENAMED.get(key, key)
    basics = allowed_types(field_types[key])[0] if key in field_types else {object}
    if raw.lower() == "null" or (raw.lower() == "none" and str not in basics):
        return None
    if basics == {str} or (basics == {str, list} and not raw.lstrip().startswith("[")):
        return raw  # text; a list option also takes a JSON list, as a config file gives it
    if bool in basics and raw.lower() in ("true", "false", "yes", "no", "1", "0"):
        return raw.lower() in ("true", "yes", "1")
    if float in basics and raw.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return float(raw)  # refused by the range check, with the key and the range
    try:
        return loads_unique(raw)
    except json.JSONDecodeError:
        return raw


def _several_values(key: str, first: str, second: str) -> str:
    """How `key` takes several values, when it does: as a JSON list, or its columns as one comma-separated value."""
    key = legacy.RENAMED.get(key, key)
    if key in FIELD_TYPES and list in allowed_types(FIELD_TYPES[key])[0]:
        return f"; several are one JSON list: --{key} '{json.dumps([first, second])}'"
    if key == "text_column_names":
        return f"; two columns are one comma-separated value: --{key} {first},{second}"
    return ""


def parse_overrides(argv: list[str]) -> dict:
    """`--key value` pairs (or `--key=value`, or a bare `--flag` meaning true)."""
    overrides: dict = {}
    key = raw = None
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or len(token) == 2:
            after = ""
            if key is not None and not token.startswith("--"):  # `--text_column_names a b`: a value too many
                after = f" after --{key} {raw!r}: an option takes one value{_several_values(key, raw, token)}"
            raise ConfigError(f"command line: expected --key value, got {token!r}{after}")
        key, eq, raw = token[2:].partition("=")
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                raw = argv[i + 1]
                i += 1
            else:
                raw = "true"
        overrides[key] = raw
        i += 1
    return overrides


def read_json_config(path: str | Path) -> dict:
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder; expected a JSON config file")
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        if path.suffix.lower() in (".yaml", ".yml"):
            raise ConfigError(f"{path}: a config file is JSON, as the authors' are; write it as a .json file")
    except OSError as err:  # a name too long, a symlink loop
        raise ConfigError(f"{_shortened(str(path))}: {err.strerror}") from None
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark, as some editors write, is not content
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from None
    try:
        config = loads_unique(text)
    except json.JSONDecodeError as err:
        # What JSONC, JSON5 and YAML allow and JSON does not: comments, a comma before a closing bracket.
        rest, before = text[err.pos:].lstrip(), text[:err.pos].rstrip()
        trailing_comma = before.endswith(",") and rest[:1] in ("}", "]")
        hint = ("; JSON has no comments" if rest.startswith(("//", "/*", "#")) else
                "; JSON allows no comma before a closing bracket" if trailing_comma else "")
        raise ConfigError(f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}{hint}") from None
    except DuplicateKey as err:
        line = repeated_key_line(text, err.key)
        raise ConfigError(f"{path}: {f'line {line}: ' if line else ''}{err}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a JSON object of key/value pairs, got {type(config).__name__}")
    return config


def _check_keys(config: dict, where: str, known=KNOWN_KEYS) -> None:
    for key in config:
        if key not in known:
            kind = "option" if where == "command line: " else "config key"
            raise ConfigError(f"{where}unknown {kind} {key!r}{_closest(key, known)}")


def _cpu_only_multiprocess_defaults(config: dict) -> None:
    """Under torchrun on a machine without an accelerator, transformers only trains as one process group when
    use_cpu is set (otherwise each process silently trains alone); gloo is the CPU backend."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        config.setdefault("use_cpu", True)
        config.setdefault("ddp_backend", "gloo")


def load_config(config_file: str | None, override_args: list[str] | None = None, command: str = "run") -> RunConfig:
    """Without a config file, the run starts from the recommended method's settings (config/recommended.py), and
    the checkers `command` (run or score) needs get default folders."""
    file_config = read_json_config(config_file) if config_file else recommended.method_settings()
    where = f"{config_file}: " if config_file else ""
    _check_keys(file_config, where)
    file_config = {key: value for key, value in file_config.items() if key not in RECORDED_KEYS}
    overrides = parse_overrides(override_args or [])
    _check_keys(overrides, "command line: ")

    try:
        merged, file_names = legacy.translate(file_config)
    except ValueError as err:
        raise ConfigError(f"{where}{err}") from None
    try:
        from_command_line, command_line_names = legacy.translate(
            {key: _coerce(key, raw) for key, raw in overrides.items()})
    except ValueError as err:
        raise ConfigError(f"command line: {err}") from None
    merged.update(from_command_line)

    def origin(key: str) -> str:
        return "command line: " if key in from_command_line else where

    def at(key: str) -> str:
        """Where an error about `key` points: the old key it was read from too, which is what the config wrote."""
        old = (command_line_names if key in from_command_line else file_names).get(key)
        return f"{origin(key)}{old}, read as " if old else origin(key)

    for key, value in merged.items():
        _check_value(key, value, at(key))
        _check_content(key, value, at(key))

    _cpu_only_multiprocess_defaults(merged)
    parser = HfArgumentParser(ARGUMENT_CLASSES)
    try:
        model, data, checkers, training = parser.parse_dict(merged)
    except RangeError as err:
        raise ConfigError(f"{at(err.key)}{err}") from None
    except Exception as err:  # TrainingArguments checks its values with several exception types
        detail = str(err) if isinstance(err, (ValueError, TypeError)) else f"{type(err).__name__}: {err}"
        named = next((key for key in merged if re.search(rf"\b{re.escape(key)}\b", detail)), None)
        if named is None:  # transformers names the value, not the key: an enum's unknown value, a file not found
            enum = _NOT_AN_ENUM_VALUE.match(detail)
            shown = enum[1] if enum else getattr(err, "filename", None)
            named = next((key for key, value in merged.items() if shown and str(value) == shown), None)
            detail = f"{named}: {detail}" if named else detail
        raise ConfigError(f"{at(named) if named else where}{_long_values_shown(detail, merged)}") from None
    config = RunConfig(model, data, checkers, training, source=str(config_file) if config_file else None)
    if not config_file:
        recommended.join_real_set_only_if_given(data, checkers, from_command_line)
        defaults = {f.name: f.default for cls in ARGUMENT_CLASSES for f in dataclasses.fields(cls)}
        # as the run reads them: without a real set, real_set_in_training was just turned off
        used = {key: getattr(data, key, value) for key, value in file_config.items()}
        logger.info("No config file: starting from the recommended method (%s): %s", recommended.RECOMMENDED_FILE.name,
                    ", ".join(f"{key} {value}" for key, value in used.items()
                              if key not in from_command_line and value != defaults.get(key)) or "the defaults")
        needed = config.needed_checkers(command)
        config.default_checkers = recommended.name_checkers(needed, model, data, checkers)
        check_training_data_given(data)  # before the real set: a run given nothing hears of its training data first
        if "quality" in needed and checkers.quality_checker_model is None:
            plain = " (or --problem_type single_label_classification for plain CE)" if command == "run" else ""
            raise ConfigError(f"quality_checker_train_file: {needed['quality']} needs a quality checker trained on "
                              f"your real labelled examples: give --quality_checker_train_file FILE{plain}")
    config.check()
    if command == "run":
        for key, message in config.unread_options():
            logger.warning("%s%s", origin(key), message)
        if merged.get("load_best_model_at_end") and training.average_checkpoints:  # __post_init__ turned it off
            logger.warning("%sload_best_model_at_end true is not read by this run: average_checkpoints keeps the "
                           "average of the epochs' weights, not the best epoch", origin("load_best_model_at_end"))
    for key in sorted(MODEL_TRAINING_ONLY & from_command_line.keys() if command == "score" else ()):
        logger.warning("command line: %s is not read by score.py, which trains no model; run.py reads it", key)
    return config


def load_arguments(cls, argv: list[str]):
    """The dataclass `cls` of a command with options of its own (predict.py), from `--key value` pairs, with the
    checks and errors of load_config."""
    field_types = _field_types((cls,))
    overrides = parse_overrides(argv)
    _check_keys(overrides, "command line: ", frozenset(field_types))
    values = {key: _coerce(key, raw, field_types) for key, raw in overrides.items()}
    for key, value in values.items():
        _check_value(key, value, "command line: ", field_types)
        if key in PATH_KEYS and isinstance(value, str) and value:  # an empty one: the dataclass says it is required
            _check_path(key, value)
    try:
        return HfArgumentParser(cls).parse_dict(values)[0]
    except (ValueError, TypeError) as err:
        raise ConfigError(f"command line: {err}") from None
