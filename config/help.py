"""`--help` of run.py, score.py and predict.py: every option of this project, grouped, with its help and default,
read from the argument dataclasses' metadata (config/arguments.py), so it is never written twice."""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap
import typing

from config import recommended
from config.arguments import (
    CheckerArguments,
    DataArguments,
    ModelArguments,
    PredictArguments,
    WeightedTrainingArguments,
)
from config.loading import allowed_types

TRAINING_ARGUMENTS_DOCS = "https://huggingface.co/docs/transformers/main_classes/trainer#transformers.TrainingArguments"
LOSS_OPTIONS = ("problem_type", "focal_gamma", "weight_epsilon", "real_set_weight")
# Hugging Face TrainingArguments often set here, shown with transformers' own help; every other one is accepted too.
COMMON_TRAINING_OPTIONS = ("seed", "data_seed", "warmup_steps", "weight_decay", "gradient_accumulation_steps",
                           "max_steps", "lr_scheduler_type", "bf16", "fp16", "use_cpu", "disable_tqdm")
HUB_OPTIONS = ("push_to_hub", "hub_model_id", "hub_private_repo", "hub_token")
# What score.py reads of the training options; it takes run.py's config, whose other training options it passes over.
SCORE_OPTIONS = ("output_dir", "overwrite_output_dir", "report_to", "run_name", "seed", "use_cpu", "disable_tqdm")

RUN_INTRO = ("Every option below is a key of a JSON config file, or `--key value` on the command line (`--key=value`; "
             "a bare `--flag` means true; `null` means null; a list is a JSON list); the command line wins over the "
             "file. Without a config file, the run starts from the recommended method's settings "
             f"({recommended.RECOMMENDED_FILE.name}: its method keys, not its data), shown below as 'without a config "
             "file'. --debug shows a traceback for a bad input.")
COMMANDS = {
    "run": ("python run.py [CONFIG.json] [--key value ...] [--debug]",
            "Train a text classifier on generated (or noisy) labelled data with CE, Focal, IMP or DIMP loss, the "
            "examples weighted by checkers trained on a small real set. " + RUN_INTRO),
    "score": ("python score.py [CONFIG.json] [--key value ...] [--debug]",
              "Score the training data with the checkers, without training: weights.csv and weights_report.md in "
              "output_dir. " + RUN_INTRO),
    "predict": ("python predict.py --model OUTPUT_DIR --input FILE --output FILE [--key value ...] [--debug]",
                "Label new texts with a trained model: one output row per input, with the predicted label and a "
                "probability per class; an input that holds labels is scored against them too."),
}


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def groups(command: str) -> list[tuple[str, type, list[str]]]:
    """(title, dataclass, option names) in the order --help shows them."""
    if command == "predict":
        return [("Options", PredictArguments, list(_fields(PredictArguments)))]
    # the fields it declares itself, not the TrainingArguments ones it inherits unchanged
    training = [name for name in WeightedTrainingArguments.__annotations__ if name not in LOSS_OPTIONS + HUB_OPTIONS]
    shared = [
        ("Model", ModelArguments, list(_fields(ModelArguments))),
        ("Data", DataArguments, list(_fields(DataArguments))),
        ("Checkers", CheckerArguments, list(_fields(CheckerArguments))),
        ("Loss and weighting", WeightedTrainingArguments, list(LOSS_OPTIONS)),
    ]
    if command == "score":
        return shared + [("Output and run", WeightedTrainingArguments, list(SCORE_OPTIONS))]
    return shared + [
        ("Training and model selection", WeightedTrainingArguments, training + list(COMMON_TRAINING_OPTIONS)),
        ("Hugging Face hub", WeightedTrainingArguments, list(HUB_OPTIONS)),
    ]


def _shown(value) -> str:
    """A value as a config file gives it."""
    return value if isinstance(value, str) else json.dumps(value)


def _metavar(tp) -> str:
    basics, _ = allowed_types(tp)
    names = {bool: "true|false", int: "INT", float: "NUMBER", str: "TEXT", list: "LIST", dict: "JSON"}
    return "|".join(sorted(names[b] for b in basics))


# What this project adds to a TrainingArguments field shown with transformers' own help.
ADDED_HERE = {"disable_tqdm": "Here true also turns off the progress bars of the libraries under the Trainer "
                              "(tokenizing, loading and saving weights)."}


def _option(cls, name: str, width: int, flags_only: dict) -> list[str]:
    field = _fields(cls)[name]
    added = ADDED_HERE.get(name) if cls is WeightedTrainingArguments else None  # predict.py's own option: no Trainer
    text = " ".join(filter(None, [str(field.metadata.get("help", "")), added]))
    if field.metadata.get("required"):
        text += " (required)"
    else:
        text += f" (default: {_shown(field.default)}"
        if name in flags_only and flags_only[name] != field.default:
            text += f"; without a config file: {_shown(flags_only[name])}"
        text += ")"
    metavar = _metavar(typing.get_type_hints(cls)[name])
    return [f"  --{name} {metavar}"] + textwrap.wrap(text, width, initial_indent=" " * 6, subsequent_indent=" " * 6)


def render(command: str) -> str:
    width = min(shutil.get_terminal_size((100, 24)).columns, 110)
    usage, description = COMMANDS[command]
    flags_only = recommended.method_settings() if command != "predict" else {}
    lines = [f"usage: {usage}", "", *textwrap.wrap(description, width)]
    for title, cls, names in groups(command):
        lines += ["", f"{title}:"]
        for name in names:
            lines += _option(cls, name, width, flags_only)
    if command == "run":
        lines += ["", *textwrap.wrap("Every other field of Hugging Face's TrainingArguments is accepted too, with "
                                     f"its own default: {TRAINING_ARGUMENTS_DOCS}", width)]
    elif command == "score":
        lines += ["", *textwrap.wrap("run.py's training options (python run.py --help) are accepted too, so that one "
                                     "config serves both; they do not change the weights.", width)]
    return "\n".join(lines)
