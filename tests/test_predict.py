"""predict.py: one row per input with the predicted label's name and a probability per class, from csv, tsv,
jsonl or plain text, single texts or pairs; bad input gets one clear error line, and no output file."""

from __future__ import annotations

import csv
import errno
import gzip
import re
import json
import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoConfig

from app.cli import main
from conftest import encoder_without_head, toy_records, write_jsonl

LABELS = ["negative", "positive"]


def _trained(tiny_model_dir, folder: Path, text_columns: str = "text") -> Path:
    """A folder like a run's output_dir: the tiny model with label names, and its resolved_config.json."""
    shutil.copytree(tiny_model_dir, folder)
    config = AutoConfig.from_pretrained(folder)
    config.id2label, config.label2id = dict(enumerate(LABELS)), {name: i for i, name in enumerate(LABELS)}
    config.save_pretrained(folder)
    (folder / "resolved_config.json").write_text(json.dumps({"text_column_names": text_columns,
                                                             "max_seq_length": 32, "label_column_name": "label"}))
    return folder


def _rows(path: Path) -> list[dict]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ","))


def _write_csv(path: Path, records: list[dict], delimiter: str = ",") -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(records[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(records)
    return path


def _check(rows: list[dict], inputs: list[dict]) -> None:
    assert len(rows) == len(inputs)
    for row, given in zip(rows, inputs):
        assert all(str(row[key]) == str(value) for key, value in given.items())  # the input's columns, in order
        probs = {name: float(row[f"prob_{name}"]) for name in LABELS}
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert all(p == round(p, 6) for p in probs.values())  # six decimals: float32's noise left out
        assert row["predicted_label"] == max(probs, key=probs.get)


@pytest.mark.parametrize("input_suffix, output_suffix", [(".csv", ".jsonl"), (".tsv", ".csv"), (".jsonl", ".tsv"),
                                                        (".csv.gz", ".csv.gz")])
def test_predictions_for_every_format(tiny_model_dir, tmp_path, input_suffix, output_suffix):
    model = _trained(tiny_model_dir, tmp_path / "model")
    inputs = [{"id": i, **{k: v for k, v in r.items() if k != "label"}} for i, r in enumerate(toy_records(70, 4))]
    path = tmp_path / f"new{input_suffix}"
    if input_suffix == ".jsonl":
        write_jsonl(path, inputs)
    else:
        _write_csv(path, inputs, "\t" if input_suffix == ".tsv" else ",")
    if input_suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(path.read_bytes()))
    out = tmp_path / f"predictions{output_suffix}"
    assert main(["--model", str(model), "--input", str(path), "--output", str(out), "--batch_size", "16"],
                command="predict") == 0
    _check(_rows(out), inputs)
    written = gzip.decompress(out.read_bytes()) if output_suffix.endswith(".gz") else out.read_bytes()
    assert written.count(b"\n") == len(inputs) + (output_suffix != ".jsonl") and b"\r" not in written  # Unix lines


def test_an_input_not_in_the_working_directory_is_looked_up_in_the_data_root(tiny_model_dir, data_root_env, tmp_path,
                                                                              monkeypatch):
    """As a config's relative paths are, which the model card says just above its predict.py example."""
    model = _trained(tiny_model_dir, tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    assert main(["--model", str(model), "--input", "toy/test.jsonl", "--output", "predictions.csv"],
                command="predict") == 0
    given = (data_root_env / "toy" / "test.jsonl").read_text().splitlines()
    assert len(_rows(tmp_path / "predictions.csv")) == len(given)


def test_an_earlier_output_labelled_again_has_its_prediction_columns_replaced_not_repeated(tiny_model_dir, tmp_path,
                                                                                           caplog):
    """Another model's output too: its probabilities of labels this model does not have are not left beside."""
    model = _trained(tiny_model_dir, tmp_path / "model")
    inputs = [{"text": r["text"], "predicted_label": "stale", "prob_negative": 2.0, "prob_neutral": 0.5}
              for r in toy_records(6, 4)]
    _write_csv(tmp_path / "earlier.csv", inputs)
    with caplog.at_level(logging.WARNING):
        assert main(["--model", str(model), "--input", str(tmp_path / "earlier.csv"), "--output",
                     str(tmp_path / "again.csv")], command="predict") == 0
    header = (tmp_path / "again.csv").read_text().splitlines()[0]
    assert header == "text,predicted_label,prob_negative,prob_positive"
    assert ("The input holds an earlier prediction's columns (predicted_label, prob_negative, prob_neutral); the "
            "output holds this model's instead") in caplog.text
    own = [{"text": r["text"], "prob_source": 0.3} for r in toy_records(6, 4)]  # no predicted_label: the user's
    _write_csv(tmp_path / "own.csv", own)
    assert main(["--model", str(model), "--input", str(tmp_path / "own.csv"), "--output",
                 str(tmp_path / "own_out.csv")], command="predict") == 0
    assert (tmp_path / "own_out.csv").read_text().splitlines()[0].startswith("text,prob_source,predicted_label,")
    _check(_rows(tmp_path / "again.csv"), [{"text": r["text"]} for r in inputs])


def test_an_output_that_is_a_link_is_written_through_it(tiny_model_dir, tmp_path):
    """A link to a file on another disk stayed in place as a new file of its own, and the file kept the old rows."""
    model = _trained(tiny_model_dir, tmp_path / "model")
    _write_csv(tmp_path / "new.csv", [{"text": r["text"]} for r in toy_records(5, 4)])
    (tmp_path / "disk").mkdir()
    (tmp_path / "disk" / "target.csv").write_text("old\n")
    (tmp_path / "linked.csv").symlink_to(tmp_path / "disk" / "target.csv")
    assert main(["--model", str(model), "--input", str(tmp_path / "new.csv"), "--output", str(tmp_path / "linked.csv"),
                 "--overwrite_output", "true"], command="predict") == 0
    assert (tmp_path / "linked.csv").is_symlink() and len(_rows(tmp_path / "disk" / "target.csv")) == 5


def test_a_jsonl_output_keeps_its_texts_as_written(tiny_model_dir, tmp_path):
    model = _trained(tiny_model_dir, tmp_path / "model")
    write_jsonl(tmp_path / "new.jsonl", [{"text": "café ☕ naïve"}])
    assert main(["--model", str(model), "--input", str(tmp_path / "new.jsonl"), "--output",
                 str(tmp_path / "out.jsonl")], command="predict") == 0
    assert '"text": "café ☕ naïve"' in (tmp_path / "out.jsonl").read_text(encoding="utf-8")


def test_the_runs_label_column_is_never_read_as_text(tiny_model_dir, tmp_path):
    """A model trained with label_column_name gold and no text_column_names: the input's texts are found by the
    training's rule, which passes over the label column."""
    model = _trained(tiny_model_dir, tmp_path / "model")
    (model / "resolved_config.json").write_text(json.dumps({"label_column_name": "gold", "max_seq_length": 32}))
    texts = [r["text"] for r in toy_records(6, 4)]
    for name, rows in (("labelled", [{"sentence": t, "gold": "positive"} for t in texts]),
                       ("plain", [{"sentence": t} for t in texts])):
        _write_csv(tmp_path / f"{name}.csv", rows)
        assert main(["--model", str(model), "--input", str(tmp_path / f"{name}.csv"), "--output",
                     str(tmp_path / f"{name}_out.csv")], command="predict") == 0
    assert [{k: v for k, v in row.items() if k != "gold"} for row in _rows(tmp_path / "labelled_out.csv")] == \
        _rows(tmp_path / "plain_out.csv")


def test_plain_text_and_text_pairs(tiny_model_dir, tmp_path, capsys):
    single = _trained(tiny_model_dir, tmp_path / "single")
    texts = [r["text"] for r in toy_records(10, 5)]
    (tmp_path / "texts.txt.gz").write_bytes(gzip.compress(("\n".join(texts) + "\n\n").encode()))
    assert main(["--model", str(single), "--input", str(tmp_path / "texts.txt.gz"), "--output",
                 str(tmp_path / "single.csv")], command="predict") == 0
    _check(_rows(tmp_path / "single.csv"), [{"text": t} for t in texts])

    pairs = _trained(tiny_model_dir, tmp_path / "pairs", "text,text_pair")
    inputs = [{"first": r["text"], "second": r["text_pair"]} for r in toy_records(10, 6, pairs=True)]
    write_jsonl(tmp_path / "pairs.jsonl", inputs)
    assert main(["--model", str(pairs), "--input", str(tmp_path / "pairs.jsonl"), "--output",
                 str(tmp_path / "pairs_out.jsonl"), "--text_column_names", "first,second"], command="predict") == 0
    _check(_rows(tmp_path / "pairs_out.jsonl"), inputs)
    assert main(["--model", str(pairs), "--input", str(tmp_path / "texts.txt.gz"), "--output",
                 str(tmp_path / "pairs.csv")], command="predict") == 2  # the model's text pairs, as its run recorded
    assert "a .txt file holds one text per line, but the model reads text pairs (text, text_pair)" in \
        capsys.readouterr().err
    # as many text columns as the model was trained on: a pair model read one text alone, and scored it
    for given, where in (("first", "pairs.jsonl"), ("text", "texts.txt.gz")):
        assert main(["--model", str(pairs), "--input", str(tmp_path / where), "--output", str(tmp_path / "x.csv"),
                     "--text_column_names", given], command="predict") == 2
        assert (f"error: text_column_names: the model was trained on text pairs (text, text_pair), but would read one "
                f"text ({'text' if where.endswith('.gz') else given}) of {tmp_path / where}; name 2 column(s)"
                in capsys.readouterr().err)
    assert not (tmp_path / "x.csv").exists()


def test_under_torchrun_it_stops_at_once(tiny_model_dir, tmp_path, monkeypatch, capsys):
    """Each process labelled the whole input, and one wrote it."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    model = _trained(tiny_model_dir, tmp_path / "model")
    write_jsonl(tmp_path / "new.jsonl", [{"text": "good"}])
    assert main(["--model", str(model), "--input", str(tmp_path / "new.jsonl"), "--output", str(tmp_path / "o.csv")],
                command="predict") == 2
    assert capsys.readouterr().err == ("error: predict.py runs as one process: start it with python, not torchrun or "
                                       "accelerate launch\n")
    assert not (tmp_path / "o.csv").exists()


def test_a_checkpoint_of_a_run_reads_its_text_columns_as_the_run_does(tiny_model_dir, tmp_path):
    """A checkpoint-N folder holds no resolved_config.json; the run's, above it (two folders up for one of the
    real-set fine-tuning's checkpoints), says which text is first."""
    run = _trained(tiny_model_dir, tmp_path / "run", "second,first")
    unrecorded = shutil.ignore_patterns("resolved_config.json", "checkpoint-*", "real_set_finetune")
    shutil.copytree(run, run / "checkpoint-8", ignore=unrecorded)
    shutil.copytree(run, run / "real_set_finetune" / "checkpoint-4", ignore=unrecorded)
    write_jsonl(tmp_path / "pairs.jsonl", [{"first": r["text"], "second": r["text_pair"]}
                                           for r in toy_records(10, 6, pairs=True)])
    for model, output in ((run, "run.csv"), (run / "checkpoint-8", "checkpoint.csv"),
                          (run / "real_set_finetune" / "checkpoint-4", "finetune.csv")):
        assert main(["--model", str(model), "--input", str(tmp_path / "pairs.jsonl"), "--output",
                     str(tmp_path / output)], command="predict") == 0
    assert (tmp_path / "checkpoint.csv").read_bytes() == (tmp_path / "run.csv").read_bytes()
    assert (tmp_path / "finetune.csv").read_bytes() == (tmp_path / "run.csv").read_bytes()
    # Any other folder is a model of its own: its texts are the input's first two columns, as training reads them.
    shutil.copytree(run, run / "exported", ignore=unrecorded)
    assert main(["--model", str(run / "exported"), "--input", str(tmp_path / "pairs.jsonl"), "--output",
                 str(tmp_path / "exported.csv")], command="predict") == 0
    assert _rows(tmp_path / "exported.csv") != _rows(tmp_path / "run.csv")


def test_predictions_come_a_chunk_at_a_time_in_the_inputs_order(tiny_model_dir, tmp_path, monkeypatch, capfd):
    """Memory holds one chunk of texts, not the input: the output is the same file as from one chunk, under one
    progress bar."""
    import datasets

    import app.predict

    model = _trained(tiny_model_dir, tmp_path / "model")
    inputs = [{"text": r["text"], **({"note": "late column"} if i == 25 else {})}
              for i, r in enumerate(toy_records(30, 7))]
    write_jsonl(tmp_path / "new.jsonl", inputs)
    argv = ["--model", str(model), "--input", str(tmp_path / "new.jsonl"), "--batch_size", "4"]
    assert main([*argv, "--output", str(tmp_path / "whole.csv")], command="predict") == 0
    seen = []
    labelled = app.predict.class_logits
    monkeypatch.setattr(app.predict, "CHUNK_TEXTS", 7)
    monkeypatch.setattr(app.predict, "class_logits", lambda model, source, texts, *a: seen.append(len(texts))
                        or labelled(model, source, texts, *a))
    capfd.readouterr()
    assert main([*argv, "--output", str(tmp_path / "chunked.csv")], command="predict") == 0
    assert seen == [7, 7, 7, 7, 2]
    bars = capfd.readouterr().err
    assert "30/30" in bars and "Tokenizing" not in bars and "Loading weights" not in bars
    assert not datasets.are_progress_bars_disabled()  # as they were before
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    rows = _rows(tmp_path / "chunked.csv")
    _check(rows, inputs)
    assert list(rows[0]) == ["text", "note", "predicted_label", "prob_negative", "prob_positive"]
    assert main([*argv, "--output", str(tmp_path / "quiet.csv"), "--disable_tqdm", "true"], command="predict") == 0
    assert "30/30" not in capfd.readouterr().err  # no bar, for a log file


@pytest.mark.parametrize("output", ["out.csv", "out.csv.gz"])
def test_a_run_stopped_midway_leaves_no_output(tiny_model_dir, tmp_path, monkeypatch, output):
    import app.predict

    model = _trained(tiny_model_dir, tmp_path / "model")
    write_jsonl(tmp_path / "new.jsonl", [{"text": r["text"]} for r in toy_records(20, 8)])
    chunks = iter([False, True])
    labelled = app.predict.class_logits

    def stopped_at_the_second_chunk(*args):
        if next(chunks):
            raise KeyboardInterrupt
        return labelled(*args)

    monkeypatch.setattr(app.predict, "CHUNK_TEXTS", 10)
    monkeypatch.setattr(app.predict, "class_logits", stopped_at_the_second_chunk)
    assert main(["--model", str(model), "--input", str(tmp_path / "new.jsonl"), "--output", str(tmp_path / output)],
                command="predict") == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "new.jsonl"]  # no half file, no temporary one


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_or_quota_is_one_error_line_saying_what_predict_writes(tiny_model_dir, tmp_path, monkeypatch,
                                                                          capsys, code):
    import app.predict

    @contextmanager
    def no_room(*args, **kwargs):
        raise OSError(code, os.strerror(code))
        yield

    monkeypatch.setattr(app.predict, "open_atomic", no_room)
    model = _trained(tiny_model_dir, tmp_path / "model")
    write_jsonl(tmp_path / "new.jsonl", [{"text": r["text"]} for r in toy_records(4, 8)])
    assert main(["--model", str(model), "--input", str(tmp_path / "new.jsonl"), "--output", str(tmp_path / "out.csv")],
                command="predict") == 2
    err = capsys.readouterr().err
    assert err.endswith(f"error: {os.strerror(code)}: predict.py writes its output (and --metrics_output) through a "
                        "temporary file beside it; free space in that folder, or write to another\n")
    assert "Traceback" not in err and err.count("error:") == 1


def test_a_labelled_input_is_scored_against_its_labels(tiny_model_dir, tmp_path, caplog):
    """The input's label column, read as names or as ids its labels.json names (here in the other order), scores
    the predictions: the logged accuracy is that of the written predicted_label against it."""
    model = _trained(tiny_model_dir, tmp_path / "model")
    records = toy_records(40, 8)
    (tmp_path / "by_id").mkdir()
    (tmp_path / "by_id" / "labels.json").write_text(json.dumps({"0": "positive", "1": "negative"}))
    by_name = _write_csv(tmp_path / "by_name.csv", [{**r, "label": LABELS[r["label"]]} for r in records])
    by_id = write_jsonl(tmp_path / "by_id" / "new.jsonl", [{**r, "label": 1 - r["label"]} for r in records])
    for path in (by_name, by_id):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert main(["--model", str(model), "--input", str(path), "--output", str(path.with_suffix(".out.csv"))],
                        command="predict") == 0
        rows = _rows(path.with_suffix(".out.csv"))
        right = sum(row["predicted_label"] == LABELS[r["label"]] for row, r in zip(rows, records))
        assert 0 < right < len(records)  # the random tiny model: a score that says something
        scored = re.search(r"Against the input's 'label' column \(40 texts\): accuracy ([\d.]+) \(always the most "
                           r"common label: 0.5000\), macro-F1 [\d.]+; recall negative [\d.]+, positive [\d.]+$",
                           caplog.text, re.M)
        assert scored and float(scored[1]) == pytest.approx(right / len(records), abs=1e-4), caplog.text
        assert [p.name for p in path.parent.glob("*.out.*")] == [f"{path.stem}.out.csv"]  # no score file unasked


def test_metrics_output_holds_the_score_of_the_written_predictions(tiny_model_dir, tmp_path):
    model = _trained(tiny_model_dir, tmp_path / "model")
    records = toy_records(30, 9)
    path = _write_csv(tmp_path / "new.csv", [{**r, "label": LABELS[r["label"]]} for r in records])
    assert main(["--model", str(model), "--input", str(path), "--output", str(tmp_path / "out.jsonl"),
                 "--metrics_output", str(tmp_path / "scores.json")], command="predict") == 0
    rows, metrics = _rows(tmp_path / "out.jsonl"), json.loads((tmp_path / "scores.json").read_text())
    predicted, gold = [row["predicted_label"] for row in rows], [LABELS[r["label"]] for r in records]
    assert metrics["predict_samples"] == 30
    assert metrics["predict_accuracy"] == pytest.approx(sum(p == g for p, g in zip(predicted, gold)) / 30)
    assert metrics["predict_majority_accuracy"] == max(gold.count(name) for name in LABELS) / 30
    for name in LABELS:
        assert metrics[f"predict_examples_{name}"] == gold.count(name)
        hits = sum(p == g == name for p, g in zip(predicted, gold))
        assert metrics[f"predict_recall_{name}"] == pytest.approx(hits / gold.count(name))
        assert metrics[f"predict_precision_{name}"] == pytest.approx(hits / max(predicted.count(name), 1))
    assert 0 < metrics["predict_f1"] <= 1


def test_a_class_the_input_has_no_example_of_is_counted_and_not_scored(tiny_model_dir, tmp_path, caplog):
    """Its recall and F1 are undefined: written as 0.0 they read as a class the model always misses."""
    model = _trained(tiny_model_dir, tmp_path / "model")
    negatives = [{"text": record["text"], "label": "negative"} for record in toy_records(12, 9)]
    path = _write_csv(tmp_path / "negatives.csv", negatives)
    with caplog.at_level(logging.INFO):
        assert main(["--model", str(model), "--input", str(path), "--output", str(tmp_path / "out.csv"),
                     "--metrics_output", str(tmp_path / "scores.json")], command="predict") == 0
    metrics = json.loads((tmp_path / "scores.json").read_text())
    assert metrics["predict_examples_positive"] == 0 and metrics["predict_examples_negative"] == 12
    answered = [row["predicted_label"] for row in _rows(tmp_path / "out.csv")].count("positive")
    assert "predict_recall_positive" not in metrics
    assert ({"predict_f1_positive", "predict_precision_positive"} <= set(metrics)) == (answered > 0)
    assert re.search(r"; recall negative [\d.]+, positive –$", caplog.text, re.M), caplog.text


def test_a_spreadsheets_spaces_are_read_as_training_reads_them(tiny_model_dir, tmp_path, capsys):
    """A header "text , label" and labels " positive" (a spreadsheet's csv): the model's text column and labels are
    found and scored, as training finds them; a label of spaces only is a missing one."""
    model = _trained(tiny_model_dir, tmp_path / "model")
    path = tmp_path / "new.csv"
    path.write_text("text , label\ngood day, positive\nbad day,negative \n")
    argv = ["--model", str(model), "--input", str(path), "--metrics_output", str(tmp_path / "scores.json")]
    assert main([*argv, "--output", str(tmp_path / "out.csv")], command="predict") == 0
    assert json.loads((tmp_path / "scores.json").read_text())["predict_samples"] == 2
    path.write_text("text,label\ngood day,positive\nbad day,  \n")
    assert main([*argv, "--output", str(tmp_path / "again.csv"), "--overwrite_output", "true"], command="predict") == 2
    assert "new.csv: line 3: no label in column 'label'; expected a label" in capsys.readouterr().err


def test_labels_the_model_does_not_know_leave_the_predictions_unscored(tiny_model_dir, tmp_path, caplog):
    model = _trained(tiny_model_dir, tmp_path / "model")
    path = _write_csv(tmp_path / "new.csv", [{"text": "good day", "label": "positive"},
                                             {"text": "bad day", "label": "meh"}])
    with caplog.at_level(logging.INFO):
        assert main(["--model", str(model), "--input", str(path), "--output", str(tmp_path / "out.csv")],
                    command="predict") == 0
    assert len(_rows(tmp_path / "out.csv")) == 2
    assert "new.csv: line 3: label 'meh' in column 'label' is not one of the model's labels, so the predictions " \
        "are not scored against the input's labels (if they are in another column, name it with " \
        "--label_column_name)" in caplog.text
    assert "Against the input's" not in caplog.text
    caplog.clear()
    path = _write_csv(tmp_path / "cased.csv", [{"text": "bad day", "label": "Negative"}])
    with caplog.at_level(logging.INFO):  # the right column, the label spelt with other case: said so, not the column
        assert main(["--model", str(model), "--input", str(path), "--output", str(tmp_path / "cased_out.csv")],
                    command="predict") == 0
    assert "cased.csv: line 2: label 'Negative' in column 'label' is not one of the model's labels ('negative' is, " \
        "spelt with other case), so the predictions are not scored against the input's labels\n" in caplog.text
    caplog.clear()
    write_jsonl(tmp_path / "new.jsonl", [{"text": "good day", "label": "positive"}, {"text": "bad day"}])
    with caplog.at_level(logging.INFO):  # a record without the column, after labelled ones
        assert main(["--model", str(model), "--input", str(tmp_path / "new.jsonl"), "--output",
                     str(tmp_path / "out.jsonl")], command="predict") == 0
    assert "new.jsonl: line 2: no label in column 'label', so the predictions are not scored" in caplog.text
    assert "Against the input's" not in caplog.text


def test_the_score_of_many_labels_names_the_first_ten_and_points_to_the_file_for_the_rest(caplog):
    from app.predict import GoldLabels

    names = [f"l{i}" for i in range(12)]
    gold = GoldLabels("label", int, names, None)
    gold.ids.extend(range(12))
    gold.predicted.append(np.arange(12))
    with caplog.at_level(logging.INFO):
        metrics = gold.report()
    assert metrics["predict_recall_l11"] == 1.0 and metrics["predict_samples"] == 12
    shown = ", ".join(f"l{i} 1.0000" for i in range(10))
    assert f"recall {shown}, ... (12 labels, each in --metrics_output)" in caplog.text


def test_labels_under_another_name_than_the_models_are_pointed_out(tiny_model_dir, tmp_path, caplog):
    model = _trained(tiny_model_dir, tmp_path / "model")
    config = json.loads((model / "resolved_config.json").read_text())
    (model / "resolved_config.json").write_text(json.dumps({**config, "label_column_name": "gold"}))
    path = _write_csv(tmp_path / "new.csv", [{"text": "good day", "label": "positive"}])
    with caplog.at_level(logging.INFO):
        assert main(["--model", str(model), "--input", str(path), "--output", str(tmp_path / "out.csv")],
                    command="predict") == 0
    assert "new.csv: line 2 has no 'gold' column (the model's labels), so the predictions are not scored; " \
        "--label_column_name label scores them against its 'label' column" in caplog.text
    assert "Against the input's" not in caplog.text


BAD = [
    ("missing-column", lambda t: t.csv("sentence\ngood day\n"), [],
     r"new.csv: line 2: missing text column 'text' \(record has \['sentence'\]\); name the input's text column"),
    ("column-in-other-case", lambda t: t.csv("Text\ngood day\n"), [],
     r"new.csv: line 2: missing text column 'text' \(record has \['Text'\]; 'Text' differs from 'text' only in case "
     r"or spaces\); name the input's text column"),
    ("surrogate-beside-the-text", lambda t: t.json('[{"text": "good", "id": "\\ud800"}]'), [],
     r"new.json: line 1: column 'id' holds an unpaired surrogate, which is not text"),
    ("surrogate-in-the-text", lambda t: t.json('[{"text": "good \\ud800"}]'), [],
     r"new.json: line 1: column 'text' holds an unpaired surrogate, which is not text"),
    ("surrogate-in-a-nested-key", lambda t: t.json('[{"text": "good", "meta": {"\\ud800": 1}}]'), [],
     r"new.json: line 1: column 'meta' holds an unpaired surrogate, which is not text"),
    ("surrogate-in-a-list", lambda t: t.json('[{"text": "good", "tags": ["a", ["\\ud800"]]}]'), [],
     r"new.json: line 1: column 'tags' holds an unpaired surrogate, which is not text"),
    ("surrogate-in-a-column-name", lambda t: t.json('[{"text": "good", "\\ud800": 1}]'), [],
     r"new.json: line 1: column '\\ud800' holds an unpaired surrogate, which is not text"),
    ("empty-text", lambda t: t.csv("text\ngood day\n \n"), [], r"new.csv: line 3: column 'text' is empty"),
    ("batch-size-0", lambda t: t.csv("text\ngood\n"), ["--batch_size", "0"],
     r"batch_size: expected a positive integer, got 0$"),
    ("max-seq-length-0", lambda t: t.csv("text\ngood\n"), ["--max_seq_length", "0"],
     r"max_seq_length: expected a positive integer, got 0$"),
    ("rows-run-together", lambda t: t.csv('text\n"good day\nbad day\nfine day\n'), [],  # one output row, not three
     r'new.csv: lines 2-4 were read as one record: a field that starts with a quote mark \(\"\)'),
    ("number-for-text", lambda t: t.json('[{"text": "good"}, {"text": 5}]'), [],
     r"new.json: line 2: column 'text' holds int 5; expected text"),
    ("null-text", lambda t: t.json('[{"text": null}]'), [], r"new.json: line 1: column 'text' holds NoneType None"),
    ("blank-line-in-plain-text", lambda t: t.txt("good day\n\nbad day\n\n"), [],
     r"texts.txt: line 2: column 'text' is empty"),
    ("text-columns-as-a-list", lambda t: t.csv("text\ngood\n"), ["--text_column_names", '["text"]'],
     r"text_column_names: expected column names separated by commas \(a,b\), got '\[\"text\"\]'"),
    ("pair-for-a-one-text-model", lambda t: t.csv("a,b\nx,y\n"), ["--text_column_names", "a,b"],
     r"text_column_names: the model was trained on one text \(text\), but would read text pairs \(a, b\) of "
     r".*new.csv; name 1 column\(s\)$"),
    ("three-text-columns", lambda t: t.csv("a,b,c\n1,2,3\n"), ["--text_column_names", "a,b,c"],
     r"text_column_names: expected one text column or two different ones \(a text and its pair\), got 'a,b,c'"),
    ("pairs-from-plain-text", lambda t: t.txt("good day\n"), ["--text_column_names", "a,b"],
     r"texts.txt: a .txt file holds one text per line, but the model reads text pairs \(a, b\)"),
    ("output-exists", lambda t: t.csv("text\ngood\n", existing=True), [], r"output: .*out.csv already exists"),
    ("output-is-a-folder", lambda t: t.csv("text\ngood\n", output="made.csv/"), ["--overwrite_output", "true"],
     r"output: .*made.csv is a folder; give a file name in it"),
    ("output-under-a-file", lambda t: t.csv("text\ngood\n", output="new.csv/out.csv"), [],
     r"output: .*new.csv is a file, so .*out.csv cannot be created"),
    ("output-through-a-broken-link", lambda t: (t.tmp.joinpath("gone").symlink_to(t.tmp / "nowhere"),
                                                t.csv("text\ngood\n", output="gone/out.csv"))[1], [],
     r"output: .*gone is a symbolic link to .*nowhere, which does not exist; create its target, or give another"),
    ("output-is-input", lambda t: t.csv("text\ngood\n", output="new.csv"), [], r"output: .*new.csv is the input file"),
    ("output-is-input-spelled-otherwise", lambda t: t.csv("text\ngood\n", output="data/../new.csv"), [],
     r"output: .*data/../new.csv is the input file"),
    ("output-name-too-long", lambda t: t.csv("text\ngood\n", output="o" * 300 + ".csv"), [],
     r"output: '.*\.\.\.o{35}\.csv': File name too long"),
    ("metrics-output-name-too-long", lambda t: t.csv("text,label\ngood,positive\n", metrics="m" * 300 + ".json"), [],
     r"metrics_output: '.*\.\.\.m{34}\.json': File name too long"),
    ("output-suffix", lambda t: t.csv("text\ngood\n", output="out.xlsx"), [],
     r"output: expected a file name ending in .csv, .tsv, .jsonl"),
    ("output-compressed-without-format", lambda t: t.csv("text\ngood\n", output="out.gz"), [],
     r"output: expected a file name ending in .csv, .tsv, .jsonl \(or compressed: .gz, .bz2, .xz\), got '.*out.gz'"),
    ("metrics-output-compressed", lambda t: t.csv("text,label\ngood,positive\n", metrics="scores.json.gz"), [],
     r"metrics_output: expected a file name ending in .json, got '.*scores.json.gz'"),
    ("input-missing", lambda t: t.absent(), [],
     r"input: file '.*absent.csv' not found"),
    ("input-is-a-folder", lambda t: t.folder(), [], r"input: '.*data' is a folder; expected a file \(.jsonl, "),
    ("input-suffix", lambda t: t.named("new.xlsx", "text\ngood\n"), [],
     r"input: .*new.xlsx: unsupported file type '.xlsx'; expected one of .*, .txt \(the text formats may be"),
    ("input-without-file-type", lambda t: t.named("new", "text\ngood\n"), [],
     r"input: .*new: no file type in its name; expected one of .*, .txt \(the text formats may be"),
    ("model-missing", lambda t: t.csv("text\ngood\n", model="./no-such-model"), [], r"model: model folder ./no-such-model not found"),
    ("model-without-head", lambda t: t.csv("text\ngood\n", model=t.headless()), [],
     r"model: .*headless is not a trained classifier: its weights lack classifier.bias, classifier.weight"),
    ("no-output", lambda t: t.csv("text\ngood\n")[:4], [], r"output: required"),
    ("unknown-option", lambda t: t.csv("text\ngood\n"), ["--modle", "x"],
     r"command line: unknown option 'modle'; did you mean 'model'"),
    ("unknown-label-to-score", lambda t: t.csv("text,gold\ngood,positive\nbad,meh\n"), ["--label_column_name", "gold"],
     r"new.csv: line 3: label 'meh' in column 'gold' is not one of the model's labels; expected a label name or id"),
    ("no-label-to-score", lambda t: t.csv("text,gold\ngood,positive\nbad\n"), ["--label_column_name", "gold"],
     r"new.csv: line 3: no label in column 'gold'; expected a label name or id in every record"),
    ("labels-of-plain-text", lambda t: t.txt("good day\n"), ["--label_column_name", "label"],
     r"texts.txt: a .txt file holds texts only, no 'label' column to score against \(--label_column_name\)"),
    ("metrics-of-plain-text", lambda t: t.txt("good day\n", metrics="scores.json"), [],
     r"texts.txt: a .txt file holds texts only, no 'label' column to score against \(--metrics_output\)"),
    ("metrics-without-labels", lambda t: t.csv("text\ngood\n", metrics="scores.json"), [],
     r"new.csv: line 2: no label in column 'label'; expected a label name or id in every record \(--metrics_output\)"),
    ("metrics-with-an-unknown-label", lambda t: t.csv("text,label\ngood,positive\nbad,meh\n", metrics="scores.json"),
     [], r"new.csv: line 3: label 'meh' in column 'label' is not one of the model's labels; .*\(--metrics_output\)"),
    ("metrics-output-exists", lambda t: t.csv("text,label\ngood,positive\n", metrics="old.json"), [],
     r"metrics_output: .*old.json already exists; choose another name or set --overwrite_output"),
    ("metrics-output-suffix", lambda t: t.csv("text,label\ngood,positive\n", metrics="scores.csv"), [],
     r"metrics_output: expected a file name ending in .json, got '.*scores.csv'"),
    ("metrics-output-is-input", lambda t: t.json('[{"text": "good", "label": "positive"}]', metrics="new.json"), [],
     r"metrics_output: .*new.json is the input file; choose another name"),
]


class Inputs:
    def __init__(self, tmp: Path, model: Path):
        self.tmp, self.model = tmp, model

    def _argv(self, path: Path, existing: bool, output: str, model: str | None, metrics: str | None = None
              ) -> list[str]:
        out = self.tmp / output
        if output.endswith("/"):
            out.mkdir()
        if existing:
            out.write_text("earlier predictions\n")
        argv = ["--model", model or str(self.model), "--input", str(path), "--output", str(out)]
        if metrics == "old.json":
            (self.tmp / metrics).write_text("{}\n")  # an earlier score
        return argv + (["--metrics_output", str(self.tmp / metrics)] if metrics else [])

    def csv(self, text: str, existing: bool = False, output: str = "out.csv", model: str | None = None,
            metrics: str | None = None) -> list[str]:
        path = self.tmp / "new.csv"
        path.write_text(text)
        return self._argv(path, existing, output, model, metrics)

    def json(self, text: str, metrics: str | None = None) -> list[str]:
        path = self.tmp / "new.json"
        path.write_text(text)
        return self._argv(path, False, "out.csv", None, metrics)

    def headless(self) -> str:
        """A base model without a classification head, as a hub encoder is."""
        return str(encoder_without_head(self.model, self.tmp / "headless"))

    def absent(self) -> list[str]:
        return self._argv(self.tmp / "absent.csv", False, "out.csv", None)

    def folder(self) -> list[str]:
        (self.tmp / "data").mkdir()
        return self._argv(self.tmp / "data", False, "out.csv", None)

    def named(self, name: str, text: str) -> list[str]:
        (self.tmp / name).write_text(text)
        return self._argv(self.tmp / name, False, "out.csv", None)

    def txt(self, text: str, metrics: str | None = None) -> list[str]:
        path = self.tmp / "texts.txt"
        path.write_text(text)
        return self._argv(path, False, "out.csv", None, metrics)


@pytest.mark.parametrize("build, extra, message", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_fails_clearly(tiny_model_dir, tmp_path, capsys, build, extra, message):
    inputs = Inputs(tmp_path, _trained(tiny_model_dir, tmp_path / "model"))
    argv = build(inputs) + extra

    def files() -> dict:
        return {p: p.read_bytes() for p in tmp_path.glob("*.*") if p.is_file()}

    before = files()
    assert main(argv, command="predict") == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.search(message, lines[0]), lines[0]
    assert files() == before  # nothing written, nothing replaced


def test_texts_are_cut_where_the_training_cut_them_unless_asked_otherwise(tiny_model_dir, tmp_path):
    model = _trained(tiny_model_dir, tmp_path / "model")  # trained with max_seq_length 32
    write_jsonl(tmp_path / "long.jsonl", [{"text": " ".join(r["text"] for r in toy_records(20, 3))}])  # 100 words
    probabilities = {}
    for name, given in (("default", []), ("32", ["--max_seq_length", "32"]), ("128", ["--max_seq_length", "128"])):
        out = tmp_path / f"{name}.csv"
        assert main(["--model", str(model), "--input", str(tmp_path / "long.jsonl"), "--output", str(out), *given],
                    command="predict") == 0
        probabilities[name] = _rows(out)[0]["prob_positive"]
    assert probabilities["default"] == probabilities["32"] != probabilities["128"]
