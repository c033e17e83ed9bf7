"""A corpus of bad inputs. Each must end the run with exit status 2, one `error:` line that names the field, file or
line and what was expected, no traceback, and nothing written to the output folder."""

from __future__ import annotations

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
from transformers import AutoModelForSequenceClassification

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


def _dimp(ctx: Ctx, **changes) -> list[str]:
    return [ctx.write_config({"problem_type": "single_label_classification_dimp", **changes})]


def _nan_head(model):
    with torch.no_grad():
        model.classifier.weight.fill_(float("nan"))


def _swap_names(model):
    model.config.id2label = {0: "positive", 1: "negative"}
    model.config.label2id = {"positive": 0, "negative": 1}


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


def _existing_results(ctx: Ctx) -> list[str]:
    out = Path(ctx.config["output_dir"])
    out.mkdir(parents=True)
    (out / "all_results.json").write_text('{"test_accuracy": 0.9}')
    return [ctx.write_config()]


# (id, what it checks, argv builder, expected message). Messages are regular expressions.
CASES: list[tuple[str, Callable[[Ctx], list[str]], str]] = [
    ("malformed-json", lambda c: [c.write_config(text='{\n "seed": 1,\n}')], r"config.json: invalid JSON at line 3"),
    ("json-not-object", lambda c: [c.write_config(text="[1, 2]")], r"expected a JSON object of key/value pairs"),
    ("config-missing", lambda c: [str(c.tmp / "nope.json")], r"nope.json: config file not found"),
    ("config-not-utf8", lambda c: [(c.tmp / "latin.json").write_bytes(b'{"name": "caf\xe9"}') and str(c.tmp / "latin.json")],
     r"latin.json: not UTF-8"),
    ("unknown-key", lambda c: [c.write_config({"learnig_rate": 1e-4})], r"unknown config key 'learnig_rate'; did you mean 'learning_rate'"),
    ("unknown-cli-key", lambda c: [c.write_config(), "--num_epochs", "3"], r"command line: unknown config key 'num_epochs'"),
    ("cli-not-key-value", lambda c: [c.write_config(), "learning_rate"], r"command line: expected --key value"),
    ("wrong-type", lambda c: [c.write_config({"learning_rate": "fast"})], r"learning_rate: expected a number, got str 'fast'"),
    ("wrong-type-cli", lambda c: [c.write_config(), "--per_device_train_batch_size", "many"],
     r"per_device_train_batch_size: expected an integer"),
    ("negative-lr", lambda c: [c.write_config({"learning_rate": -1e-4})], r"learning_rate: expected > 0, got -0.0001"),
    ("negative-gamma", lambda c: [c.write_config({"focal_gamma": -0.5})], r"focal_gamma: expected >= 0, got -0.5"),
    ("ratio-above-one", lambda c: [c.write_config({"noise_swap_ratio": 1.5})], r"noise_swap_ratio: expected a ratio in \[0, 1\], got 1.5"),
    ("ratio-negative", lambda c: [c.write_config({"noise_duplicate_ratio": -0.1})], r"noise_duplicate_ratio: expected a ratio in \[0, 1\]"),
    ("epsilon-out-of-range", lambda c: [c.write_config({"weight_epsilon": 0})], r"weight_epsilon: expected a value in \(0, 1\)"),
    ("zero-max-length", lambda c: [c.write_config({"max_seq_length": 0})], r"max_seq_length: expected a positive integer"),
    ("unknown-problem-type", lambda c: [c.write_config({"problem_type": "single_label_classification_dimpp"})],
     r"problem_type: unknown value 'single_label_classification_dimpp'"),
    ("bad-match-labels-by", lambda c: [c.write_config({"match_labels_by": "position"})], r"match_labels_by: expected 'name' or 'id'"),
    ("imp-without-diversity-checker", lambda c: [c.write_config({"problem_type": "single_label_classification_imp"},
                                                                drop=("diversity_checker_model",))],
     r"diversity_checker_model: problem_type single_label_classification_imp needs a diversity checker"),
    ("dimp-without-quality-checker", lambda c: [c.write_config({"problem_type": "single_label_classification_dimp"},
                                                               drop=("quality_checker_model",))],
     r"quality_checker_model: problem_type single_label_classification_dimp needs a quality checker"),
    ("no-train-file", lambda c: [c.write_config(drop=("train_file",))], r"train_file: not set"),
    ("missing-data-file", lambda c: [c.write_config({"validation_file": "toy/missing.jsonl"})],
     r"validation_file: file 'toy/missing.jsonl' not found"),
    ("empty-data-file", lambda c: [c.write_config({"train_file": c.data_file("empty.jsonl", "")})], r"empty.jsonl: no records"),
    ("bad-json-line", lambda c: [c.write_config({"train_file": c.data_file("badline.jsonl", '{"text": "a", "label": 0}\n{"text": "b",\n')})],
     r"badline.jsonl: line 2: invalid JSON"),
    ("unsupported-format", lambda c: [c.write_config({"train_file": c.data_file("t.xlsx", "x")})], r"unsupported file type '.xlsx'"),
    ("missing-text-column", lambda c: [c.write_config({"text_column_names": "sentence"})], r"train.jsonl: line 1: missing text column 'sentence'"),
    ("missing-label-column", lambda c: [c.write_config({"train_file": c.data_file("nolabel.jsonl", '{"text": "a", "label": 0}\n{"text": "b"}\n')})],
     r"nolabel.jsonl: line 2: missing label column 'label'"),
    ("label-outside-set", lambda c: [c.write_config({"train_file": c.data_file("badlabel.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": 7}\n')})],
     r"badlabel.jsonl: line 2: label 7 is not in the label set \['negative', 'positive'\]"),
    ("label-name-outside-set", lambda c: [c.write_config({"train_file": c.data_file("badname.jsonl", '{"text": "a", "label": "neutral"}\n')})],
     r"badname.jsonl: line 1: label 'neutral' is not in the label set"),
    ("not-utf8-data", lambda c: [c.write_config({"train_file": c.data_file("latin.jsonl", b'{"text": "ok", "label": 0}\n{"text": "caf\xe9", "label": 1}\n')})],
     r"latin.jsonl: line 2: not valid UTF-8"),
    ("empty-text", lambda c: [c.write_config({"train_file": c.data_file("blank.jsonl", '{"text": "a", "label": 0}\n{"text": " ", "label": 1}\n')})],
     r"blank.jsonl: line 2: column 'text' is empty"),
    ("quality-checker-on-test-split", lambda c: [c.write_config({"quality_checker_train_file": "toy/test.jsonl"})],
     r"quality_checker_train_file: is the test split"),
    ("wandb-dataset-unset", lambda c: [c.write_config({"use_wandb_dataset": True}, drop=("train_file",))],
     r"use_wandb_dataset: true, but wandb_dataset is not set"),
    ("artifact-path-trick", lambda c: _dimp(c, quality_checker_model="me/proj/../../etc:v0"),
     r"quality_checker_model: 'me/proj/../../etc:v0' is not a valid W&B artifact reference"),
    ("artifact-not-downloaded", lambda c: _dimp(c, quality_checker_model="me/proj/absent-checker:v3", quality_checker_train_file=None),
     r"quality_checker_model: W&B artifact me/proj/absent-checker:v3 is not in .*absent-checker:v3"),
    ("checker-label-count", lambda c: _dimp(c, quality_checker_model=c.checker("three", num_labels=3)),
     r"quality_checker_model: the checker has 3 labels .*the task has 2"),
    ("checker-label-names", lambda c: _dimp(c, quality_checker_model=c.checker("swapped", _swap_names)),
     r"quality_checker_model: the checker's labels \['positive', 'negative'\] differ from the task's \['negative', 'positive'\]"),
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
    ("real-validation-fraction", lambda c: [c.write_config({"real_validation_fraction": 1})],
     r"real_validation_fraction: expected a fraction in \[0, 1\), got 1"),
    ("early-stopping-without-validation", lambda c: [c.write_config({"early_stopping_patience": 2, "real_validation_fraction": 0, "load_best_model_at_end": True,
                                                                     "save_strategy": "epoch"}, drop=("validation_file",))],
     r"early_stopping_patience: needs validation data"),
    ("output-dir-holds-a-readme", _readme_in_output_dir, r"output_dir: .* already holds results \(README.md\)"),
    ("config-inside-output-dir", lambda c: [c.write_config({"output_dir": str(c.tmp)})],
     r"output_dir: .* is where the config file .*config.json lies, and saving the model would overwrite it"),
]


@pytest.fixture
def ctx(tiny_config, tiny_model_dir, data_root_env, tmp_path) -> Ctx:
    return Ctx(tmp_path, data_root_env, tiny_model_dir, {**tiny_config, "report_to": "none"})


def _snapshot(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


@pytest.mark.parametrize("build,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_clearly(ctx, capsys, build, message):
    argv = build(ctx)
    out = Path(ctx.config["output_dir"])
    before = _snapshot(out)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert re.search(message, error_lines[0]), error_lines[0]
    assert "Traceback" not in err
    assert _snapshot(out) == before, "the output folder was changed"


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


def test_real_command_exit_status_and_debug_traceback(ctx):
    config = ctx.write_config({"learning_rate": -1})
    quiet = subprocess.run([sys.executable, str(ROOT / "run.py"), config], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 2
    assert quiet.stderr.strip().splitlines()[-1].startswith("error:") and "Traceback" not in quiet.stderr
    loud = subprocess.run([sys.executable, str(ROOT / "run.py"), config, "--debug"], capture_output=True, text=True, timeout=120)
    assert loud.returncode != 0 and "Traceback" in loud.stderr
