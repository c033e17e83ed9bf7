"""A corpus of bad inputs. Each must end the run with exit status 2, one `error:` line that names the field, file or
line and what was expected, no traceback, and nothing written to the output folder."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification

from app.cli import main

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ctx:
    tmp: Path
    data: Path
    model: Path
    config: dict

    def write_config(self, changes: dict | None = None, drop: tuple = (), text: str | None = None) -> str:
        path = self.tmp / "config.json"
        if text is not None:
            path.write_text(text)
            return str(path)
        config = {k: v for k, v in {**self.config, **(changes or {})}.items() if k not in drop}
        path.write_text(json.dumps(config))
        return str(path)

    def data_file(self, name: str, content: str | bytes) -> str:
        path = self.data / "toy" / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return f"toy/{name}"

    def checker(self, name: str, edit: Callable | None = None, num_labels: int = 2) -> str:
        folder = self.tmp / name
        model = AutoModelForSequenceClassification.from_pretrained(self.model, num_labels=num_labels,
                                                                   ignore_mismatched_sizes=True)
        model.config.id2label = {0: "negative", 1: "positive", 2: "neutral"}
        model.config.id2label = {i: model.config.id2label[i] for i in range(num_labels)}
        model.config.label2id = {v: k for k, v in model.config.id2label.items()}
        if edit:
            edit(model)
        model.save_pretrained(folder)
        for file in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(self.model / file, folder)
        return str(folder)


def _raw(ctx: Ctx, **values: str) -> list[str]:
    """The valid config with some values written as raw JSON text (NaN, Infinity, a key twice)."""
    body = json.dumps({k: v for k, v in ctx.config.items() if k not in values})[:-1]
    return [ctx.write_config(text=body + "".join(f', "{k.rstrip("_")}": {v}' for k, v in values.items()) + "}")]


def _copy_model(ctx: Ctx, name: str, edit: Callable[[Path], None]) -> str:
    folder = ctx.tmp / name
    shutil.copytree(ctx.model, folder)
    edit(folder)
    return str(folder)


def _truncate(name: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
    return edit


def _write_file(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def _delete(*names: str) -> Callable[[Path], None]:
    return lambda folder: [(folder / name).unlink() for name in names]


def _damaged_checker(ctx: Ctx, edit: Callable[[Path], None], **changes) -> list[str]:
    folder = Path(ctx.checker("damaged"))
    edit(folder)
    return _dimp(ctx, quality_checker_model=str(folder), **changes)


def _headless_checker(ctx: Ctx) -> list[str]:
    folder = Path(ctx.checker("headless"))
    AutoModel.from_pretrained(folder).save_pretrained(folder)  # the encoder alone, like a base model from the hub
    return _dimp(ctx, quality_checker_model=str(folder))


def _output_in(ctx: Ctx, files: dict[str, str], **changes) -> list[str]:
    out = Path(ctx.config["output_dir"])
    out.mkdir(parents=True)
    for name, text in files.items():
        (out / name).write_text(text)
    return [ctx.write_config(changes)]


def _checkpoints(ctx: Ctx, damage: Callable[[Path], None], *steps: int) -> Path:
    """Checkpoint folders as a Trainer writes them (from the tiny model), each then damaged."""
    out = Path(ctx.config["output_dir"])
    for step in steps:
        folder = out / f"checkpoint-{step}"
        shutil.copytree(ctx.model, folder)
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        damage(folder)
    return out


def _training_data(name: str, content: str | bytes) -> Callable[[Ctx], list[str]]:
    return lambda ctx: [ctx.write_config({"train_file": ctx.data_file(name, content)})]


def _dimp(ctx: Ctx, **changes) -> list[str]:
    return [ctx.write_config({"problem_type": "single_label_classification_dimp", **changes})]


def _nan_head(model):
    with torch.no_grad():
        model.classifier.weight.fill_(float("nan"))


def _rename(*names: str) -> Callable:
    def edit(model):
        model.config.id2label = dict(enumerate(names))
        model.config.label2id = {name: i for i, name in enumerate(names)}
    return edit


def _pickle_only(ctx: Ctx) -> str:
    folder = Path(ctx.checker("pickled"))
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    return str(folder)


def _readme_in_output_dir(ctx: Ctx) -> list[str]:
    out = Path(ctx.config["output_dir"])
    out.mkdir(parents=True)
    (out / "README.md").write_text("# My project\n")
    return [ctx.write_config()]


def _no_weights(ctx: Ctx) -> str:
    folder = Path(ctx.checker("no-weights"))
    (folder / "model.safetensors").unlink()
    return str(folder)


def _single_label(ctx: Ctx) -> dict:
    (ctx.data / "one").mkdir()
    (ctx.data / "one" / "one.jsonl").write_text('{"text": "a", "label": 0}\n{"text": "b", "label": 0}\n')
    return {"train_file": "one/one.jsonl", "validation_file": None, "test_file": None, "quality_checker_train_file": None}


def _labels_spelt_apart(ctx: Ctx) -> dict:
    """Generated and real files whose labels are the same classes spelt differently, with no labels.json."""
    (ctx.data / "spelt").mkdir()
    for name, labels in (("generated", ("Negative", "Positive")), ("real", ("negative", "positive"))):
        (ctx.data / "spelt" / f"{name}.jsonl").write_text("".join(json.dumps({"text": f"t{i}", "label": labels[i % 2]})
                                                                  + "\n" for i in range(8)))
    return {"train_file": "spelt/generated.jsonl", "quality_checker_train_file": "spelt/real.jsonl",
            "validation_file": None, "test_file": None}


def _test_label_unseen(ctx: Ctx) -> dict:
    """A test file that spells one label otherwise than the training data and the real set, with no labels.json."""
    (ctx.data / "unseen").mkdir()
    for name, labels in (("train", ("negative", "positive")), ("real", ("negative", "positive")),
                         ("test", ("negative", "Positive"))):
        (ctx.data / "unseen" / f"{name}.jsonl").write_text("".join(json.dumps({"text": f"{name} {i}",
                                                                               "label": labels[i % 2]}) + "\n"
                                                                   for i in range(8)))
    return {"train_file": "unseen/train.jsonl", "quality_checker_train_file": "unseen/real.jsonl",
            "validation_file": None, "test_file": "unseen/test.jsonl"}


def _labels(ctx: Ctx, text: str) -> dict:
    folder = ctx.data / "labels"
    folder.mkdir()
    shutil.copy(ctx.data / "toy" / "train.jsonl", folder)
    (folder / "labels.json").write_text(text)
    return {"train_file": "labels/train.jsonl"}


def _damaged_artifact(ctx: Ctx) -> list[str]:
    folder = Path(ctx.checker("artifacts/broken:v1"))
    (folder / "config.json").write_text("{")
    return _dimp(ctx, quality_checker_model="me/proj/broken:v1")


def _symlink_loop(ctx: Ctx) -> list[str]:
    (ctx.tmp / "loop").symlink_to(ctx.tmp / "loop")
    return [ctx.write_config({"output_dir": str(ctx.tmp / "loop" / "out")})]


def _config_in_output(ctx: Ctx) -> list[str]:
    out = Path(ctx.config["output_dir"])
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(ctx.config))
    return [str(out / "config.json")]


def _resume_other_model(ctx: Ctx) -> list[str]:
    other = Path(ctx.checker("three", num_labels=3))
    _checkpoints(ctx, lambda folder: shutil.copy(other / "model.safetensors", folder), 2)
    return [ctx.write_config({"resume_from_checkpoint": "last"})]


def _resume_other_method(ctx: Ctx) -> list[str]:
    """A run started as DIMP at another learning rate, resumed as the config now says."""
    out = _checkpoints(ctx, lambda folder: None, 2)
    (out / "resolved_config.json").write_text(json.dumps({**ctx.config, "learning_rate": 0.01,
                                                          "problem_type": "single_label_classification_dimp"}))
    return [ctx.write_config({"resume_from_checkpoint": "last", "num_train_epochs": 5})]  # more epochs: allowed


def _resume_damaged(ctx: Ctx) -> list[str]:
    _checkpoints(ctx, _truncate("model.safetensors"), 2, 4)
    return [ctx.write_config({"resume_from_checkpoint": "last"})]


def _empty_folder(ctx: Ctx) -> str:
    (ctx.tmp / "empty").mkdir()
    return str(ctx.tmp / "empty")


def _existing_results(ctx: Ctx) -> list[str]:
    out = Path(ctx.config["output_dir"])
    out.mkdir(parents=True)
    (out / "all_results.json").write_text('{"test_accuracy": 0.9}')
    return [ctx.write_config()]


# (id, argv builder, expected message[, command: run or score]). Messages are regular expressions.
CASES: list[tuple] = [
    ("malformed-json", lambda c: [c.write_config(text='{\n "seed": 1,\n}')],
     r"config.json: invalid JSON at line 3, column 1: .*; JSON allows no comma before a closing bracket$"),
    ("json-with-comments", lambda c: [c.write_config(text='{\n  // the seed\n  "seed": 1\n}')],
     r"config.json: invalid JSON at line 2, column 3: .*; JSON has no comments$"),
    ("json-not-object", lambda c: [c.write_config(text="[1, 2]")], r"expected a JSON object of key/value pairs"),
    ("config-missing", lambda c: [str(c.tmp / "nope.json")], r"nope.json: config file not found"),
    ("config-in-yaml", lambda c: [(c.tmp / "config.yaml").write_text("learning_rate: 1e-4\n")
                                  and str(c.tmp / "config.yaml")],
     r"config.yaml: a config file is JSON, as the authors' are; write it as a .json file"),
    ("config-not-utf8", lambda c: [(c.tmp / "latin.json").write_bytes(b'{"name": "caf\xe9"}') and str(c.tmp / "latin.json")],
     r"latin.json: not UTF-8"),
    ("unknown-key", lambda c: [c.write_config({"learnig_rate": 1e-4})], r"unknown config key 'learnig_rate'; did you mean 'learning_rate'"),
    ("unknown-cli-key", lambda c: [c.write_config(), "--num_epochs", "3"],
     r"command line: unknown option 'num_epochs'"),
    ("unsupported-key", lambda c: [c.write_config(), "--tokenizer_name", "bert-base-uncased"],
     r"tokenizer_name: not supported; the tokenizer of model_name_or_path is used \(leave it null\)"),
    ("cli-not-key-value", lambda c: [c.write_config(), "learning_rate"], r"command line: expected --key value"),
    ("wrong-type", lambda c: [c.write_config({"learning_rate": "fast"})], r"learning_rate: expected a number, got str 'fast'"),
    ("wrong-type-cli", lambda c: [c.write_config(), "--per_device_train_batch_size", "many"],
     r"per_device_train_batch_size: expected an integer"),
    ("negative-lr", lambda c: [c.write_config({"learning_rate": -1e-4})], r"learning_rate: expected > 0, got -0.0001"),
    ("negative-gamma", lambda c: [c.write_config({"focal_gamma": -0.5})], r"focal_gamma: expected >= 0, got -0.5"),
    ("ratio-above-one", lambda c: [c.write_config({"noise_swap_ratio": 1.5})], r"noise_swap_ratio: expected a value in \[0, 1\], got 1.5"),
    ("ratio-negative", lambda c: [c.write_config({"noise_duplicate_ratio": -0.1})], r"noise_duplicate_ratio: expected a value in \[0, 1\]"),
    ("epsilon-out-of-range", lambda c: [c.write_config({"weight_epsilon": 0})], r"weight_epsilon: expected a value in \(0, 1\)"),
    ("zero-max-length", lambda c: [c.write_config({"max_seq_length": 0})], r"max_seq_length: expected a positive integer"),
    ("unknown-problem-type", lambda c: [c.write_config({"problem_type": "single_label_classification_dimpp"})],
     r"problem_type: unknown value 'single_label_classification_dimpp'"),
    ("bad-match-labels-by", lambda c: [c.write_config({"match_labels_by": "position"})], r"match_labels_by: expected 'name' or 'id'"),
    ("imp-without-diversity-checker", lambda c: [c.write_config({"problem_type": "single_label_classification_imp"},
                                                                drop=("diversity_checker_model",))],
     r"diversity_checker_model: problem_type single_label_classification_imp needs a diversity checker.*; for "
     r"instance ./cache/checkers/diversity-checker_toy-train_\S+, the folder a run without a config file builds it in"),
    ("dimp-without-quality-checker", lambda c: [c.write_config({"problem_type": "single_label_classification_dimp"},
                                                               drop=("quality_checker_model",))],
     r"quality_checker_model: problem_type single_label_classification_dimp needs a quality checker.*; for instance "
     r"./cache/checkers/quality-checker_\S+, the folder a run without a config file builds it in"),
    ("checkers-in-one-folder", lambda c: [c.write_config({
        "problem_type": "single_label_classification_imp", "quality_checker_model": str(c.tmp / "ck" / "x"),
        "diversity_checker_model": str(c.tmp / "ck" / ".." / "ck/x")})],
     r"diversity_checker_model: .*ck/x is quality_checker_model too; the quality checker \(CE on the real set\) and "
     r"the diversity checker \(CE on the training data\) are two models, each in a folder of its own$"),
    ("quality-only-without-quality-checker",
     lambda c: [c.write_config({"problem_type": "single_label_classification_quality_only"},
                               drop=("quality_checker_model",))],
     r"quality_checker_model: problem_type single_label_classification_quality_only needs a quality checker"),
    ("no-train-file", lambda c: [c.write_config(drop=("train_file",))], r"train_file: not set"),
    ("missing-data-file", lambda c: [c.write_config({"validation_file": "toy/missing.jsonl"})],
     r"validation_file: file 'toy/missing.jsonl' not found"),
    ("empty-data-file", _training_data("empty.jsonl", ""), r"empty.jsonl: no records"),
    ("bad-json-line", _training_data("badline.jsonl", '{"text": "a", "label": 0}\n{"text": "b",\n'),
     r"badline.jsonl: line 2: invalid JSON"),
    ("unsupported-format", _training_data("t.xlsx", "x"), r"unsupported file type '.xlsx'"),
    ("no-file-type", _training_data("train_file", "x"),
     r"train_file: no file type in its name; expected one of .jsonl, "),
    ("compressed-data-cut-short",
     _training_data("cut.jsonl.gz", gzip.compress(b'{"text": "a", "label": 0}\n' * 50)[:40]),
     r"cut.jsonl.gz: line \d+: cannot decompress \(Compressed file ended before the end-of-stream marker was "
     r"reached\); the file is damaged, cut short, or not .gz data"),
    ("compressed-data-damaged",  # a deflate block of a type gzip does not have: zlib's own error, not an OSError
     _training_data("damaged.jsonl.gz", gzip.compress(b"", mtime=0)[:10] + b"\x07" + bytes(16)),
     r"damaged.jsonl.gz: line 1: cannot decompress \(Error -3 while decompressing data: invalid block type\); the "
     r"file is damaged"),
    ("not-compressed-as-named", _training_data("plain.jsonl.gz", '{"text": "a", "label": 0}\n'),
     r"plain.jsonl.gz: line 1: cannot decompress \(Not a gzipped file"),
    ("compressed-parquet", _training_data("t.parquet.gz", b"x"), r"unsupported file type '.gz'; expected one of "
     r".jsonl, .json, .csv, .tsv, .parquet \(the text formats may be compressed: .gz, .bz2, .xz\)"),
    ("missing-text-column", lambda c: [c.write_config({"text_column_names": "sentence"})], r"train.jsonl: line 1: missing text column 'sentence'"),
    ("missing-label-column", _training_data("nolabel.jsonl", '{"text": "a", "label": 0}\n{"text": "b"}\n'),
     r"nolabel.jsonl: line 2: missing label column 'label'"),
    ("label-outside-set", _training_data("badlabel.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": 7}\n'),
     r"badlabel.jsonl: line 2: label 7 is not in the label set \['negative', 'positive'\]"),
    ("label-name-outside-set", _training_data("badname.jsonl", '{"text": "a", "label": "neutral"}\n'),
     r"badname.jsonl: line 1: label 'neutral' is not in the label set"),
    ("not-utf8-data", _training_data("latin.jsonl", b'{"text": "ok", "label": 0}\n{"text": "caf\xe9", "label": 1}\n'),
     r"latin.jsonl: line 2: not valid UTF-8"),
    ("empty-text", _training_data("blank.jsonl", '{"text": "a", "label": 0}\n{"text": " ", "label": 1}\n'),
     r"blank.jsonl: line 2: column 'text' is empty"),
    ("quality-checker-on-test-split", lambda c: [c.write_config({"quality_checker_train_file": "toy/test.jsonl"})],
     r"quality_checker_train_file: \S+toy/test.jsonl is the test split; nothing may learn from what the model is "
     r"evaluated on"),
    ("quality-checker-on-the-validation-split", lambda c: [c.write_config(
        {"quality_checker_train_file": "toy/validation.jsonl", "real_set_in_training": True})],
     r"quality_checker_train_file: \S+toy/validation.jsonl is the validation split; nothing may learn from what the "
     r"model is evaluated on \(leave validation_file out: a part of the real set is then held out as the validation "
     r"split\)"),
    ("quality-checker-selected-on-the-test-split", lambda c: [c.write_config(
        {"quality_checker_validation_file": "toy/test.jsonl"})],
     r"quality_checker_validation_file: \S+toy/test.jsonl is the test split"),
    ("training-on-the-test-split", lambda c: [c.write_config({"augmented_train_file": "toy/test.jsonl"})],
     r"augmented_train_file: \S+toy/test.jsonl is the test split; nothing may learn from what the model is evaluated "
     r"on"),
    ("validating-on-the-training-data", lambda c: [c.write_config({"validation_file": "toy/train.jsonl"})],
     r"train_file: \S+toy/train.jsonl is the validation split"),
    ("training-on-the-held-out-real-set", lambda c: [c.write_config(
        {"augmented_train_file": "toy/real.jsonl", "quality_checker_train_file": "toy/real.jsonl"},
        drop=("validation_file",))], r"augmented_train_file: \S+toy/real.jsonl is the real set "
                                     r"\(quality_checker_train_file\), whose held-out part is the validation split"),
    ("wandb-dataset-unset", lambda c: [c.write_config({"use_wandb_dataset": True}, drop=("train_file",))],
     r"use_wandb_dataset: true, but wandb_dataset is not set"),
    ("artifact-path-trick", lambda c: _dimp(c, quality_checker_model="me/proj/../../etc:v0"),
     r"quality_checker_model: 'me/proj/../../etc:v0' is not a valid W&B artifact reference"),
    ("artifact-not-downloaded", lambda c: _dimp(c, quality_checker_model="me/proj/absent-checker:v3", quality_checker_train_file=None),
     r"quality_checker_model: W&B artifact me/proj/absent-checker:v3 is not in .*absent-checker:v3"),
    ("checker-label-count", lambda c: _dimp(c, quality_checker_model=c.checker("three", num_labels=3)),
     r"quality_checker_model: the checker has 3 labels .*the task has 2"),
    ("checker-label-names", lambda c: _dimp(c, quality_checker_model=c.checker("other", _rename("neg", "pos"))),
     r"quality_checker_model: the checker's labels \['neg', 'pos'\] differ from the task's \['negative', 'positive'\]"),
    ("checker-without-weights", lambda c: _dimp(c, quality_checker_model=_no_weights(c)), r"quality_checker_model: .*has no model weights"),
    ("checker-pickle-only", lambda c: _dimp(c, quality_checker_model=_pickle_only(c)),
     r"quality_checker_model: .*holds only pickle weights .*allow_pickle_checkpoints"),
    ("checker-nan-probabilities", lambda c: _dimp(c, quality_checker_model=c.checker("nan", _nan_head)),
     r"quality_checker_model: the checker gave 64 non-finite outputs"),
    ("checker-folder-missing-no-recipe", lambda c: _dimp(c, quality_checker_model=str(c.tmp / "absent"), quality_checker_train_file=None),
     r"quality_checker_model: checker folder .*absent not found"),
    ("resume-without-checkpoint", lambda c: [c.write_config({"resume_from_checkpoint": "last"})],
     r"resume_from_checkpoint: no checkpoint-\* folder"),
    ("output-dir-holds-results", _existing_results, r"output_dir: .* already holds results \(all_results.json\)"),
    ("no-config-no-real-set", lambda c: ["--train_file", "toy/train.jsonl", "--problem_type", "single_label_classification_dimp",
                                         "--output_dir", c.config["output_dir"], "--report_to", "none"],
     r"quality_checker_train_file: problem_type single_label_classification_dimp needs a quality checker trained on your real"),
    ("no-config-nothing-given", lambda c: [],  # the data first, then the real set
     r"train_file: not set; .*, in a config file or as --key value \(--help lists the options\)$"),
    ("real-validation-fraction", lambda c: [c.write_config({"real_validation_fraction": 1})],
     r"real_validation_fraction: expected .*\[0, 1\), got 1"),
    ("early-stopping-without-validation", lambda c: [c.write_config({"early_stopping_patience": 2, "real_validation_fraction": 0, "load_best_model_at_end": True,
                                                                     "save_strategy": "epoch"}, drop=("validation_file",))],
     r"early_stopping_patience: needs validation data"),
    ("output-dir-holds-a-readme", _readme_in_output_dir, r"output_dir: .* already holds results \(README.md\)"),
    ("config-inside-output-dir", _config_in_output,
     r"output_dir: .* is where the config file .*config.json lies, and the run writes its own config.json there"),
    # Numbers JSON accepts that are not usable numbers, and numbers out of range.
    ("nan-in-file", lambda c: _raw(c, learning_rate="NaN"), r"config.json: learning_rate: expected a finite number > 0, got nan"),
    ("infinity-in-file", lambda c: _raw(c, num_train_epochs="Infinity"),
     r"num_train_epochs: expected a finite number in \[0, 1000000\], got inf"),
    ("minus-infinity-cli", lambda c: [c.write_config(), "--weight_decay", "-Infinity"],
     r"command line: weight_decay: expected a finite number >= 0, got -inf"),
    ("nan-cli-lowercase", lambda c: [c.write_config(), "--learning_rate", "nan"],
     r"command line: learning_rate: expected a finite number > 0, got nan"),
    ("huge-value-on-the-command-line", lambda c: [c.write_config(), "--seed", "1" * 5000],
     r"command line: seed: expected an integer, got str '1{59}\.\.\. \(5002 characters\)$"),
    ("huge-choice-on-the-command-line", lambda c: [c.write_config(), "--match_labels_by", "x" * 5000],
     r"command line: match_labels_by: expected 'name' or 'id', got 'x{59}\.\.\. \(5002 characters\)$"),
    ("unknown-trainer-choice", lambda c: [c.write_config(), "--optim", "adam"],
     r"command line: optim: adam is not a valid OptimizerNames, please select one of \['adamw_torch', "),
    ("huge-trainer-choice-in-the-file", lambda c: [c.write_config({"lr_scheduler_type": "y" * 5000})],
     r"config.json: lr_scheduler_type: 'y{59}\.\.\. \(5002 characters\) is not a valid SchedulerType, please "),
    ("unknown-log-level", lambda c: [c.write_config({"log_level": "verbose"})],
     r"config.json: log_level: expected one of detail, debug, info, warning, error, critical, passive, got 'verbose'$"),
    ("unknown-compile-mode", lambda c: [c.write_config(), "--torch_compile_mode", "fast"],
     r"command line: torch_compile_mode: expected one of default, .*, got 'fast'$"),
    ("key-twice-in-an-object-on-the-command-line",
     lambda c: [c.write_config(), "--lr_scheduler_kwargs", '{"num_cycles": 1, "num_cycles": 2}'],
     r"command line: key 'num_cycles' appears twice in one object; JSON keeps only the last, so remove one"),
    ("nan-inside-object", lambda c: _raw(c, lr_scheduler_kwargs='{"num_cycles": NaN}'),
     r"lr_scheduler_kwargs: expected finite numbers, got nan"),
    ("integer-too-large", lambda c: [c.write_config({"per_device_train_batch_size": 10**20})],
     r"per_device_train_batch_size: 100000000000000000000 is too large; expected at most 2147483647"),
    ("float-too-large", lambda c: [c.write_config({"learning_rate": 10**400})], r"learning_rate: expected a finite number > 0"),
    ("negative-seed", lambda c: [c.write_config({"seed": -1})], r"seed: expected an integer in \[0, 4294967295\], got -1"),
    ("boolean-as-number", lambda c: [c.write_config({"learning_rate": True})], r"learning_rate: expected a number, got bool True"),
    ("float-for-integer", lambda c: [c.write_config({"max_seq_length": 12.5})], r"max_seq_length: expected an integer, got float 12.5"),
    ("negative-count", lambda c: [c.write_config({"max_train_samples": -5})], r"max_train_samples: expected a positive integer, got -5"),
    ("max-steps-zero", lambda c: [c.write_config({"max_steps": 0})], r"max_steps: expected -1 or a positive integer, got 0"),
    ("zero-epochs", lambda c: [c.write_config({"num_train_epochs": 0})], r"num_train_epochs: expected > 0 \(or set max_steps\)"),
    ("adam-beta-one", lambda c: [c.write_config({"adam_beta2": 1.0})], r"adam_beta2: expected a value in \[0, 1\), got 1.0"),
    ("warmup-ratio-not-a-fraction", lambda c: [c.write_config({"warmup_ratio": "abc"})],
     r"warmup_ratio: expected a fraction in \[0, 1\), got 'abc'"),
    ("checker-epochs-infinite", lambda c: _raw(c, checker_num_train_epochs="Infinity"),
     r"checker_num_train_epochs: expected a finite number in \(0, 1000000\]"),
    # Keys given twice, malformed config files.
    ("duplicate-key", lambda c: [c.write_config(text='{\n "seed": 1,\n "learning_rate": 0.1,\n "seed": 2\n}')],
     r"config.json: line 4: key 'seed' appears twice in one object"),
    ("config-is-folder", lambda c: [str(c.tmp)], r"is a folder; expected a JSON config file"),
    ("config-nested-too-deeply", lambda c: [c.write_config(text='{"a": ' + "[" * 100000 + "]" * 100000 + "}")],
     r"invalid JSON at line 1, column 1: nested too deeply"),
    ("config-integer-too-long", lambda c: [c.write_config(text='{"seed": ' + "1" * 5000 + "}")],
     r"invalid JSON at line 1, column 10: an integer of 5000 digits, more than Python reads"),
    ("config-empty-file", lambda c: [c.write_config(text="")], r"config.json: invalid JSON at line 1"),
    ("cli-empty-key", lambda c: [c.write_config(), "--=3"], r"command line: unknown option ''"),
    # Paths that are empty, or point at the wrong kind of thing.
    ("empty-path", lambda c: [c.write_config({"train_file": ""})], r"train_file: empty; give a path"),
    ("empty-checker-path", lambda c: _dimp(c, quality_checker_model="  "), r"quality_checker_model: empty; give a path"),
    ("unpaired-surrogate-in-config", lambda c: _raw(c, train_file='"toy/\\ud800.jsonl"'),
     r"train_file: 'toy/\\ud800.jsonl' holds an unpaired surrogate, which is not text"),
    ("text-columns-repeated", lambda c: [c.write_config({"text_column_names": "text,text"})],
     r"text_column_names: expected one text column or two different ones"),
    ("three-text-columns", lambda c: [c.write_config({"text_column_names": "a,b,c"})],
     r"text_column_names: expected one text column or two different ones .*got 'a,b,c'"),
    ("text-columns-as-a-list", lambda c: [c.write_config({}), "--text_column_names", '["text"]'],
     r"text_column_names: expected column names separated by commas \(a,b\), got '\[\"text\"\]'"),
    ("path-name-too-long", lambda c: [c.write_config({"test_file": "x" * 300})],
     r"test_file: 'x{38}\.\.\.x{39}': File name too long"),
    ("path-with-nul", lambda c: [c.write_config({"train_file": "toy/train\x00.jsonl"})], r"train_file: .* holds a NUL character"),
    ("output-dir-symlink-loop", _symlink_loop, r"output_dir: .*loop.out': Too many levels of symbolic links"),
    ("data-path-is-folder", lambda c: [c.write_config({"validation_file": "toy"})],
     r"validation_file: .*toy is a folder; expected a data file"),
    ("model-path-is-file", lambda c: [c.write_config({"model_name_or_path": str(c.data / "toy" / "train.jsonl")})],
     r"model_name_or_path: .*train.jsonl is a file; expected a model folder or a hub id"),
    ("hub-id-not-cached-offline", lambda c: [c.write_config({"model_name_or_path": "someone/not-a-cached-model"})],
     r"model_name_or_path: someone/not-a-cached-model is neither a folder nor in the local hub cache"),
    ("checker-folder-read-as-hub-id",
     lambda c: [c.write_config({"quality_checker_model": "mycheckers/quality",
                                "problem_type": "single_label_classification_dimp"})],
     r"quality_checker_model: mycheckers/quality is neither a folder nor in the local hub cache .*; a checker is built "
     r"in a new folder only when its path starts with \./, \.\./, / or ~ \(\./mycheckers/quality\)$"),
    # Data files: duplicate keys, encodings, labels that are not labels.
    ("duplicate-key-in-data", _training_data("dupkey.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": 1, "text": "c"}\n'),
     r"dupkey.jsonl: line 2: key 'text' appears twice"),
    ("duplicate-csv-column", _training_data("dup.csv", "text,label,text\na,0,b\n"),
     r"dup.csv: line 1: column 'text' appears twice in the header"),
    ("csv-field-too-large", _training_data("big.csv", "text,label\n" + "a" * 200000 + ",1\n"),
     r"big.csv: line 2: field larger than field limit"),
    ("csv-more-fields", _training_data("extra.csv", "text,label\na,0\nb,1,2\n"),
     r"extra.csv: line 3: more fields than the header's 2"),
    ("csv-read-with-another-delimiter", _training_data("semi.csv", "text;label\nHi, there;0\n"),
     r"semi.csv: line 2: more fields than the header's 1; its one column's name holds ';': a .csv file is read "
     r"comma-separated, a .tsv tab-separated$"),
    ("utf16-data", _training_data("u16.jsonl", '{"text": "a", "label": 0}\n'.encode("utf-16")),
     r"u16.jsonl: UTF-16 text; re-save the file as UTF-8"),
    ("nul-byte-data", _training_data("nul.jsonl", '{"text": "a", "label": 0}\n\x00\n'),
     r"nul.jsonl: line 2: a NUL character"),
    ("truncated-data", _training_data("cut.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "la'),
     r"cut.jsonl: line 2: invalid JSON"),
    ("label-is-list", _training_data("listlabel.jsonl", '{"text": "a", "label": [1]}\n'),
     r"listlabel.jsonl: line 1: label \[1\] is not in the label set"),
    ("label-is-nan", _training_data("nanlabel.jsonl", '{"text": "a", "label": NaN}\n'),
     r"nanlabel.jsonl: line 1: label nan is not in the label set"),
    ("unpaired-surrogate-in-text", _training_data("sur.jsonl", '{"text": "a", "label": 0}\n{"text": "b\\ud800", "label": 1}\n'),
     r"sur.jsonl: line 2: column 'text' holds an unpaired surrogate"),
    ("text-not-a-string", _training_data("numtext.jsonl", '{"text": 5, "label": 0}\n'),
     r"numtext.jsonl: line 1: column 'text' holds int 5; expected text"),
    ("single-label-data", lambda c: [c.write_config(_single_label(c))], r"one.jsonl: every example has the label '0'"),
    ("labels-spelt-apart", lambda c: [c.write_config(_labels_spelt_apart(c))],
     r"quality_checker_train_file: .*real.jsonl: none of its labels \['negative', 'positive'\] is one of the training "
     r"data's \['Negative', 'Positive'\]"),
    ("test-label-unseen", lambda c: [c.write_config(_test_label_unseen(c))],
     r"unseen/test.jsonl: label 'Positive' is in neither the training data nor the real set, so no model could learn "
     r"it; expected one of \['negative', 'positive'\]"),
    ("split-leaves-no-training-data", lambda c: [c.write_config({"split_file": "toy/train.jsonl", "split_ratios": "0,0.5,0.5"},
                                                                drop=("train_file", "validation_file", "test_file"))],
     r"split_ratios: \[0.0, 0.5, 0.5\] leaves no training examples"),
    ("labels-json-list", lambda c: [c.write_config(_labels(c, '["negative", "positive"]'))],
     r"labels.json: expected a JSON object mapping label ids to names"),
    ("labels-json-duplicate-names", lambda c: [c.write_config(_labels(c, '{"0": "same", "1": "same"}'))],
     r"labels.json: label names must differ"),
    ("labels-json-odd-ids", lambda c: [c.write_config(_labels(c, '{"00": "negative", "1": "positive"}'))],
     r"labels.json: label ids must be 0..1, got \['00', '1'\]"),
    ("labels-json-duplicate-key", lambda c: [c.write_config(_labels(c, '{"0": "negative", "0": "positive"}'))],
     r"labels.json: key '0' appears twice"),
    ("labels-json-clashing-ids", lambda c: [c.write_config(_labels(c, '{"0": "positive", "1": "mixed"}'))],
     r"toy/validation.jsonl: its labels.json gives 'positive' the id 1, .*labels/train.jsonl's the id 0; expected "
     r"the same label names in both, or the same ids"),
    ("held-out-from-one-example", lambda c: [c.write_config({"train_file": c.data_file("single.jsonl", '{"text": "a", "label": 0}\n'),
                                                             "quality_checker_train_file": "toy/single.jsonl"})],
     r"quality_checker_train_file: is the training file, whose one example cannot be both"),
    # Corrupt or partial model, checker and artifact folders.
    ("checker-config-not-json", lambda c: _damaged_checker(c, _write_file("config.json", "{not json")),
     r"quality_checker_model: .*damaged: config.json is not valid JSON"),
    ("checker-config-not-object", lambda c: _damaged_checker(c, _write_file("config.json", "[]")),
     r"quality_checker_model: .*damaged: config.json is not a JSON object"),
    ("checker-weights-truncated", lambda c: _damaged_checker(c, _truncate("model.safetensors")),
     r"quality_checker_model: .*damaged: model.safetensors is truncated or not a safetensors file"),
    ("checker-tokenizer-missing", lambda c: _damaged_checker(c, _delete("tokenizer.json", "tokenizer_config.json")),
     r"quality_checker_model: the tokenizer in .*damaged has no vocabulary"),
    ("checker-tokenizer-corrupt", lambda c: _damaged_checker(c, _truncate("tokenizer.json")),
     r"quality_checker_model: .*damaged: tokenizer.json is not valid JSON"),
    ("checker-without-head", _headless_checker,
     r"quality_checker_model: .*headless is not a trained classifier: its weights lack classifier.bias, "
     r"classifier.weight; give a classifier fine-tuned on the task"),
    # with nothing to build it from (with a real set to train on, an empty folder is built into)
    ("checker-empty-folder",
     lambda c: _dimp(c, quality_checker_model=_empty_folder(c), quality_checker_train_file=None),
     r"quality_checker_model: .* has no config.json"),
    ("model-weights-truncated", lambda c: [c.write_config({"model_name_or_path": _copy_model(c, "cut", _truncate("model.safetensors"))})],
     r"model_name_or_path: .*cut: model.safetensors is truncated"),
    ("model-with-another-head", lambda c: [c.write_config({"model_name_or_path": c.checker("three", num_labels=3)})],
     r"model_name_or_path: the weights in .*three do not fit a classifier of the task's 2 labels .*set "
     r"ignore_mismatched_sizes true"),
    ("model-unknown-type", lambda c: [c.write_config({"model_name_or_path": _copy_model(
        c, "odd", _write_file("config.json", '{"model_type": "nonexistent"}'))})],
     r"model_name_or_path: could not load the .* from .*odd: .*nonexistent"),
    ("artifact-folder-damaged", _damaged_artifact, r"quality_checker_model: .*broken:v1: config.json is not valid JSON"),
    # Output folders that are not what they seem.
    ("output-dir-is-file", lambda c: [c.write_config({"output_dir": str(c.data / "toy" / "train.jsonl")})],
     r"output_dir: .*train.jsonl is a file; give a folder"),
    ("output-dir-under-a-file", lambda c: [c.write_config({"output_dir": str(c.data / "toy" / "train.jsonl" / "out")})],
     r"output_dir: .*train.jsonl is a file, so .* cannot be created"),
    ("output-dir-is-data-folder", lambda c: [c.write_config({"output_dir": str(c.data / "toy"), "overwrite_output_dir": True})],
     r"output_dir: .*toy holds train_file .*train.jsonl; the run would write among its own inputs"),
    ("output-dir-is-model-folder", lambda c: [c.write_config({"output_dir": str(c.model), "overwrite_output_dir": True})],
     r"output_dir: .* is the model_name_or_path folder"),
    ("output-dir-holds-checker", lambda c: _dimp(c, output_dir=str(c.tmp / "checkers")),
     r"output_dir: .*checkers holds the quality_checker_model folder"),
    ("output-dir-inside-checker", lambda c: _dimp(c, quality_checker_model=c.checker("ck"), output_dir=str(c.tmp / "ck" / "out")),
     r"output_dir: .*ck.out is inside the quality_checker_model folder"),
    ("output-dir-foreign-files", lambda c: _output_in(c, {"notes.txt": "mine", "all_results.json": "{}"}, overwrite_output_dir=True),
     r"output_dir: .* holds files this project did not write \(notes.txt\); choose a new or empty folder"),
    ("output-dir-empty-string", lambda c: [c.write_config({"output_dir": ""})], r"output_dir: empty; give a path"),
    ("score-output-dir-is-data-folder", lambda c: [c.write_config({"output_dir": str(c.data / "toy")})],
     r"output_dir: .*toy holds train_file", "score"),
    ("score-output-dir-holds-trained-run",
     lambda c: _output_in(c, {"all_results.json": "{}"}, overwrite_output_dir=True),
     r"output_dir: .* holds a trained run \(all_results.json\); score.py writes its report into a folder of its own",
     "score"),
    ("resume-with-another-method", _resume_other_method,
     r'resume_from_checkpoint: the run in .* started with other settings: problem_type '
     r'\("single_label_classification_dimp"; this run "single_label_classification"\), learning_rate \(0.01; this run '
     r'0.001\); resume it with the settings resolved_config.json there records \(a config file once copied out of '
     r'that folder\), or train afresh, without resume_from_checkpoint$'),
    ("resume-all-checkpoints-damaged", _resume_damaged,
     r"resume_from_checkpoint: every checkpoint in .* is damaged \(model.safetensors is truncated"),
    ("resume-another-models-checkpoint", _resume_other_model,
     r"resume_from_checkpoint: .*checkpoint-2 is not a checkpoint of this run's model: its classifier.bias has shape "
     r"\[3\], this run's model \[2\]"),
    ("resume-from-fine-tuning-checkpoint", lambda c: [c.write_config({"resume_from_checkpoint": str(
        _checkpoints(c, lambda folder: None, 2) / "real_set_finetune" / "checkpoint-4")})],
     r"resume_from_checkpoint: .*real_set_finetune.checkpoint-4 is a checkpoint of the real-set fine-tuning "
     r"\(real_set_finetune_epochs\), and a resume continues the weighted training before it; name one of "),
    ("resume-named-checkpoint-missing",
     lambda c: [c.write_config({"resume_from_checkpoint": str(c.tmp / "checkpoint-7")})],
     r"resume_from_checkpoint: .*checkpoint-7: not a checkpoint folder$"),
    ("resume-named-checkpoint-damaged", lambda c: [c.write_config({"resume_from_checkpoint": str(
        _checkpoints(c, _delete("trainer_state.json"), 3) / "checkpoint-3")})],
     r"resume_from_checkpoint: .*checkpoint-3: trainer_state.json is missing"),
    # Training options transformers would only refuse later, after the checkers are built.
    ("optimizer-not-installed", lambda c: [c.write_config({"optim": "adamw_bnb_8bit"})],
     r"optim: 'adamw_bnb_8bit' cannot be used here: .*bitsandbytes"),
    ("report-to-not-installed", lambda c: [c.write_config({"report_to": "tensorboard"})],
     r"report_to: 'tensorboard' is not an installed logging integration"),
    ("report-to-none-and-wandb", lambda c: [c.write_config({"report_to": ["wandb", "none"]})],
     r"report_to: 'none' turns every integration off, so it stands alone; got wandb, none \(give none, or only the "
     r"integrations to log to\)$"),
    ("unknown-best-model-metric", lambda c: [c.write_config({"metric_for_best_model": "acc"})],
     r"metric_for_best_model: expected one of accuracy, f1, loss, got 'acc'"),
    ("unknown-scheduler-argument", lambda c: [c.write_config({"lr_scheduler_kwargs": {"foo": 1}})],
     r"lr_scheduler_kwargs: linear cannot take \{'foo': 1\}"),
    ("strategies-mismatch-one-line", lambda c: [c.write_config({"load_best_model_at_end": True, "save_strategy": "steps"})],
     r"load_best_model_at_end requires the save and eval strategy to match.* - Evaluation strategy: IntervalStrategy.EPOCH - Save strategy: SaveStrategy.STEPS$"),
    ("strategies-mismatch-from-command-line", lambda c: [c.write_config(), "--load_best_model_at_end", "true",
                                                         "--save_strategy", "steps"],
     r"^error: command line: --load_best_model_at_end requires the save and eval strategy to match"),
    ("fsdp-in-one-process", lambda c: [c.write_config({"fsdp": "full_shard"})], r"fsdp: needs several processes"),
    ("label-names-elsewhere", lambda c: [c.write_config({"label_names": ["target"]})],
     r"label_names: the models here take their labels as 'labels'; got \['target'\]"),
    ("loss-only-evaluation",
     lambda c: [c.write_config({"prediction_loss_only": True, "metric_for_best_model": "loss"})],
     r"prediction_loss_only: not supported; every evaluation here reports accuracy and F1"),
    ("evaluation-batches-not-joined", lambda c: [c.write_config({"eval_do_concat_batches": False})],
     r"eval_do_concat_batches: not supported; accuracy and F1 are computed over the whole split"),
    ("fp16-on-cpu", lambda c: [c.write_config({"fp16": True})],
     r"fp16: float16 mixed precision needs a GPU; on a CPU transformers trains in float32 and still records fp16"),
    ("drop-last-batch", lambda c: [c.write_config({"dataloader_drop_last": True})],
     r"dataloader_drop_last: not supported; transformers drops the last partial batch of every evaluation too"),
    ("liger-kernel-not-installed", lambda c: [c.write_config({"use_liger_kernel": True})],
     r"use_liger_kernel: the liger-kernel package is not installed"),
    # The config's own logic comes before any file.
    ("method-checked-before-files", lambda c: [c.write_config({"problem_type": "single_label_classification_imp",
                                                               "quality_checker_model": str(c.tmp / "absent"),
                                                               "quality_checker_train_file": None},
                                                              drop=("diversity_checker_model",))],
     r"diversity_checker_model: problem_type single_label_classification_imp needs a diversity checker"),
    ("folds-with-artifact-checker", lambda c: _dimp(c, quality_checker_folds=2, quality_checker_model="me/proj/ck:v1"),
     r"quality_checker_folds: cross-fitting builds one checker per fold inside quality_checker_model, which must be a "
     r"local folder"),
    ("two-data-sources", lambda c: [c.write_config({"split_file": "toy/train.jsonl"})],
     r"split_file: brings all the splits, so train_file would be ignored; give one data source"),
    ("split-file-beside-wandb-dataset",
     lambda c: [c.write_config({"use_wandb_dataset": True, "wandb_dataset": "me/proj/data:v1",
                                "split_file": "toy/train.jsonl"})],
     r"split_file: the splits are read from wandb_dataset, so split_file would be ignored; give one data source"),
    ("unrelated-noise-without-file", lambda c: [c.write_config({"noise_unrelated_ratio": 0.1})],
     r"noise_unrelated_ratio: > 0 needs noise_unrelated_file"),
    ("more-folds-than-real-examples", lambda c: _dimp(c, quality_checker_folds=20),
     r"quality_checker_folds: 20 folds need at least two real examples each; the real set has 32"),
]


@pytest.fixture
def ctx(tiny_config, tiny_model_dir, toy_data_root, tmp_path, monkeypatch) -> Ctx:
    data = tmp_path / "data"  # each case's own copy: cases write data files and folders beside the toy data
    shutil.copytree(toy_data_root, data)
    monkeypatch.setenv("DIMP_DATA_ROOT", str(data))
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    return Ctx(tmp_path, data, tiny_model_dir, {**tiny_config, "report_to": "none"})


def _snapshot(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


@pytest.mark.parametrize("build,message,command", [(*c[1:], "run")[:3] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_clearly(ctx, capsys, build, message, command):
    argv = build(ctx)
    out = Path(ctx.config["output_dir"])
    before = _snapshot(out)
    code = main(argv, command)
    err = capsys.readouterr().err
    assert code == 2
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert re.search(message, error_lines[0]), error_lines[0]
    assert "Traceback" not in err
    assert _snapshot(out) == before, "the output folder was changed"


def test_corpus_is_large_enough_and_its_size_in_the_readme():
    assert len(CASES) >= 70
    assert f"a corpus of {len(CASES)} cases" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_real_command_exit_status_and_debug_traceback(ctx):
    config = ctx.write_config({"learning_rate": -1})
    quiet = subprocess.run([sys.executable, str(ROOT / "run.py"), config], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 2
    assert quiet.stderr.strip().splitlines()[-1].startswith("error:") and "Traceback" not in quiet.stderr
    loud = subprocess.run([sys.executable, str(ROOT / "run.py"), config, "--debug"], capture_output=True, text=True, timeout=120)
    assert loud.returncode != 0 and "Traceback" in loud.stderr


def test_diverging_training_stops_before_the_optimizer_takes_a_nan(ctx, capsys):
    """A finite but absurd learning rate: the loss turns NaN after the first steps; the run stops there with one
    error line instead of training on to the end (a NaN loss never reaches backward and the optimizer)."""
    config = ctx.write_config({"learning_rate": 1e38, "max_steps": 4, "eval_strategy": "no"})
    assert main([config]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(r"^error: learning_rate: the training loss became nan at step \d \(epoch .*\); the model "
                     r"diverged\. Lower learning_rate \(1e\+38\)", err, re.M), err
    assert not (Path(ctx.config["output_dir"]) / "all_results.json").exists()
