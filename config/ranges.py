"""The allowed range of every numeric option, in one table, checked when an argument dataclass is made: JSON
accepts NaN and Infinity, Python compares them without complaint, and an infinite learning rate trains to the end.

A float option missing from the table must still be finite; an integer one must still fit in 32 bits (a seed in
32 bits unsigned, as numpy requires), so no option can carry a value torch or numpy cannot take."""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass

INT_LIMIT = 2**31 - 1
SEED_LIMIT = 2**32 - 1  # numpy's seeds: 0 .. 2**32 - 1
MAX_EPOCHS = 1e6  # epochs times steps per epoch must stay an integer the scheduler can count to


@dataclass(frozen=True)
class Range:
    low: float
    high: float = math.inf
    low_open: bool = False  # low itself excluded
    high_open: bool = False
    special: int | None = None  # one value allowed outside the range, e.g. max_steps -1 (off)

    def __contains__(self, value) -> bool:
        if value == self.special:
            return True
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self, integer: bool, finite: bool = False) -> str:
        special = f"{self.special} or " if self.special is not None else ""
        if integer:
            if self.high == math.inf:
                return f"{special}{'a positive integer' if self.low == 1 else f'an integer >= {_number(self.low)}'}"
            return f"{special}an integer in [{_number(self.low)}, {_number(self.high)}]"
        what = "a finite number " if finite else ""
        if self.high == math.inf:
            return f"{special}{what}{'>' if self.low_open else '>='} {_number(self.low)}"
        return (f"{special}{what or 'a value '}in {'(' if self.low_open else '['}{_number(self.low)}, "
                f"{_number(self.high)}{')' if self.high_open else ']'}")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1)
COUNT = Range(1)  # a positive integer
SEED = Range(0, SEED_LIMIT)
EPOCHS = Range(0, MAX_EPOCHS, low_open=True)
BETA = Range(0, 1, high_open=True)

RANGES: dict[str, Range] = {
    # DataArguments
    "max_seq_length": COUNT,
    "max_train_samples": COUNT,
    "max_eval_samples": COUNT,
    "max_predict_samples": COUNT,
    "noise_duplicate_ratio": FRACTION,
    "noise_swap_ratio": FRACTION,
    "noise_unrelated_ratio": FRACTION,
    "noise_seed": SEED,
    "split_seed": SEED,
    "real_validation_fraction": Range(0, 1, high_open=True),
    # CheckerArguments
    "quality_checker_max_train_samples": COUNT,
    "quality_checker_folds": COUNT,
    "checker_num_train_epochs": EPOCHS,
    "diversity_checker_num_train_epochs": EPOCHS,
    "checker_learning_rate": POSITIVE,
    "checker_batch_size": COUNT,
    "filter_min_weight": NON_NEGATIVE,
    "filter_keep_top_fraction": Range(0, 1, low_open=True),
    # WeightedTrainingArguments: the loss
    "focal_gamma": NON_NEGATIVE,
    "weight_epsilon": Range(0, 1, low_open=True, high_open=True),
    "real_set_weight": NON_NEGATIVE,
    "real_set_finetune_epochs": Range(0, MAX_EPOCHS),
    "real_set_finetune_learning_rate": POSITIVE,
    "early_stopping_patience": COUNT,
    "early_stopping_threshold": NON_NEGATIVE,
    # TrainingArguments
    "learning_rate": POSITIVE,
    "num_train_epochs": Range(0, MAX_EPOCHS),  # 0 only with max_steps, see WeightedTrainingArguments
    "max_steps": Range(1, special=-1),
    "per_device_train_batch_size": COUNT,
    "per_device_eval_batch_size": COUNT,
    "gradient_accumulation_steps": COUNT,
    "eval_accumulation_steps": COUNT,
    "warmup_steps": NON_NEGATIVE,  # below 1: a fraction of the training steps
    "weight_decay": NON_NEGATIVE,
    "adam_beta1": BETA,
    "adam_beta2": BETA,
    "adam_epsilon": POSITIVE,
    "max_grad_norm": NON_NEGATIVE,  # 0: no clipping
    "label_smoothing_factor": BETA,
    "neftune_noise_alpha": POSITIVE,
    "logging_steps": POSITIVE,  # below 1: a fraction of the training steps
    "eval_steps": POSITIVE,
    "save_steps": POSITIVE,
    "eval_delay": NON_NEGATIVE,
    "save_total_limit": COUNT,
    "seed": SEED,
    "data_seed": SEED,
    "dataloader_num_workers": Range(0),
    "dataloader_prefetch_factor": COUNT,
    "torch_empty_cache_steps": COUNT,
    "ddp_bucket_cap_mb": COUNT,
    "ddp_timeout": COUNT,
    "local_rank": Range(-1),
}


class RangeError(ValueError):
    """A numeric option outside its range; `key` says which (to tell the file from the command line)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@functools.cache
def numeric_fields(cls) -> dict[str, type]:
    """The int and float fields of an argument dataclass (bool ones excluded), by name."""
    hints = typing.get_type_hints(cls)
    found = {}
    for f in dataclasses.fields(cls):
        basic = {t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None)}
        if basic & {int, float} and bool not in basic:
            found[f.name] = float if float in basic else int
    return found


def check_value(key: str, value, kind: type) -> None:
    """Raise RangeError unless `value` (not None) is a number, finite, of usable size and in the key's range."""
    allowed = RANGES.get(key)
    if isinstance(value, bool):  # an int to Python; a config file's true is refused before, code's True here
        wanted = allowed.describe(kind is int) if allowed else ("an integer" if kind is int else "a number")
        raise RangeError(key, f"{key}: expected {wanted}, got {value}")
    if kind is float:
        try:
            finite = math.isfinite(float(value))
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            wanted = allowed.describe(False, finite=True) if allowed else "a finite number"
            raise RangeError(key, f"{key}: expected {wanted}, got {value}")
    else:
        limit = SEED_LIMIT if allowed is SEED else INT_LIMIT
        if abs(value) > limit:
            raise RangeError(key, f"{key}: {value} is too large; expected at most {limit}")
    if allowed is not None and value not in allowed:
        raise RangeError(key, f"{key}: expected {allowed.describe(kind is int)}, got {value}")


def check_ranges(arguments) -> None:
    """Check every numeric field of an argument dataclass instance. A float option given an integer gets the float:
    torch refuses some mixed types (AdamW's betas, 0 and 0.999)."""
    for key, kind in numeric_fields(type(arguments)).items():
        value = getattr(arguments, key)
        if value is not None:
            check_value(key, value, kind)
            if kind is float and isinstance(value, int):
                setattr(arguments, key, float(value))
