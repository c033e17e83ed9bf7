"""predict.py: label new texts with a trained model. One output row per input row, in the input's order: the
input's columns, `predicted_label` (the label's name) and `prob_<label>` for every class. An input that holds labels
is scored against them (GoldLabels)."""

from __future__ import annotations

import csv
import itertools
import json
import logging
import os
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TextIO

import numpy as np
import torch
from datasets import Dataset
from tqdm.auto import tqdm
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from app.output_dir import dangling_link, file_in_the_way
from trainer.progress import library_bars_off
from checkers.scoring import class_logits
from config.arguments import PredictArguments, text_column_list
from config.json_strict import is_unicode
from config.loading import ConfigError
from data.files import (COMPRESSIONS, SHOWN_LABELS, SUFFIXES, DataError, compression_of, format_suffix,
                        iter_text_lines, resolve_data_path, unsupported_type)
from data.task import LABEL, SplitSource, check_texts, default_text_columns, label_reader, split_from_file
from references.models import ModelSource, resolve_model
from references.wandb_refs import ArtifactError
from trainer.atomic import open_atomic, unwritable, write_json_atomic
from trainer.fitting import FINETUNE_DIR
from trainer.metrics import class_metrics, majority_accuracy, predicted_ids, scores
from trainer.modeling import label_names_of, load_trained_classifier

logger = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".csv", ".tsv", ".jsonl")
TEXT_SUFFIX = ".txt"
INPUT_SUFFIXES = SUFFIXES + (TEXT_SUFFIX,)
DEFAULT_MAX_LENGTH = 128
CHUNK_TEXTS = 20_000  # texts labelled at a time, so that memory does not grow with the input


def predict(args: PredictArguments) -> Path:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # each process would label the whole input, one writing it
        raise ConfigError("predict.py runs as one process: start it with python, not torchrun or accelerate launch")
    output, metrics_file, path = _check_files(args)
    source = resolve_model(args.model, "model")
    trained = _training_config(source)
    inputs = _read_inputs(path)
    columns = _text_columns(args, trained, inputs)
    model = _load_model(args, source)
    names = label_names_of(model.config)
    gold = GoldLabels.of(args, trained, inputs, names)
    header, count = _check_texts(inputs, columns, gold)
    if gold is not None and gold.ids is None:
        gold = None  # labels that cannot be scored (warned about)
    max_length = args.max_seq_length or trained.get("max_seq_length") or DEFAULT_MAX_LENGTH
    logger.info("Labelling %d texts from %s (columns %s) with %s", count, path, columns, source.location)
    earlier = _earlier_predictions(header, columns, gold)
    header = list(dict.fromkeys([*(c for c in header if c not in earlier), "predicted_label",
                                 *(f"prob_{name}" for name in names)]))
    # One bar over all texts says how far labelling is; each chunk's own "Tokenizing" bar would cut into it.
    with _written(output) as f, tqdm(total=count, unit="text", disable=args.disable_tqdm) as progress, \
            library_bars_off():
        write = _row_writer(f, format_suffix(output), header)
        for records in _chunks(inputs, CHUNK_TEXTS):
            texts = Dataset.from_dict({c: [record[c] for record in records] for c in columns})
            logits = class_logits(model, source, texts, columns, max_length, args.batch_size, "model", progress)
            probabilities = torch.from_numpy(logits).softmax(-1).numpy()
            chosen = predicted_ids(probabilities)  # the written labels are the ones scored
            if gold is not None:
                gold.predicted.append(chosen)
            for record, p, label in zip(records, probabilities, chosen):
                write({**{c: v for c, v in record.items() if c not in earlier}, "predicted_label": names[label],
                       **{f"prob_{name}": round(float(p[i]), 6) for i, name in enumerate(names)}})
    logger.info("Wrote %d predictions to %s", count, output)
    if gold is not None:
        metrics = gold.report()
        if metrics_file is not None:
            write_json_atomic(metrics_file, metrics)
            logger.info("Wrote the score to %s", metrics_file)
    return output


def _load_model(args: PredictArguments, source: ModelSource):
    try:
        with library_bars_off():  # transformers' "Loading weights" bar would come before predict's own
            return load_trained_classifier(source).to("cuda" if torch.cuda.is_available() else "cpu")
    except OSError as err:  # not a model folder, or a hub id that is not in the local cache
        raise ArtifactError(f"model: could not load {args.model!r} ({str(err).splitlines()[0]})") from None


@dataclass
class GoldLabels:
    """The input's own labels, when it has them: the predictions are scored against them."""

    column: str
    read: Callable[[object], int | None]
    names: list[str]  # the model's labels
    required: str | None  # the option that asks for a score: a record without a model's label is then an error
    ids: array | None = field(default_factory=lambda: array("q"))  # None once a record has none: not scored
    predicted: list[np.ndarray] = field(default_factory=list)  # the model's label ids, a chunk at a time

    @classmethod
    def of(cls, args: PredictArguments, trained: dict, inputs: SplitSource, names: list[str]) -> GoldLabels | None:
        column = args.label_column_name or trained.get("label_column_name") or LABEL
        required = next((f"--{key}" for key in ("label_column_name", "metrics_output") if getattr(args, key)), None)
        if format_suffix(Path(inputs.origin)) == TEXT_SUFFIX:
            if required:
                raise DataError(f"{inputs.origin}: a .txt file holds texts only, no {column!r} column to score "
                                f"against ({required}); give a csv, tsv or jsonl file")
            return None
        return cls(column, label_reader(names, inputs.label_names), names, required)

    def add(self, record: dict, where: str) -> None:
        if self.ids is None:
            return
        raw = record.get(self.column)
        missing = raw is None or (isinstance(raw, str) and not raw.strip())
        label = None if missing else self.read(raw)
        if label is not None:
            self.ids.append(label)
            return
        if not self.ids and self.column not in record and not self.required:
            self.ids = None  # an input without labels: only labelled
            if LABEL in record:  # labels, perhaps, under the usual name rather than the model's
                logger.warning("%s has no %r column (the model's labels), so the predictions are not scored; "
                               "--label_column_name %s scores them against its %r column", where, self.column,
                               LABEL, LABEL)
            return
        problem = (f"{where}: no label in column {self.column!r}" if missing else
                   f"{where}: label {raw!r} in column {self.column!r} is not one of the model's labels")
        alike = [name for name in self.names if isinstance(raw, str) and name.casefold() == raw.strip().casefold()]
        if alike:
            problem += f" ({alike[0]!r} is, spelt with other case)"
        if self.required:
            raise DataError(f"{problem}; expected a label name or id in every record ({self.required})")
        logger.warning("%s, so the predictions are not scored against the input's labels%s", problem,
                       "" if alike else " (if they are in another column, name it with --label_column_name)")
        self.ids = None

    def report(self) -> dict[str, float]:
        """Logs the score and returns it, each metric as `predict_<metric>`."""
        gold, predicted = np.frombuffer(self.ids, dtype=np.int64), np.concatenate(self.predicted)
        metrics = {**{f"predict_{key}": value for key, value in scores(gold, predicted).items()},
                   "predict_majority_accuracy": majority_accuracy(gold), "predict_samples": len(gold),
                   **class_metrics(predicted, gold, self.names, "predict")}
        recall = ", ".join(f"{name} {metrics[key]:.4f}" if (key := f"predict_recall_{name}") in metrics
                           else f"{name} –" for name in self.names[:SHOWN_LABELS])
        if len(self.names) > SHOWN_LABELS:
            recall += f", ... ({len(self.names)} labels, each in --metrics_output)"
        logger.info("Against the input's %r column (%d texts): accuracy %.4f (always the most common label: %.4f), "
                    "macro-F1 %.4f; recall %s", self.column, len(gold), metrics["predict_accuracy"],
                    metrics["predict_majority_accuracy"], metrics["predict_f1"], recall)
        return metrics


def _check_files(args: PredictArguments) -> tuple[Path, Path | None, Path]:
    """Before any model is loaded: an input that exists, outputs that are neither the input nor earlier files."""
    path = Path(args.input).expanduser()
    if path.is_dir():
        raise DataError(f"input: {args.input!r} is a folder; expected a file ({', '.join(INPUT_SUFFIXES)})")
    if not path.is_file():  # then in the data root, as a config's relative paths are (the model card says so)
        path = resolve_data_path(args.input, "input")
        logger.info("input: %s, found in the data root", path)
    if format_suffix(path) not in INPUT_SUFFIXES:
        raise DataError(f"input: {unsupported_type(path, INPUT_SUFFIXES)}")
    output = _new_file("output", args.output, OUTPUT_SUFFIXES, path, args.overwrite_output, compressible=True)
    metrics = args.metrics_output and _new_file("metrics_output", args.metrics_output, (".json",), path,
                                                args.overwrite_output)  # never the output: their suffixes differ
    return output, metrics or None, path


def _new_file(key: str, value: str, suffixes: tuple[str, ...], input_path: Path, overwrite: bool,
              compressible: bool = False) -> Path:
    """The file option `key` names: with one of `suffixes` (compressed or not, when `compressible`), not the input,
    no earlier file unless `overwrite`, and one that can be created."""
    file = Path(value).expanduser()
    if (format_suffix(file) if compressible else file.suffix.lower()) not in suffixes:
        also = f" (or compressed: {', '.join(COMPRESSIONS)})" if compressible else ""
        raise ConfigError(f"{key}: expected a file name ending in {', '.join(suffixes)}{also}, got {value!r}")
    broken = dangling_link(file)
    if broken:
        raise ConfigError(f"{key}: {broken}; create its target, or give another file")
    if file.resolve() == input_path.resolve():
        raise ConfigError(f"{key}: {file} is the input file; choose another name")
    if file.is_dir():
        raise ConfigError(f"{key}: {file} is a folder; give a file name in it")
    if file.exists() and not overwrite:
        raise ConfigError(f"{key}: {file} already exists; choose another name or set --overwrite_output")
    blocking = file_in_the_way(file)
    if blocking is not None:
        raise ConfigError(f"{key}: {blocking} is a file, so {file} cannot be created; give a file in a folder")
    problem = unwritable(file.parent)
    if problem:
        raise ConfigError(f"{key}: {problem}; give a file in a folder this user can write to")
    return file.resolve() if file.is_symlink() else file  # written through the link, which stays


def _training_config(source: ModelSource) -> dict:
    """The training run's resolved_config.json beside the model, when it is one of this project's runs; for one of
    a run's checkpoint folders, the run's, above it (two folders up for a checkpoint of real_set_finetune_epochs'
    second phase)."""
    folder = Path(source.location)
    places = [folder]
    if folder.name.startswith(f"{PREFIX_CHECKPOINT_DIR}-"):
        places += [folder.parent, folder.parent.parent] if folder.parent.name == FINETUNE_DIR else [folder.parent]
    for where in places:
        if (where / "resolved_config.json").is_file():
            return json.loads((where / "resolved_config.json").read_text(encoding="utf-8"))
    return {}


def _read_inputs(path: Path) -> SplitSource:
    if format_suffix(path) == TEXT_SUFFIX:
        return SplitSource("input", lambda: iter_text_lines(path), str(path))
    return split_from_file("input", path)


def _text_columns(args: PredictArguments, trained: dict, inputs: SplitSource) -> list[str]:
    """The columns asked for, else those the model was trained on, else the training's rule on the input; as many
    as the model was trained on, where its run says."""
    read = text_column_list(trained.get("text_column_names"))
    if format_suffix(Path(inputs.origin)) == TEXT_SUFFIX:
        wanted = args.text_columns or read or ["text"]
        if len(wanted) > 1:
            raise DataError(f"{inputs.origin}: a .txt file holds one text per line, but the model reads text pairs "
                            f"({', '.join(wanted)}); give a csv, tsv or jsonl file with these columns")
        columns = ["text"]
    else:
        columns = args.text_columns or read or default_text_columns(
            inputs, args.label_column_name or trained.get("label_column_name", LABEL))
    if read and len(columns) != len(read):  # a pair model would read one text alone, or a one-text model a pair
        raise ConfigError(f"text_column_names: the model was trained on {_texts(read)}, but would read "
                          f"{_texts(columns)} of {inputs.origin}; name {len(read)} column(s)")
    return columns


def _texts(columns: list[str]) -> str:
    return f"text pairs ({', '.join(columns)})" if len(columns) == 2 else f"one text ({', '.join(columns)})"


def _check_texts(inputs: SplitSource, columns: list[str], gold: GoldLabels | None) -> tuple[list[str], int]:
    """One pass over the input before any output is written: every record holds non-empty text in each of
    `columns`, and its label is read when the input is scored. Returns the records' columns (in the order first
    seen) and their number."""
    header, count = {}, 0
    for line, record in inputs.records():
        where = f"{inputs.origin}: {inputs.unit} {line}"
        check_texts(record, columns, where, "name the input's text column(s) with --text_column_names")
        for column, value in record.items():  # JSON may escape one; the output, UTF-8, cannot hold it
            if not is_unicode(column) or _holds_surrogate(value):
                raise DataError(f"{where}: column {column!r} holds an unpaired surrogate, which is not text")
        if gold is not None:
            gold.add(record, where)
        header.update(dict.fromkeys(record))
        count += 1
    return list(header), count


def _earlier_predictions(header: list[str], columns: list[str], gold: GoldLabels | None) -> set[str]:
    """The input's columns of an earlier prediction (predict.py's output labelled again: predicted_label beside
    prob_ columns), left out of the output: written over in part, another model's probabilities would have stood
    beside this one's."""
    if "predicted_label" not in header:  # a prob_ column of the user's own
        return set()
    kept = {*columns, gold.column if gold is not None else None}
    earlier = {c for c in header if (c == "predicted_label" or c.startswith("prob_")) and c not in kept}
    if earlier:
        logger.warning("The input holds an earlier prediction's columns (%s); the output holds this model's "
                       "instead", ", ".join(c for c in header if c in earlier))
    return earlier


def _holds_surrogate(value) -> bool:
    if isinstance(value, str):
        return not is_unicode(value)
    if isinstance(value, dict):
        return any(not is_unicode(key) or _holds_surrogate(item) for key, item in value.items())
    return isinstance(value, list) and any(_holds_surrogate(item) for item in value)


def _chunks(inputs: SplitSource, size: int) -> Iterator[list[dict]]:
    """The input's records, `size` at a time."""
    records = (record for _, record in inputs.records())
    while chunk := list(itertools.islice(records, size)):
        yield chunk


@contextmanager
def _written(output: Path) -> Iterator[TextIO]:
    """The output's text, compressed as its name says (predictions.csv.gz); the file appears once it is whole."""
    compress = compression_of(output)
    if compress is None:
        with open_atomic(output, newline="") as f:
            yield f
        return
    with open_atomic(output, mode="wb") as raw, compress(raw, "wt", encoding="utf-8", newline="") as f:
        yield f


def _row_writer(f: TextIO, suffix: str, header: list[str]) -> Callable[[dict], None]:
    """Writes one output row at a time: a JSON line, or a csv/tsv row under `header`."""
    if suffix == ".jsonl":
        return lambda row: f.write(json.dumps(row, ensure_ascii=False) + "\n")
    writer = csv.DictWriter(f, header, delimiter="\t" if suffix == ".tsv" else ",", lineterminator="\n")
    writer.writeheader()
    return writer.writerow
