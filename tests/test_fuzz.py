"""Fuzzing the command line: a valid tiny DIMP run (its own copy of the toy data, the tiny model and a quality
checker), then random mutations of its config (values of every kind, non-finite numbers, deleted, duplicated and
unknown keys, paths pointing anywhere) and of its inputs (data files truncated, re-encoded or with columns dropped,
labels.json broken, model and checker folders damaged), from a fixed seed.

Every run goes through app.cli.main and must either succeed (exit 0) or exit 2 with one `error:` line, never
raise; and it must change nothing outside its output_dir (every input folder is hashed before and after).
predict.py is fuzzed alike: hostile records in every input format, and its options."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from transformers import AutoModelForSequenceClassification

from app.cli import main
from config.loading import NUMERIC_KEYS

SEED = 16
CASES = 50
SLOW_CASES = int(os.environ.get("FUZZ_CASES", 100))  # FUZZ_CASES=2000 for a deeper search
HOSTILE_VALUES = [math.nan, math.inf, -math.inf, 0, -1, 1, 0.5, 1.5, 3, 1e-12, 1e12, 1e308, 10**20, -10**20, 2**31,
                  2**32, -0.0, True, False, "1", "", "nan", None, [], {}, [1], {"a": 1}, "x" * 300, "\ud800"]
# Valid values of these keys only make a run long; the fuzzer keeps them small.
AT_MOST = {"num_train_epochs": 3, "max_steps": 3, "checker_num_train_epochs": 1, "dataloader_num_workers": 1,
           "diversity_checker_num_train_epochs": 1, "neftune_noise_alpha": 1}
ENUM_KEYS = {
    "problem_type": ["single_label_classification", "single_label_classification_focalloss",
                     "single_label_classification_imp", "single_label_classification_quality_only", "dimp", ""],
    "match_labels_by": ["name", "id", "position"],
    "checker_calibration": ["none", "temperature", "platt"],
    "eval_strategy": ["no", "steps", "epoch", "sometimes"],
    "save_strategy": ["no", "steps", "epoch", "best", "never"],
    "lr_scheduler_type": ["linear", "cosine", "constant", "reduce_lr_on_plateau", "bogus"],
    "optim": ["adamw_torch", "sgd", "adafactor", "adamw_bnb_8bit", "nope"],
    "train_sampling_strategy": ["random", "group_by_length", "sorted"],
    "metric_for_best_model": ["accuracy", "eval_f1", "loss", "acc", None],
    "report_to": ["none", "tensorboard", "mlflow", ["none"], [1]],
    "text_column_names": ["text", "sentence", "text,text", ",", "label"],
    "label_column_name": ["label", "text", "missing", ""],
    "split_ratios": ["0.5,0.25,0.25", "1,0,0", "nan,0,1", "0.7,0.1", "a,b,c"],
    "lr_scheduler_kwargs": [{}, {"foo": 1}, {"num_cycles": math.nan}, "{bad"],
    "resume_from_checkpoint": ["last", "True", "nowhere"],
    "label_names": [["labels"], ["label"], []],
    "fsdp": ["full_shard", ""],
}
BOOL_KEYS = ["pad_to_max_length", "overwrite_output_dir", "drop_label_issues", "real_set_in_training",
             "init_from_quality_checker", "quality_checker_warm_start", "average_checkpoints", "track_test_each_epoch",
             "save_validation_predictions", "use_wandb_dataset", "use_wandb_model", "load_best_model_at_end",
             "fp16", "bf16", "use_cpu", "allow_pickle_checkpoints", "prediction_loss_only", "dataloader_drop_last",
             "batch_eval_metrics", "use_liger_kernel", "remove_unused_columns", "eval_on_start"]
PATH_KEYS = ["model_name_or_path", "train_file", "validation_file", "test_file", "quality_checker_model",
             "diversity_checker_model", "quality_checker_train_file", "output_dir", "split_file",
             "augmented_train_file", "noise_unrelated_file", "checker_base_model", "wandb_dataset"]


@dataclass
class Case:
    root: Path
    pristine: Path
    config: dict
    repeated: list = field(default_factory=list)  # (key, value) written once more after the config's keys
    argv: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # what was mutated, to name a failing case

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"


def _paths(case: Case) -> list:
    i = case.inputs
    return ["", ".", "/", str(i), str(i / "data"), str(i / "data" / "toy"), str(i / "data" / "toy" / "train.jsonl"),
            "toy/train.jsonl", "toy", str(i / "model"), str(i / "checker"), str(i / "config.json"),
            str(i / "checker" / "config.json"), str(case.root / "absent"), "toy/missing.csv", "e/p/n:v1",
            "e/p/../n:v1", "org/name", "~", "toy/labels.json", "x" * 300, "a\x00b", 5, None]


def _value_for(rng: random.Random, case: Case, key: str):
    if key in ENUM_KEYS:
        return rng.choice(ENUM_KEYS[key])
    if key in PATH_KEYS:
        return rng.choice(_paths(case))
    if key in BOOL_KEYS:
        return rng.choice([True, False, 1, 0, 2, "yes", None])
    candidates = HOSTILE_VALUES
    if key in AT_MOST:
        candidates = [v for v in HOSTILE_VALUES if not isinstance(v, (int, float)) or isinstance(v, bool)
                      or not math.isfinite(v) or v <= AT_MOST[key]]
    return rng.choice(candidates)


def mutate_config(rng: random.Random, case: Case) -> None:
    kind = rng.choice(["set", "set", "set", "delete", "duplicate", "unknown", "command-line", "command-line"])
    keys = sorted(NUMERIC_KEYS) + list(ENUM_KEYS) + BOOL_KEYS + PATH_KEYS
    key = rng.choice(keys if kind != "delete" else sorted(case.config))
    if kind == "delete":
        case.config.pop(key)
        case.done.append(f"delete {key}")
    elif kind == "duplicate":
        case.repeated.append((key, _value_for(rng, case, key)))
        case.done.append(f"duplicate {key}")
    elif kind == "unknown":
        case.config[key[::-1]] = 1
        case.done.append(f"unknown key {key[::-1]}")
    elif kind == "command-line":
        value = _value_for(rng, case, key)
        raw = value if isinstance(value, str) else json.dumps(value)
        case.argv += [f"--{key}", raw] if rng.random() < 0.7 else [f"--{key}={raw}"]
        case.done.append(f"--{key} {raw!r}")
    else:
        case.config[key] = _value_for(rng, case, key)
        case.done.append(f"{key} = {case.config[key]!r}")


def _records(case: Case, name: str) -> list[dict]:
    """The records of the pristine file (an earlier mutation may have left the file unreadable)."""
    return [json.loads(line) for line in (case.pristine / "data" / "toy" / name).read_text().splitlines()]


def mutate_data(rng: random.Random, case: Case) -> None:
    toy = case.inputs / "data" / "toy"
    name = rng.choice(["train.jsonl", "validation.jsonl", "test.jsonl", "labels.json"])
    path = toy / name
    raw = (case.pristine / "data" / "toy" / name).read_bytes()
    if path.is_dir():  # made a folder by an earlier mutation
        path.rmdir()
    kind = rng.choice(["truncate", "utf-16", "latin-1", "drop-column", "bad-labels", "bad-text", "garbage", "empty",
                       "duplicate-key", "to-csv", "folder"])
    if name == "labels.json":
        path.write_text(rng.choice(['{"0": "negative"}', '["negative", "positive"]', '{"0": "a", "1": "a"}',
                                    '{"00": "negative", "1": "positive"}', '{"0": null, "1": "positive"}',
                                    '{"0": "negative", "0": "positive"}', '{"1": "negative", "2": "positive"}',
                                    "{", '"negative"', '{"0": "negative", "1": "positive", "2": 3}',
                                    '{"0": "negative", "²": "positive"}']))
        case.done.append(f"{name}: {path.read_text()}")
        return
    if kind == "truncate":
        path.write_bytes(raw[: rng.randrange(len(raw))])
    elif kind in ("utf-16", "latin-1"):
        path.write_bytes(raw.decode().replace("good", "gööd").encode(kind))
    elif kind == "drop-column":
        column = rng.choice(["text", "label"])
        records = _records(case, name)
        chosen = rng.sample(range(len(records)), rng.randint(1, len(records)))
        path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != column or i not in chosen}) + "\n"
                                for i, r in enumerate(records)))
        kind = f"drop {column} from {len(chosen)} records"
    elif kind == "bad-labels":
        records = _records(case, name)
        junk = rng.choice([7, -1, "neutral", None, [1], {"a": 1}, 1.5, math.nan, True, "", "1", "\ud800", "²", "1.0"])
        records[rng.randrange(len(records))]["label"] = junk
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        kind = f"a label = {junk!r}"
    elif kind == "bad-text":
        records = _records(case, name)
        junk = rng.choice(["", " ", "\ud800", "\x00", 5, None, ["a"], "word " * 5000])
        records[rng.randrange(len(records))]["text"] = junk
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        kind = f"a text = {junk!r:.40}"
    elif kind == "garbage":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(200)))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "duplicate-key":
        lines = raw.decode().splitlines()
        i = rng.randrange(len(lines))
        lines[i] = lines[i][:-1] + ', "text": "again"}'
        path.write_text("\n".join(lines) + "\n")
    elif kind == "to-csv":
        records = _records(case, name)
        csv_path = path.with_suffix(".csv")
        csv_path.write_text("text,label\n" + "".join(f'"{r["text"]}",{r["label"]}\n' for r in records)
                            + rng.choice(["", "a,b,c\n", '"unclosed,1\n', ",\n"]))
        key = {"train.jsonl": "train_file", "validation.jsonl": "validation_file", "test.jsonl": "test_file"}[name]
        case.config[key] = f"toy/{csv_path.name}"
    elif kind == "folder":
        path.unlink()
        path.mkdir()
    case.done.append(f"{name}: {kind}")


def mutate_folder(rng: random.Random, case: Case) -> None:
    folder = case.inputs / rng.choice(["model", "checker"])
    name = rng.choice(["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
    path = folder / name
    kind = rng.choice(["truncate", "delete", "garbage", "not-an-object", "empty-folder"])
    if not path.is_file() and kind in ("truncate", "delete"):  # deleted by an earlier mutation
        kind = "garbage"
    if kind == "truncate":
        raw = path.read_bytes()
        path.write_bytes(raw[: rng.randrange(len(raw))])
    elif kind == "delete":
        path.unlink()
    elif kind == "garbage":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(64)))
    elif kind == "not-an-object":
        path.write_text(rng.choice(["[]", "null", "{}", '{"model_type": "nonexistent"}']))
    else:
        shutil.rmtree(folder)
        folder.mkdir()
        name = ""
    case.done.append(f"{folder.name}/{name}: {kind}")


def _tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, tiny_model_dir, toy_data_root) -> Path:
    """Inputs of the valid run: data, model and a quality checker (the tiny model with the toy label names)."""
    root = tmp_path_factory.mktemp("fuzz-inputs")
    shutil.copytree(toy_data_root, root / "data")
    shutil.copytree(tiny_model_dir, root / "model")
    checker = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    checker.config.id2label = {0: "negative", 1: "positive"}
    checker.config.label2id = {"negative": 0, "positive": 1}
    checker.save_pretrained(root / "checker")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / name, root / "checker")
    return root


def _base_config(case_root: Path) -> dict:
    inputs = case_root / "inputs"
    return {
        "model_name_or_path": str(inputs / "model"), "train_file": "toy/train.jsonl",
        "validation_file": "toy/validation.jsonl", "test_file": "toy/test.jsonl",
        "problem_type": "single_label_classification_dimp", "quality_checker_model": str(inputs / "checker"),
        "output_dir": str(case_root / "out"), "max_steps": 2, "per_device_train_batch_size": 16,
        "learning_rate": 1e-3, "max_seq_length": 32, "max_eval_samples": 8, "max_predict_samples": 8,
        "report_to": "none", "disable_tqdm": True, "save_strategy": "no", "eval_strategy": "no",
        "load_best_model_at_end": False,
    }


def _exits_cleanly(name: str, argv: list[str], command: str, capsys) -> int:
    """Runs the command; it must exit 0, or 2 with one `error:` line and no traceback, and never raise."""
    try:
        code = main(argv, command)
    except BaseException as err:  # noqa: BLE001 - any escape is the failure this test looks for
        pytest.fail(f"{name}: raised {type(err).__name__}: {err}")
    err = capsys.readouterr().err
    assert code in (0, 2), f"{name}: exit status {code}\n{err[-2000:]}"
    if code == 2:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in err, f"{name}:\n{err[-2000:]}"
    return code


def fuzz(numbers: range, pristine: Path, tmp_path: Path, capsys, monkeypatch, tiny_model_dir: Path) -> dict:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    model_before = _tree_hash(tiny_model_dir)
    outcomes = {0: 0, 2: 0}
    for number in numbers:
        rng = random.Random(f"{SEED}-{number}")
        root = tmp_path / f"case{number}"
        shutil.copytree(pristine, root / "inputs")
        monkeypatch.chdir(root)
        monkeypatch.setenv("DIMP_DATA_ROOT", str(root / "inputs" / "data"))
        case = Case(root, pristine, _base_config(root))
        for _ in range(rng.choice([1, 1, 2]) if number else 0):  # case 0: the valid run itself
            rng.choice([mutate_config, mutate_config, mutate_config, mutate_data, mutate_folder])(rng, case)
        config = case.inputs / "config.json"
        text = json.dumps(case.config)
        for key, value in case.repeated:  # json.dumps cannot write a key twice
            text = f"{text[:-1]}, {json.dumps(key)}: {json.dumps(value)}, {json.dumps(key)}: 1}}"
        config.write_text(text)
        before = _tree_hash(case.inputs)
        capsys.readouterr()
        command = rng.choice(["run", "run", "run", "score"])
        name = f"case {number}, {command} ({'; '.join(case.done)})"
        code = _exits_cleanly(name, [str(config), *case.argv], command, capsys)
        assert _tree_hash(case.inputs) == before, f"{name}: changed its inputs"
        outcomes[code] += 1
        shutil.rmtree(root)
    assert _tree_hash(tiny_model_dir) == model_before
    return outcomes


def test_fuzzed_inputs_fail_cleanly_or_succeed(pristine, tmp_path, capsys, monkeypatch, tiny_model_dir):
    outcomes = fuzz(range(CASES), pristine, tmp_path, capsys, monkeypatch, tiny_model_dir)
    assert outcomes[0] and outcomes[2], outcomes  # both kinds of outcome are reached


@pytest.mark.slow
def test_fuzzed_inputs_longer(pristine, tmp_path, capsys, monkeypatch, tiny_model_dir):
    fuzz(range(CASES, CASES + SLOW_CASES), pristine, tmp_path, capsys, monkeypatch, tiny_model_dir)


PREDICT_CASES = 250
PREDICT_LABELS = ["negative", "positive"]


def _predict_records(rng: random.Random) -> list[dict]:
    """A few records: mostly a text and a label, some of either hostile, some with another column beside."""
    records = []
    for _ in range(rng.randint(0, 5)):
        record = {"text": rng.choice(HOSTILE_VALUES + ["a\nb", "good \ud800"]) if rng.random() < 0.3 else "good day"}
        if rng.random() < 0.7:
            record["label"] = rng.choice(HOSTILE_VALUES + ["1.0", "²"]) if rng.random() < 0.4 else \
                rng.choice(PREDICT_LABELS + [0, 1])
        if rng.random() < 0.2:
            record[rng.choice(["Text", "id", "gold", "text_pair", "label "])] = rng.choice(HOSTILE_VALUES)
        records.append(record)
    return records


def _write_predict_input(rng: random.Random, path: Path, records: list[dict]) -> None:
    """`records` in `path`'s format, sometimes damaged (a bad last line, lines ending in a bare CR)."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records) + rng.choice(["", "{bad\n", "[]\n"]))
    elif path.suffix == ".json":
        path.write_text(rng.choice([json.dumps(records), json.dumps({"data": records}), "{", "[1, 2]"]))
    elif path.suffix == ".txt":
        path.write_bytes("\n".join(str(r.get("text")) for r in records).encode("utf-8", "surrogatepass"))
    else:
        separator = "," if path.suffix == ".csv" else "\t"
        keys = sorted({key for record in records for key in record}) or ["text"]
        rows = [separator.join(keys)] + [separator.join(str(r.get(k, "")).replace("\n", " ") for k in keys)
                                         for r in records]
        path.write_bytes((rng.choice(["\n", "\r\n", "\r"]).join(rows) + "\n").encode("utf-8", "surrogatepass"))


def test_fuzzed_predict_inputs_fail_cleanly_or_succeed(tiny_model_dir, tmp_path, capsys):
    """predict.py on hostile inputs and options: it labels the texts (exit 0) or exits 2 with one `error:` line and
    no output file, never raises, and never changes its input."""
    model = tmp_path / "model"
    AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, id2label=dict(enumerate(PREDICT_LABELS)),
        label2id={name: i for i, name in enumerate(PREDICT_LABELS)}).save_pretrained(model)
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / file, model)
    (model / "resolved_config.json").write_text(json.dumps({"text_column_names": "text", "label_column_name": "label"}))
    outcomes = {0: 0, 2: 0}
    for number in range(PREDICT_CASES):
        rng = random.Random(f"{SEED}-predict-{number}")
        path = tmp_path / f"in{number}.{rng.choice(['jsonl', 'json', 'csv', 'tsv', 'txt'])}"
        _write_predict_input(rng, path, _predict_records(rng))
        output = tmp_path / f"out{number}.{rng.choice(['csv', 'tsv', 'jsonl'])}"
        argv = ["--model", str(model), "--input", str(path), "--output", str(output)]
        for option, values in (("--metrics_output", [str(tmp_path / f"m{number}.json")]),
                               ("--label_column_name", ["label", "gold", "text", "nope"]),
                               ("--text_column_names", ["text", "Text", "text,text_pair", "a,b,c", ""]),
                               ("--max_seq_length", ["1", "0", "100000", "x"]), ("--batch_size", ["1", "0", "nan"])):
            if rng.random() < 0.15:
                argv += [option, rng.choice(values)]
        before = path.read_bytes()
        capsys.readouterr()
        name = f"case {number}: {argv[3:]} on {before[:200]!r}"
        code = _exits_cleanly(name, argv, "predict", capsys)
        assert code == 0 or not output.exists(), f"{name}: left an output"
        assert path.read_bytes() == before, f"{name}: changed its input"
        outcomes[code] += 1
    assert outcomes[0] and outcomes[2], outcomes
