"""Reading data: every file format, label spaces, text columns, and clear errors on bad files."""

from __future__ import annotations

import bz2
import contextlib
import csv
import fcntl
import gzip
import json
import logging
import lzma
import mmap
import os
import shutil
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from conftest import ROOT, file_backed_mb, toy_records, write_jsonl, write_long_texts
from config.loading import load_config
from data.prepare import load_task
from data.files import (DataError, as_configured, iter_records, iter_text_lines, listed, read_label_names,
                        read_records, resolve_data_path)
from data.store import ALIVE_FILE, SCRATCH_PREFIX, content_digest, remove_scratch, scratch_folder
from data.task import (build_task, generated_part, join_real_set, label_reader, real_examples, split_from_file,
                       subsample)

RECORDS = [
    {"text": "good day", "text_pair": "fine", "label": 1},
    {"text": "bad day", "text_pair": "grim", "label": 0},
    {"text": "nice food", "text_pair": "happy", "label": 1},
]


def _write(path, fmt: str, records=RECORDS):
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif fmt == "json":
        path.write_text(json.dumps(records))
    elif fmt == "json-lines":
        path.write_text("\n".join(json.dumps(r) for r in records))
    elif fmt == "json-data":
        path.write_text(json.dumps({"data": records}))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]), delimiter="\t" if fmt == "tsv" else ",")
            writer.writeheader()
            writer.writerows(records)
    return path


@pytest.mark.parametrize("fmt,suffix", [
    ("jsonl", ".jsonl"), ("json", ".json"), ("json-lines", ".json"), ("json-data", ".json"), ("csv", ".csv"), ("tsv", ".tsv"),
    ("parquet", ".parquet"),
])
def test_every_format_gives_the_same_task(tmp_path, fmt, suffix):
    path = _write(tmp_path / f"train{suffix}", fmt)
    task = build_task([split_from_file("train", path)], None)
    train = task.splits["train"]
    assert task.text_columns == ["text", "text_pair"]
    assert train["text"] == ["good day", "bad day", "nice food"]
    assert train["text_pair"] == ["fine", "grim", "happy"]
    assert train["label"] == [1, 0, 1]
    assert task.label_names == ["0", "1"]


@pytest.mark.parametrize("fmt,suffix", [("jsonl", ".jsonl"), ("json", ".json"), ("csv", ".csv"), ("tsv", ".tsv")])
@pytest.mark.parametrize("compression,opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_a_compressed_text_format_reads_as_the_file_itself(tmp_path, fmt, suffix, compression, opener):
    plain = _write(tmp_path / f"train{suffix}", fmt)
    packed = tmp_path / f"train{suffix}{compression}"
    with opener(packed, "wb") as f:
        f.write(plain.read_bytes())
    assert list(iter_records(packed)) == list(iter_records(plain))
    assert read_records(packed)[2]["text"] == "nice food"


def test_a_compressed_file_named_in_capitals_reads_as_the_file_itself(tmp_path):
    plain = _write(tmp_path / "train.jsonl", "jsonl")
    packed = tmp_path / "TRAIN.JSONL.GZ"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert list(iter_records(packed)) == list(iter_records(plain))


def _damaged_in_the_middle(packed: bytes, length: int = 64) -> bytes:
    middle = len(packed) // 2
    return packed[:middle] + bytes(length) + packed[middle + length:]


@pytest.mark.parametrize("compression,damaged,reason", [
    # a first deflate block of a type gzip does not have: zlib's own error, which is not an OSError
    (".gz", lambda data: gzip.compress(b"", mtime=0)[:10] + b"\x07" + bytes(16), "Error -3 while decompressing data"),
    (".bz2", lambda data: _damaged_in_the_middle(bz2.compress(data)), "Invalid data stream"),
    (".xz", lambda data: _damaged_in_the_middle(lzma.compress(data)), "Corrupt input data"),  # lzma's own error
])
def test_damaged_compressed_data_is_named_with_the_line_it_stopped_at(tmp_path, compression, damaged, reason):
    data = b"".join(b'{"text": "example %d", "label": %d}\n' % (i, i % 2) for i in range(20_000))
    path = tmp_path / f"train.jsonl{compression}"
    path.write_bytes(damaged(data))
    with pytest.raises(DataError, match=rf"train.jsonl{compression}: line \d+: cannot decompress \({reason}"):
        read_records(path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_texts_quoted_as_csv_writers_quote_them_are_read_back_whole(tmp_path, suffix, newline):
    texts = ['"Wow", she said', "two\nlines", 'a "quoted"\r\nword', "tab\tand\nbreak", 'ends in a quote"', "plain"]
    path = tmp_path / f"t{suffix}"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t" if suffix == ".tsv" else ",", lineterminator=newline)
        writer.writerows([("text", "label"), *((text, i % 2) for i, text in enumerate(texts))])
    assert [r["text"] for r in read_records(path)] == texts


def test_labels_json_gives_names_and_maps_string_labels(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"0": "negative", "1": "positive"}))
    records = [{"text": "a", "label": "positive"}, {"text": "b", "label": 0}, {"text": "c", "label": "1"}]
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None)
    assert task.label_names == ["negative", "positive"]
    assert task.splits["train"]["label"] == [1, 0, 1]
    assert task.text_columns == ["text"]


def test_an_error_lists_the_first_labels_of_a_large_label_set_and_counts_them(tmp_path):
    """A task of 150 intents (CLINC150-like): a label outside the set named every one of them, 2 KB in one line."""
    (tmp_path / "labels.json").write_text(json.dumps({str(i): f"intent_{i}" for i in range(150)}))
    records = [{"text": "book a flight", "label": "intent_3"}, {"text": "hi", "label": "greeting"}]
    with pytest.raises(DataError) as raised:
        build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None)
    shown = ", ".join(f"'intent_{i}'" for i in range(10))
    assert str(raised.value).endswith(f"t.jsonl: line 2: label 'greeting' is not in the label set [{shown}, ... "
                                      "(150 in all)]")
    wide = {f"c{i:02}": "x" for i in range(30)}  # a spreadsheet's export, without the text column asked for
    first = ", ".join(f"'c{i:02}'" for i in range(10))
    with pytest.raises(DataError, match=re.escape(f"w.jsonl: line 1: missing text column 'text' (record has [{first}, "
                                                  "... (30 in all)]")):
        build_task([split_from_file("train", _write(tmp_path / "w.jsonl", "jsonl", [wide]))], ["text"])
    assert listed(range(10)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"  # ten are shown whole, without a count
    assert listed(range(11)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (11 in all)"


def test_a_column_of_numbers_or_metadata_is_not_taken_for_a_second_text(tmp_path):
    records = [{"text": f"text {i}", "score": 0.5 * i, "tags": ["a"], "meta": {"n": i}, "label": i % 2}
               for i in range(4)]
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None)
    assert task.text_columns == ["text"]
    numbers_only = _write(tmp_path / "n.jsonl", "jsonl", [{"text": 5, "label": 0}])  # no text: its error names it
    with pytest.raises(DataError, match=r"n.jsonl: line 1: column 'text' holds int 5; expected text in the text "
                                        r"columns taken from the first non-label columns of .*n.jsonl"):
        build_task([split_from_file("train", numbers_only)], None)


@pytest.mark.parametrize("second, warned", [(lambda i: "gpt-4o", 1), (lambda i: f"model {i % 3}", 3),
                                            (lambda i: f"a second text {i}", None)],
                         ids=["a-tag", "a-tag-in-a-tenth", "a-text"])
def test_a_second_text_column_with_few_values_is_pointed_out(tmp_path, caplog, second, warned):
    records = [{"text": f"text {i}", "model": second(i), "label": i % 2} for i in range(30)]
    with caplog.at_level(logging.WARNING):
        task = build_task([split_from_file("train", _write(tmp_path / "t.csv", "csv", records))], None)
    assert task.text_columns == ["text", "model"]
    message = ("t.csv: the texts are read as pairs from its first two columns that may hold text, ['text', "
               f"'model'], but 'model' holds {warned} distinct value(s) in 30 records, unlike a text; if each "
               "example is one text, give text_column_names text")
    assert (message in caplog.text) == bool(warned), caplog.text
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        build_task([split_from_file("train", _write(tmp_path / "t.csv", "csv", records))], ["text", "model"])
    assert "distinct" not in caplog.text  # named: the user knows


def test_a_first_text_column_with_few_values_is_pointed_out_too(tmp_path, caplog):
    """A generator's name before the text: the pairs would be (name, text), and the real set's name differs."""
    records = [{"id": i, "source": "gpt-4o" if i % 2 else "llama-3", "text": f"text {i}", "label": i % 2}
               for i in range(30)]
    with caplog.at_level(logging.WARNING):
        task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None)
    assert task.text_columns == ["source", "text"]
    assert ("t.jsonl: the texts are read as pairs from its first two columns that may hold text, ['source', 'text'], "
            "but 'source' holds 2 distinct value(s) in 30 records, unlike a text; if each example is one text, give "
            "text_column_names text") in caplog.text
    assert "'text' holds" not in caplog.text
    both = [{"source": "gpt-4o" if i % 2 else "llama-3", "topic": "sports", "label": i % 2} for i in range(30)]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        build_task([split_from_file("train", _write(tmp_path / "b.jsonl", "jsonl", both))], None)
    assert ("b.jsonl: the texts are read from its first two columns that may hold text, ['source', 'topic'], but each "
            "holds few distinct values (2 and 1 in 30 records), unlike a text; name the text column(s) with "
            "text_column_names") in caplog.text
    assert "give text_column_names" not in caplog.text  # neither is the text: naming one would not help


def test_a_real_set_without_the_generated_files_tag_column_is_told_how_to_read_one_text(tmp_path):
    """The generated file's `model` column was taken for a second text; the real set has none: the error says how
    to read each example as one text, before the warning above could."""
    records = [{"text": f"t{i}", "model": "gpt-4o", "label": i % 2} for i in range(4)]
    generated = _write(tmp_path / "g.csv", "csv", records)
    real = _write(tmp_path / "r.csv", "csv", [{"text": "r", "label": 0}])
    with pytest.raises(DataError, match=r"r.csv: line 2: missing text column 'model' .*first non-label columns of "
                                        r".*g.csv \(text_column_names names others; text_column_names text or model "
                                        r"alone for one text per example\)$"):
        build_task([split_from_file("train", generated), split_from_file("quality_train", real)], None)


def _labelled_folder(folder: Path, names: list[str], labels: list) -> Path:
    folder.mkdir()
    (folder / "labels.json").write_text(json.dumps({str(i): name for i, name in enumerate(names)}))
    return _write(folder / "t.jsonl", "jsonl", [{"text": f"t{i}", "label": label} for i, label in enumerate(labels)])


def test_an_id_written_as_a_float_is_that_id_in_every_file(tmp_path):
    """pandas writes a label column with a gap as floats: "1.0" in one file is 1 in another."""
    floats = _write(tmp_path / "g.csv", "csv", [{"text": f"g{i}", "label": f"{i % 2}.0"} for i in range(4)])
    ints = _write(tmp_path / "r.jsonl", "jsonl", [{"text": f"r{i}", "label": i % 2} for i in range(4)])
    task = build_task([split_from_file("train", floats), split_from_file("quality_train", ints)], None)
    assert task.label_names == ["0", "1"]
    assert task.splits["train"]["label"] == task.splits["quality_train"]["label"] == [0, 1, 0, 1]
    (tmp_path / "named").mkdir()
    (tmp_path / "named" / "labels.json").write_text(json.dumps({"0": "negative", "1": "positive"}))
    named = _write(tmp_path / "named" / "t.csv", "csv", [{"text": "a", "label": "1.0"}, {"text": "b", "label": "0"}])
    assert build_task([split_from_file("train", named)], None).splits["train"]["label"] == [1, 0]
    assert label_reader(["0", "1"], None)("1.0") == 1  # and predict.py reads it so


def test_digits_other_than_ascii_are_names_not_ids(tmp_path):
    """str.isdigit() takes "²", which int() refuses: such a label is a name, such a labels.json id an error; and so
    is a number too long for int() to read."""
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", [
        {"text": "a", "label": "²"}, {"text": "b", "label": "x"}, {"text": "c", "label": "9" * 5000},
        {"text": "d", "label": "\u0663"}]))], None)  # an Arabic-Indic 3, which int() reads as 3: a name too
    assert task.label_names == ["9" * 5000, "x", "²", "\u0663"] and task.splits["train"]["label"] == [2, 1, 0, 3]
    (tmp_path / "odd").mkdir()
    odd = _write(tmp_path / "odd" / "t.jsonl", "jsonl", [{"text": "a", "label": 1}])
    for key in ("²", "9" * 5000):
        (tmp_path / "odd" / "labels.json").write_text(json.dumps({key: "negative", "1": "positive"}))
        with pytest.raises(DataError, match=r"labels.json: label ids must be 0..1, got \['1', '[²9]"):
            build_task([split_from_file("train", odd)], None)


@pytest.mark.parametrize("names, message", [
    ({"2": "negative", "1": "positive"}, r"label ids must be 0..1, got \['1', '2'\]$"),  # no 0
    ({"0": "negative", "1": "  "}, r"label names must be non-empty strings, got \['negative', '  '\]$"),
    ({}, r"expected a JSON object mapping label ids to names"),
])
def test_a_labels_json_that_does_not_name_each_id_is_refused(tmp_path, names, message):
    (tmp_path / "labels.json").write_text(json.dumps(names))
    with pytest.raises(DataError, match=rf"labels.json: {message}"):
        read_label_names(tmp_path / "t.jsonl")


def test_a_labels_json_saved_with_a_byte_order_mark_is_read(tmp_path):
    (tmp_path / "labels.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"0": "negative", "1": "positive"}).encode())
    assert read_label_names(tmp_path / "t.jsonl") == ["negative", "positive"]


def test_with_digit_label_names_a_number_is_an_id_and_a_string_a_name(tmp_path):
    stars = _labelled_folder(tmp_path / "stars", ["1", "2", "3"], [1, "1", "3"])
    assert build_task([split_from_file("train", stars)], None).splits["train"]["label"] == [1, 0, 2]


def test_ids_of_a_file_whose_labels_json_orders_the_labels_otherwise_are_read_by_name(tmp_path):
    generated = _labelled_folder(tmp_path / "gen", ["negative", "neutral", "positive"], [0, 1, 2])
    real = _labelled_folder(tmp_path / "real", ["positive", "neutral", "negative"], [0, 1, 2, "negative", "2"])
    task = build_task([split_from_file("train", generated), split_from_file("quality_train", real)], None)
    assert task.label_names == ["negative", "neutral", "positive"]
    assert task.splits["quality_train"]["label"] == [2, 1, 0, 0, 0]
    assert task.splits["train"]["label"] == [0, 1, 2]
    stray = _labelled_folder(tmp_path / "stray", ["positive", "neutral", "negative"], [0, -1])
    with pytest.raises(DataError, match=r"stray/t.jsonl: line 2: label -1 is not in the label set"):
        build_task([split_from_file("train", generated), split_from_file("quality_train", stray)], None)


def test_other_label_names_are_matched_by_id_unless_a_shared_name_has_another_id(tmp_path, caplog):
    generated = _labelled_folder(tmp_path / "gen", ["neg", "pos"], [0, 1])
    real = _labelled_folder(tmp_path / "real", ["negative", "positive"], [1, 0])
    task = build_task([split_from_file("train", generated), split_from_file("quality_train", real)], None)
    assert task.splits["quality_train"]["label"] == [1, 0]
    assert "matching them by id" in caplog.text
    clash = _labelled_folder(tmp_path / "clash", ["pos", "other"], [0, 1])
    with pytest.raises(DataError, match=r"clash/t.jsonl: its labels.json gives 'pos' the id 0, .*gen/t.jsonl's the id "
                                        r"1; expected the same label names in both, or the same ids"):
        build_task([split_from_file("train", generated), split_from_file("quality_train", clash)], None)


def test_labels_jsons_of_different_sizes_are_refused(tmp_path):
    generated = _labelled_folder(tmp_path / "gen", ["neg", "pos"], [0, 1])
    real = _labelled_folder(tmp_path / "real", ["neg", "pos", "neutral"], [1, 0])
    with pytest.raises(DataError, match=r"real/t.jsonl: its labels.json has 3 labels \['neg', 'pos', 'neutral'\], but "
                                        r"\S+gen/t.jsonl has 2 \['neg', 'pos'\]$"):
        build_task([split_from_file("train", generated), split_from_file("quality_train", real)], None)


def test_a_label_outside_a_labels_json_is_refused_on_its_line_before_the_file_is_read_on(tmp_path):
    folder = _labelled_folder(tmp_path / "gen", ["neg", "pos"], [0, 1])
    with folder.open("a") as f:
        f.write('{"text": "c", "label": "neutral"}\n{"text": "d", "label": \n')
    with pytest.raises(DataError, match=r"t.jsonl: line 3: label 'neutral' is not in the label set \['neg', 'pos'\]$"):
        build_task([split_from_file("train", folder)], None)


def test_numbered_labels_keep_their_numbers_order(tmp_path):
    records = [{"text": f"t{i}", "label": label} for i, label in enumerate([10, 2, 1, 9, 0])]
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None)
    assert task.label_names == ["0", "1", "2", "9", "10"] and task.splits["train"]["label"] == [4, 2, 1, 3, 0]


def test_string_labels_without_labels_json_are_sorted(tmp_path):
    records = [{"sentence": "a", "label": "pos"}, {"sentence": "b", "label": "neg"}]
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None)
    assert task.label_names == ["neg", "pos"] and task.splits["train"]["label"] == [1, 0]


def test_text_columns_from_config_and_noise_tag_kept(tmp_path):
    records = [{"noise": "swap", "a": "x", "b": "y", "label": 0}, {"noise": "original", "a": "z", "b": "w", "label": 1}]
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], ["b"])
    assert task.text_columns == ["b"]
    assert task.splits["train"]["noise"] == ["swap", "original"]
    default = build_task([split_from_file("train", tmp_path / "t.jsonl")], None)
    assert default.text_columns == ["a", "b"]  # the noise tag is never a text column
    untagged = _write(tmp_path / "u.jsonl", "jsonl", [{k: v for k, v in r.items() if k != "noise"} for r in records])
    assert "noise" not in build_task([split_from_file("train", untagged)], None).splits["train"].column_names


def test_the_real_set_joined_to_training_data_is_tagged_real_and_the_training_data_keeps_its_tags(tmp_path):
    train = _write(tmp_path / "t.jsonl", "jsonl", [{"text": "a", "label": 0, "noise": "swap"},
                                                    {"text": "b", "label": 1}])
    real = _write(tmp_path / "r.jsonl", "jsonl", [{"text": "c", "label": 1}])
    task = build_task([split_from_file("train", train), split_from_file("quality_train", real)], None)
    assert task.splits["train"]["noise"] == ["swap", "original"]  # a record without a tag is an original one
    joined = join_real_set(task.splits["train"], task.splits["quality_train"])
    assert joined["noise"] == ["swap", "original", "real"] and joined["label"] == [0, 1, 1]
    assert real_examples(joined).tolist() == [False, False, True] and generated_part(joined)["text"] == ["a", "b"]


@pytest.mark.parametrize("index", ["", "Unnamed: 0"])
def test_the_row_index_pandas_writes_is_not_a_text_column(tmp_path, index):
    # df.to_csv(path) without index=False: a first column with no name, "Unnamed: 0" once read back and saved again
    path = tmp_path / "t.csv"
    path.write_text(f"{index},text,label\n0,good day,pos\n1,bad day,neg\n")
    task = build_task([split_from_file("train", path)], None)
    assert task.text_columns == ["text"] and task.splits["train"]["text"] == ["good day", "bad day"]


def test_the_row_index_pandas_writes_into_parquet_is_not_a_text_column(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"text": ["good day", "bad day", "fine day"], "label": ["pos", "neg", "pos"]})
    frame.iloc[[2, 0, 1]].to_parquet(tmp_path / "t.parquet")  # an index that is no range is written as a column
    task = build_task([split_from_file("train", tmp_path / "t.parquet")], None)
    assert task.text_columns == ["text"] and sorted(task.splits["train"]["text"]) == ["bad day", "fine day", "good day"]


def test_spaces_around_a_label_are_not_part_of_it(tmp_path):
    """A spreadsheet's "positive " or a csv's ", negative" is the label a file without spaces spells."""
    train = tmp_path / "train.csv"
    train.write_text("text,label\ngood day,positive\nbad day, negative\nfine day,positive \n")
    real = _write(tmp_path / "real.jsonl", "jsonl", [{"text": "nice", "label": "negative"}])
    task = build_task([split_from_file("train", train), split_from_file("quality_train", real)], None)
    assert task.label_names == ["negative", "positive"]
    assert task.splits["train"]["label"] == [1, 0, 1] and task.splits["quality_train"]["label"] == [0]


def test_labels_are_shared_across_splits(tmp_path):
    train = _write(tmp_path / "train.jsonl", "jsonl", [{"text": "a", "label": 3}, {"text": "b", "label": 5}])
    test = _write(tmp_path / "test.jsonl", "jsonl", [{"text": "c", "label": 7}])
    task = build_task([split_from_file("train", train), split_from_file("test", test)], None)
    assert task.label_names == ["3", "5", "7"]
    assert task.splits["test"]["label"] == [2]


@pytest.mark.parametrize("content,message", [
    ('{"text": "a", "label": 0}\n{"text": "b", "label": 0\n', r"t.jsonl: line 2: invalid JSON"),
    ('{"text": "a", "label": 0}\n[1, 2]\n', r"line 2: expected a JSON object"),
    ('{"text": "a", "label": 0}\n{"text": "  ", "label": 1}\n', r"line 2: column 'text' is empty"),
    ('{"text": "a", "label": 0}\n{"text": "b"}\n', r"line 2: missing label column 'label' \(record has \['text'\]"),
    ('{"text": "a", "label": 0}\n{"text": "b", "label": ""}\n', r"line 2: column 'label' is empty; expected a label"),
    ('{"text": "a", "label": 0}\n{"text": "b", "label": " \\t"}\n', r"line 2: column 'label' is empty"),
    ('{"text": "a", "label": 0}\n{"body": "b", "label": 1}\n', r"line 2: missing text column 'text'"),
    ('{"text": "a", "label": 0}\n{"text": "b", "label": 9}\n', r"line 2: label 9 is not in the label set \['negative', 'positive'\]"),
    ('', r"no records"),
    ('{"id": 1, "noise": true, "label": 0}\n', r"t.jsonl: no text column \(the records hold only \['id', 'noise', "
                                              r"'label'\]\)"),
])
def test_bad_rows_name_the_file_and_line(tmp_path, content, message):
    (tmp_path / "labels.json").write_text(json.dumps({"0": "negative", "1": "positive"}))
    path = tmp_path / "t.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        build_task([split_from_file("train", path)], None)


@pytest.mark.parametrize("text_columns,whence", [
    (None, r"taken from the first non-label columns of .*train.jsonl"),
    (["sentence1", "sentence2"], r"named by text_column_names"),
])
def test_a_file_without_the_training_datas_text_columns_says_where_they_come_from(tmp_path, text_columns, whence):
    train = _write(tmp_path / "train.jsonl", "jsonl", [{"sentence1": "a", "sentence2": "b", "label": 0},
                                                         {"sentence1": "c", "sentence2": "d", "label": 1}])
    real = _write(tmp_path / "real.jsonl", "jsonl", [{"text": "a", "text_pair": "b", "label": 0}])
    with pytest.raises(DataError, match=r"real.jsonl: line 1: missing text column 'sentence1' \(record has "
                                        r"\['label', 'text', 'text_pair'\]\); every file needs the text columns "
                                        + whence):
        build_task([split_from_file("train", train), split_from_file("quality_train", real)], text_columns)


@pytest.mark.parametrize("name,content,message", [
    ("t.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": [1]}\n', r"line 2: label \[1\] is not a label"),
    ("t.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": NaN}\n', r"line 2: label nan is not a label"),
    ("t.jsonl", '{"text": "a", "label": 0}\n\n{"text": 5, "label": 1}\n', r"line 3: column 'text' holds int 5"),
    ("t.jsonl", '{"text": "a", "label": 0}\n{"text": "a", "label": 0}\n', r"every example has the label '0'"),
    ("t.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": -' + "1" * 5000 + '}\n',
     r"line 2: invalid JSON \(an integer of 5000 digits, more than Python reads, column 24\)"),
    ("t.jsonl", '{"text": "a", "label": 0}\n{"text": "b\\ud800", "label": 1}\n', r"line 2: column 'text' holds an unpaired"),
    ("t.jsonl", '{"text": "a", "label": 0, "noise": "\\ud800"}\n{"text": "b", "label": 1}\n',
     r"line 1: column 'noise' holds an unpaired surrogate, which is not text"),
    ("t.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": 1, "label": 0}\n', r"line 2: key 'label' appears twice"),
    ("t.json", '[{"text": "a", "label": 0},\n {"text": "b", "text": "c", "label": 1}]', r"line 2: key 'text' appears twice"),
    ("t.json", '{"text": "a", "text": "b", "label": 0}\n{"text": "c", "label": 1}\n',  # JSON lines, named .json
     r"t.json: line 1: key 'text' appears twice"),
    ("t.csv", "text,text,label\na,b,0\n", r"t.csv: line 1: column 'text' appears twice in the header"),
    ("t.csv", "text,label, text\na,0,b\n", r"t.csv: line 1: column 'text' appears twice in the header"),
    ("t.csv", "text,label\na,0\nb\x00,1\n", r"t.csv: line 3: a NUL character"),
    ("t.csv", "text,label\ra,0\rb,1\r", r"t.csv: line 1: a line ends in a bare carriage return \(CR\), as in old Mac "
     r"files; re-save the file with LF or CRLF line endings$"),
    ("t.csv", "text;label\na;0\n", r"t.csv: line 2: missing label column 'label' \(record has \['text;label'\]; "
     r"its one column's name holds ';': a .csv file is read comma-separated, a .tsv tab-separated; label_column_name"),
    ("t.tsv", "text,label\na,0\n", r"t.tsv: line 2: missing label column 'label' .*its one column's name holds ','"),
    ("t.csv", "text,label\na,0\ntext , label\nb,1\n", r"t.csv: line 3: repeats the header \(files joined "),
    ("t.tsv", 'text\tlabel\n"Wow" she said\t1\n"no end\t0\nplain\t1\nsaid "hi" then\t0\n',
     r't.tsv: lines 3-5 were read as one record: a field that starts with a quote mark \(\"\) is read as quoted'),
    ("t.csv", 'text,label\n"Wow" she said,1\n"cut short,0\nplain,1\nsaid "hi" then,0\n',
     r't.csv: lines 3-5 were read as one record: a field that starts with a quote mark \(\"\) is read as quoted'),
    ("t.csv", 'text,label\nplain,1\n"cut short,0\n', r't.csv: line 3: a field that starts with a quote mark \(\"\) is '
     r"read as quoted up to the next one, or to the file's end; write such texts quoted"),
    ("t.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "text ": "c", "label": 1}\n',
     r"t.jsonl: line 2: keys 'text' and 'text ' differ only in the spaces around them; keep one$"),
    ("t.csv", '"title, body",label\na,0\n', r"t.csv: the text column 'title, body' has a comma in its name, which "
     r"text_column_names cannot hold; rename the column$"),
    ("t.jsonl", '{" text": "b", "text ": "c", "label": 1}\n',
     r"t.jsonl: line 1: keys ' text' and 'text ' differ only in the spaces around them; keep one$"),
    ("t.jsonl", '{"title": null, "text": "a", "label": 0}\n{"title": "x", "text": "b", "label": 1}\n',  # a text missing
     r"t.jsonl: line 1: column 'title' holds NoneType None; expected text in the text columns taken from"),
    ("t.csv", "text\tlabel\na\t0\n",
     r"t.csv: line 2: missing label column 'label' .*its one column's name holds '\\t'"),
    ("t.csv", "text|label\na|0\n", r"t.csv: line 2: missing label column 'label' .*its one column's name holds '\|'"),
    ("t.jsonl", '{"text": "a", "Label": 0}\n', r"line 1: missing label column 'label' \(record has \['Label', "
     r"'text'\]; 'Label' differs from 'label' only in case or spaces; label_column_name names another\)"),
    ("t.jsonl", '{"Text": "a", "label": 0}\n{"text": "b", "label": 1}\n', r"line 2: missing text column 'Text' "
     r"\(record has \['label', 'text'\]; 'text' differs from 'Text' only in case or spaces\); every file needs"),
    # a ';' in one of several column names is no sign of a header read with the wrong delimiter
    ("t.jsonl", '{"a;b": "x", "text": "y", "lbl": 0}\n', r"t.jsonl: line 1: missing label column 'label' \(record has "
     r"\['a;b', 'lbl', 'text'\]; label_column_name names another\)$"),
    ("t.jsonl", '{"text": "a", "label": "\\ud800"}\n{"text": "b", "label": "ok"}\n',
     r"t.jsonl: a label name holds an unpaired surrogate, which is not text"),
])
def test_hostile_records_are_refused_as_they_stream_by(tmp_path, name, content, message):
    """Issue 16's checks hold on the streaming reader too, without a labels.json."""
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        build_task([split_from_file("train", path)], None)


def test_column_names_are_read_without_the_spaces_around_them_in_every_format(tmp_path):
    """A header written "text, label" (as a person types one) names the columns text and label; so do JSON keys and
    parquet columns with spaces around them (a spreadsheet's "Text " through pandas). resolved_config.json keeps
    the text columns comma-separated and stripped, so predict.py could not have found "Text " again."""
    import pandas as pd

    path = tmp_path / "t.csv"
    path.write_text("text , label\ngood,1\nbad,0\n")
    task = build_task([split_from_file("train", path)], None)
    assert task.text_columns == ["text"] and task.label_names == ["0", "1"]
    path.write_text("text,label,,\r\ngood,1,,\r\nbad,0,,\r\n")  # a spreadsheet's stray empty columns
    assert build_task([split_from_file("train", path)], None).text_columns == ["text"]
    spaced = [{"Text ": "good", " label": 1}, {"Text ": "bad", " label": 0}]
    lines = tmp_path / "t.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in spaced))
    table = tmp_path / "t.parquet"
    pd.DataFrame(spaced).to_parquet(table)
    for path in (lines, table):
        task = build_task([split_from_file("train", path)], None)
        assert task.text_columns == ["Text"] and task.label_names == ["0", "1"], path
        assert read_records(path)[0] == {"Text": "good", "label": 1}


def test_a_csv_row_whose_text_is_the_columns_name_is_a_record_not_the_header_again(tmp_path):
    path = tmp_path / "T.CSV"  # a suffix in capitals names the format as well
    path.write_text("text,label\ntext,1\n")
    assert read_records(path) == [{"text": "text", "label": "1"}]


@pytest.mark.parametrize("text", ["text,label\n", ""])
def test_a_csv_of_a_header_alone_or_nothing_says_so(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=r"t.csv: no records \(the file is empty, or holds only its header\)"):
        read_records(path)


def test_csv_line_numbers_count_the_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\ngood,1\n,0\n")
    message = (r"t.csv: line 3: column 'text' is empty; expected non-empty text in the text columns taken from the "
               r"first non-label columns of .*t.csv \(text_column_names.*\); fill the record in or remove it$")
    with pytest.raises(DataError, match=message):
        build_task([split_from_file("train", path)], None)


def test_labels_json_names_the_labels_by_id_whatever_the_order_of_its_keys(tmp_path):
    (tmp_path / "labels.json").write_text('{"1": "positive", "2": "neutral", "0": "negative"}')
    assert read_label_names(tmp_path / "train.jsonl") == ["negative", "positive", "neutral"]


def test_a_byte_order_mark_is_not_part_of_the_first_column_or_record(tmp_path):
    # Excel's "CSV UTF-8" and some editors start the file with one.
    (tmp_path / "t.csv").write_bytes(b"\xef\xbb\xbftext,label\nhello,1\n")
    (tmp_path / "t.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "hello", "label": 1}\n')
    for name in ("t.csv", "t.jsonl"):
        assert [str(v) for v in read_records(tmp_path / name)[0].values()] == ["hello", "1"]
        assert list(read_records(tmp_path / name)[0]) == ["text", "label"]
    # only the file's first: one starting a later line (files joined with `cat`) is no text, and is named; in a csv
    # it hid the repeated header, whose "label" was read as a class of its own
    (tmp_path / "joined.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "hello", "label": 1}\n' * 2)
    (tmp_path / "joined.csv").write_bytes(b"\xef\xbb\xbftext,label\nhello,1\n" * 2)
    for name, line in (("joined.jsonl", 2), ("joined.csv", 3)):
        with pytest.raises(DataError, match=rf"{name}: line {line}: starts with a byte-order mark, which only begins a "
                                            r"file \(files joined together with `cat`\?\); remove it$"):
            read_records(tmp_path / name)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"text": "ok", "label": 0}\n{"text": "caf\xe9", "label": 1}\n')
    with pytest.raises(DataError, match=r"line 2: not valid UTF-8 \(byte 40\)"):  # counted from the file's start
        read_records(path)


def test_a_json_document_read_whole_names_the_line_of_a_byte_that_is_not_text(tmp_path):
    """A .json document is parsed whole, past the lines read one at a time to tell it from JSON lines."""
    document = b'[\n{"text": "ok", "label": 0},\n{"text": "caf\xe9", "label": 1}\n]\n'
    (tmp_path / "t.json").write_bytes(document)
    with pytest.raises(DataError, match=r"t.json: line 3: not valid UTF-8 \(byte 43\)"):
        read_records(tmp_path / "t.json")
    (tmp_path / "n.json").write_bytes(document.replace(b"\xe9", b"\x00"))
    with pytest.raises(DataError, match=r"n.json: line 3: a NUL character"):
        read_records(tmp_path / "n.json")
    (tmp_path / "labels.json").write_text('{"0": "no", "1": "yes"}', encoding="utf-16")
    with pytest.raises(DataError, match=r"labels.json: UTF-16 text; re-save the file as UTF-8"):
        read_label_names(tmp_path / "t.json")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        read_records(path)


def test_bad_parquet_rows_and_files(tmp_path):
    path = _write(tmp_path / "t.parquet", "parquet", [{"text": "a", "label": 0}, {"text": "", "label": 1}])
    with pytest.raises(DataError, match=r"t.parquet: row 2: column 'text' is empty"):
        build_task([split_from_file("train", path)], None)
    (tmp_path / "u.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"u.parquet: not a readable parquet file"):
        read_records(tmp_path / "u.parquet")
    # damaged inside: pyarrow's error is then a plain OSError, not one of its own
    records = [{"text": f"text {i}" * 20, "label": i % 2} for i in range(5000)]
    packed = _write(tmp_path / "v.parquet", "parquet", records)
    packed.write_bytes(_damaged_in_the_middle(packed.read_bytes(), 200))
    with pytest.raises(DataError, match=r"v.parquet: not a readable parquet file \(Corrupt snappy compressed data"):
        read_records(packed)


def test_relative_paths_resolve_against_the_data_root(tmp_path, monkeypatch):
    (tmp_path / "bench").mkdir()
    target = _write(tmp_path / "bench" / "train.jsonl", "jsonl")
    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    assert resolve_data_path("bench/train.jsonl", "train_file") == target
    with pytest.raises(DataError, match=r"train_file: file 'bench/missing.jsonl' not found"):
        resolve_data_path("bench/missing.jsonl", "train_file")
    monkeypatch.setenv("HOME", str(tmp_path / "bench"))
    assert resolve_data_path("~/train.jsonl", "train_file") == target  # a home folder, as a shell would read it


def test_files_are_shown_by_the_name_that_finds_them_again(tmp_path, monkeypatch):
    root, work = tmp_path / "root", tmp_path / "work"
    for folder in (root / "bench", work / "bench", work / "mine"):
        folder.mkdir(parents=True)
        _write(folder / "train.jsonl", "jsonl")
    monkeypatch.setenv("DIMP_DATA_ROOT", str(root))
    monkeypatch.chdir(work)
    assert as_configured(f"{root}/bench/train.jsonl (held-out part)") == "bench/train.jsonl (held-out part)"
    assert as_configured(f"{work}/mine/train.jsonl") == "mine/train.jsonl"
    assert as_configured(f"{work}/mine/train.jsonl[validation]") == "mine/train.jsonl[validation]"  # split_file's
    # the data root is looked in first, so this file's name relative to the working directory would find another
    assert as_configured(f"{work}/bench/train.jsonl") == f"{work}/bench/train.jsonl"
    assert as_configured(f"{tmp_path}/elsewhere.jsonl") == f"{tmp_path}/elsewhere.jsonl"
    assert as_configured("glue") == "glue"  # a hub dataset
    # a data root set through a symlink (as ../shared often is) still names a file given by its real path
    (tmp_path / "link").symlink_to(root)
    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path / "link"))
    assert as_configured(f"{root}/bench/train.jsonl") == "bench/train.jsonl"
    assert as_configured(f"{tmp_path}/link/bench/train.jsonl") == "bench/train.jsonl"


def test_subsample_is_seeded_and_bounded(tmp_path):
    records = [{"text": f"t{i}", "label": i % 2} for i in range(50)]
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None)
    a = subsample(task.splits["train"], 10, seed=1)
    b = subsample(task.splits["train"], 10, seed=1)
    assert len(a) == 10 and a["text"] == b["text"]
    assert a["text"] == sorted(a["text"], key=lambda text: int(text[1:]))  # in the file's order
    assert subsample(task.splits["train"], 10, seed=2)["text"] != a["text"]
    assert subsample(task.splits["train"], 10)["text"] == [f"t{i}" for i in range(10)]
    assert len(subsample(task.splits["train"], 100, seed=1)) == 50


def test_split_file_is_stratified_deterministic_and_disjoint(tmp_path):
    from data.sources import split_one_file

    records = [{"text": f"t{i}", "label": i % 3 if i < 90 else 0} for i in range(100)]
    path = _write(tmp_path / "all.jsonl", "jsonl", records)
    parts = build_task(split_one_file(path, [0.7, 0.1, 0.2], seed=3), None).splits
    texts = {name: set(s["text"]) for name, s in parts.items()}
    assert sum(len(t) for t in texts.values()) == 100
    assert not (texts["train"] & texts["test"]) and not (texts["train"] & texts["validation"])
    for name, fraction in (("train", 0.7), ("test", 0.2)):
        for label in range(3):
            share = sum(y == label for y in parts[name]["label"]) / len(parts[name])
            overall = sum(r["label"] == label for r in records) / 100
            assert abs(share - overall) < 0.05, (name, label)
        assert len(parts[name]) == pytest.approx(100 * fraction, abs=2)
    again = build_task(split_one_file(path, [0.7, 0.1, 0.2], seed=3), None).splits
    assert {name: list(s["text"]) for name, s in again.items()} == {name: list(s["text"]) for name, s in parts.items()}
    other = build_task(split_one_file(path, [0.7, 0.1, 0.2], seed=4), None).splits
    assert set(other["test"]["text"]) != texts["test"]
    # each label's part is its nearest count: 0.8 of 7 examples is 6 (not 5, the fraction cut off)
    small = _write(tmp_path / "small.jsonl", "jsonl", [{"text": f"s{i}", "label": i % 2} for i in range(14)])
    assert [len(s.rows) for s in split_one_file(small, [0.8, 0.2, 0.0], seed=3)] == [12, 2]


def test_split_file_as_the_real_set_is_held_out_of_its_training_part_and_a_zero_ratio_gives_no_split(tmp_path):
    from config.arguments import CheckerArguments, DataArguments
    from data.sources import collect_sources, quality_held_out_of_train

    path = _write(tmp_path / "all.jsonl", "jsonl", [{"text": f"t{i}", "label": i % 2} for i in range(40)])
    data = DataArguments(split_file=str(path), split_ratios="0.8,0.2,0")
    checkers = CheckerArguments(quality_checker_train_file=str(path))
    assert quality_held_out_of_train(data, checkers)  # the real set leaves the training part, see data.prepare
    assert [s.name for s in collect_sources(data, checkers)] == ["train", "validation"]  # no quality_train, no test


def test_a_real_set_whose_name_starts_the_training_files_is_its_own_and_keeps_its_validation_file(tmp_path):
    """gen.json beside gen.jsonl was taken for the training file (a string prefix), then not held out of it either:
    the run crashed or ran without its real set. A real set that is the training file lost its
    quality_checker_validation_file."""
    from config.arguments import CheckerArguments, DataArguments
    from data.sources import collect_sources

    train = _write(tmp_path / "gen.jsonl", "jsonl", [{"text": f"g{i}", "label": i % 2} for i in range(20)])
    real = _write(tmp_path / "gen.json", "json", [{"text": f"r{i}", "label": i % 2} for i in range(8)])
    held = _write(tmp_path / "held.jsonl", "jsonl", [{"text": f"h{i}", "label": i % 2} for i in range(4)])
    data = DataArguments(train_file=str(train))
    found = {s.name: Path(s.origin).name for s in collect_sources(
        data, CheckerArguments(quality_checker_train_file=str(real), quality_checker_validation_file=str(held)))}
    assert found == {"train": "gen.jsonl", "quality_train": "gen.json", "quality_validation": "held.jsonl"}
    found = {s.name: Path(s.origin).name for s in collect_sources(
        data, CheckerArguments(quality_checker_train_file=str(train), quality_checker_validation_file=str(held)))}
    assert found == {"train": "gen.jsonl", "quality_validation": "held.jsonl"}  # the real set: held out of it


def test_a_w_and_b_datasets_files_are_its_data_files_inside_its_folder(tmp_path, monkeypatch):
    from config.arguments import CheckerArguments, DataArguments
    from data.sources import collect_sources

    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    folder = tmp_path / "artifacts" / "data:v0"
    for name in ("train.jsonl", "dev-notes.md", "validation.jsonl", "../outside.jsonl"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text('{"text": "a", "label": 0}\n')
    data = DataArguments(use_wandb_dataset=True, wandb_dataset="me/proj/data:v0")
    found = {s.name: Path(s.origin).name for s in collect_sources(data, CheckerArguments())}
    assert found == {"train": "train.jsonl", "validation": "validation.jsonl"}  # not the notes
    for named in ("../outside.jsonl", "absent.jsonl", "."):  # outside it, not in it, not a file
        with pytest.raises(DataError, match=rf"^train_file: '{re.escape(named)}' is not a file inside the artifact "
                                            r"folder"):
            collect_sources(DataArguments(use_wandb_dataset=True, wandb_dataset="me/proj/data:v0", train_file=named),
                            CheckerArguments())


def test_a_w_and_b_datasets_splits_are_found_by_the_authors_names_and_a_training_file_is_required(tmp_path,
                                                                                                monkeypatch):
    """As the authors' code finds them: a validation file named dev; of two training files, the first by name."""
    from config.arguments import CheckerArguments, DataArguments
    from data.sources import collect_sources

    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    for artifact, names in (("data:v1", ("train_more.jsonl", "train.jsonl", "dev.jsonl", "test.jsonl")),
                            ("data:v2", ("dev.jsonl", "test.jsonl"))):
        (tmp_path / "artifacts" / artifact).mkdir(parents=True)
        for name in names:
            _write(tmp_path / "artifacts" / artifact / name, "jsonl", [{"text": "a", "label": 0}])
    data = DataArguments(use_wandb_dataset=True, wandb_dataset="me/proj/data:v1")
    found = {s.name: Path(s.origin).name for s in collect_sources(data, CheckerArguments())}
    assert found == {"train": "train.jsonl", "validation": "dev.jsonl", "test": "test.jsonl"}
    with pytest.raises(DataError, match=r"^wandb_dataset: no training file \(name containing 'train'\) in .*data:v2$"):
        collect_sources(DataArguments(use_wandb_dataset=True, wandb_dataset="me/proj/data:v2"), CheckerArguments())
    with pytest.raises(DataError, match=r"^wandb_augmented_dataset: no training file in .*data:v2$"):
        collect_sources(DataArguments(wandb_dataset="me/proj/data:v1", wandb_augmented_dataset="me/proj/data:v2"),
                        CheckerArguments())


def test_a_w_and_b_generalization_datasets_data_files_are_test_splits_no_training_file_may_be(tmp_path, monkeypatch):
    from config.arguments import CheckerArguments, DataArguments
    from data.sources import collect_sources

    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    (tmp_path / "artifacts" / "more-tests:v0").mkdir(parents=True)
    other = _write(tmp_path / "artifacts" / "more-tests:v0" / "other.jsonl", "jsonl")
    (tmp_path / "artifacts" / "more-tests:v0" / "README.md").write_text("not data")
    (tmp_path / "artifacts" / "more-tests:v0" / "labels.json").write_text('{"0": "neg", "1": "pos"}')  # their names
    data = DataArguments(train_file=str(_write(tmp_path / "train.jsonl", "jsonl")),
                         wandb_generalization_dataset="me/proj/more-tests:v0")
    assert [s.name for s in collect_sources(data, CheckerArguments())] == ["train", "test_1"]  # the data file only
    data.augmented_train_file = str(other)
    with pytest.raises(DataError, match=r"^augmented_train_file: \S+other.jsonl is the test_1 split; nothing may"):
        collect_sources(data, CheckerArguments())


def test_the_real_set_may_be_trained_on_where_none_of_it_is_held_out(tmp_path):
    """With real_validation_fraction 0 the real set gives no validation split, so training on it takes nothing from
    evaluation (tests/test_bad_inputs.py refuses it where a part of it is held out)."""
    from config.arguments import CheckerArguments, DataArguments
    from data.sources import collect_sources

    real = _write(tmp_path / "real.jsonl", "jsonl")
    data = DataArguments(train_file=str(_write(tmp_path / "train.jsonl", "jsonl")), augmented_train_file=str(real),
                         real_validation_fraction=0)
    sources = collect_sources(data, CheckerArguments(quality_checker_train_file=str(real)))
    assert [s.name for s in sources] == ["train", "augmented_train", "quality_train"]


@pytest.mark.parametrize("label_column", ["label", "sentiment"])
def test_split_file_is_stratified_by_the_label_column_it_is_given(tmp_path, label_column):
    from config.arguments import CheckerArguments, DataArguments
    from data.sources import collect_sources

    counts = {"a": 50, "b": 15, "c": 40}  # b: 10.5 training and 1.5 validation examples, rounded
    records = [{"text": f"{name}{i}", label_column: f"{name} " if i % 2 else name}
               for name, count in counts.items() for i in range(count)]
    path = _write(tmp_path / "all.jsonl", "jsonl", records)
    data = DataArguments(split_file=str(path), label_column_name=label_column)
    parts = build_task(collect_sources(data, CheckerArguments()), None, label_column).splits
    for name, fraction in (("train", 0.7), ("validation", 0.1), ("test", 0.2)):
        labels = [text[0] for text in parts[name]["text"]]
        assert {label: labels.count(label) for label in counts} == {
            label: round(fraction * count) for label, count in counts.items()}, name


def test_records_are_read_one_at_a_time(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a", "label": 0}\n{"text": "b", "label": 1}\n{"broken\n')
    records = iter_records(path)
    assert next(records) == (1, {"text": "a", "label": 0})  # line 3 is not parsed before it is reached
    assert next(records) == (2, {"text": "b", "label": 1})
    with pytest.raises(DataError, match=r"t.jsonl: line 3: invalid JSON"):
        next(records)


def test_reading_holds_one_batch_not_the_file(tmp_path, monkeypatch):
    """Records go to Arrow a batch at a time as they are read: the Python memory reading needs is a batch and a few
    bytes per record, far below the file's size."""
    import tracemalloc

    from data import store

    monkeypatch.setattr(store, "BATCH_ROWS", 1000)
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        for i in range(40_000):
            f.write(json.dumps({"text": f"sentence number {i} " * 16, "text_pair": f"pair {i}", "label": i % 2}) + "\n")
    tracemalloc.start()
    task = build_task([split_from_file("train", path)], None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(task.splits["train"]) == 40_000 and task.splits["train"][39_999]["text_pair"] == "pair 39999"
    assert peak < path.stat().st_size / 5, (peak, path.stat().st_size)


def test_splits_are_memory_mapped_files_that_close_removes(tmp_path):
    task = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl"))], None, scratch=tmp_path / "s")
    files = [Path(f["filename"]) for f in task.splits["train"].cache_files]
    assert files and all(f.parent == tmp_path / "s" for f in files)
    task.close()
    assert not (tmp_path / "s").exists()


def test_the_real_examples_held_out_of_the_training_file_come_from_it_not_from_the_augmented_data(tmp_path,
                                                                                                monkeypatch):
    """The augmented file was joined first, so its examples were held out as real ones too (P' trained on them,
    weight 1), while the card and the checker's recipe named the training file."""
    from config.loading import load_config
    from data.prepare import load_task

    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    _write(tmp_path / "gen.jsonl", "jsonl", [{"text": f"gen{i}", "label": i % 2} for i in range(40)])
    _write(tmp_path / "aug.jsonl", "jsonl", [{"text": f"aug{i}", "label": i % 2} for i in range(40)])
    cfg = load_config(None, ["--train_file", "gen.jsonl", "--augmented_train_file", "aug.jsonl",
                             "--quality_checker_train_file", "gen.jsonl", "--quality_checker_max_train_samples", "30",
                             "--real_validation_fraction", "0", "--problem_type", "single_label_classification_dimp",
                             "--quality_checker_model", str(tmp_path / "q"), "--real_set_in_training", "false",
                             "--output_dir", str(tmp_path / "out"), "--report_to", "none"])
    task = load_task(cfg)
    try:
        real = task.splits["quality_train"]["text"]
        assert len(real) == 30 and all(text.startswith("gen") for text in real)
        assert len(task.splits["train"]) == 10 + 40
    finally:
        task.close()


def test_load_task_leaves_no_scratch_folder_on_bad_data(tmp_path, monkeypatch):
    from config.loading import load_config
    from data.prepare import load_task

    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": 0}\n{"text": "", "label": 1}\n')
    cfg = load_config(None, ["--train_file", "bad.jsonl", "--data_work_dir", str(tmp_path / "work"),
                             "--problem_type", "single_label_classification", "--output_dir", str(tmp_path / "out"),
                             "--report_to", "none"])
    with pytest.raises(DataError, match=r"bad.jsonl: line 2: column 'text' is empty"):
        load_task(cfg)
    assert list((tmp_path / "work").iterdir()) == []


def test_a_data_work_dir_that_cannot_be_made_is_named(tmp_path, monkeypatch):
    from config.loading import load_config
    from data.prepare import load_task

    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    _write(tmp_path / "t.jsonl", "jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    (tmp_path / "taken").write_text("a file, not a folder")
    cfg = load_config(None, ["--train_file", "t.jsonl", "--data_work_dir", str(tmp_path / "taken" / "work"),
                             "--problem_type", "single_label_classification", "--output_dir", str(tmp_path / "out"),
                             "--report_to", "none"])
    with pytest.raises(DataError, match=r"data_work_dir: cannot make a folder for the run's data in .*taken"):
        load_task(cfg)


@pytest.mark.parametrize("train_labels, real_labels, warned", [
    ("nnnn", "ynyn", ["train.jsonl: no example of label 'yes' among its 4 training examples"]),
    ("nnyn", "nnn", ["real.jsonl: no example of label 'yes' among its 3 real examples"]),
    ("nnyn", "ynyn", [])])
def test_a_label_the_training_data_or_the_real_set_never_shows_is_warned_of(tmp_path, monkeypatch, caplog,
                                                                             train_labels, real_labels, warned):
    from config.loading import load_config
    from data.prepare import load_task

    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    names = {"n": "no", "y": "yes"}
    for name, labels in (("train", train_labels), ("real", real_labels)):
        _write(tmp_path / f"{name}.jsonl", "jsonl", [{"text": f"{name}{i}", "label": names[y]}
                                                     for i, y in enumerate(labels)])
    _write(tmp_path / "validation.jsonl", "jsonl", [{"text": "a", "label": "yes"}, {"text": "b", "label": "no"}])
    cfg = load_config(None, ["--train_file", "train.jsonl", "--validation_file", "validation.jsonl",
                             "--quality_checker_train_file", "real.jsonl", "--output_dir", str(tmp_path / "out"),
                             "--report_to", "none"])
    with caplog.at_level("WARNING", logger="data.prepare"):
        load_task(cfg).close()
    assert [r.getMessage().split(";")[0].split("/")[-1] for r in caplog.records] == warned


def test_a_text_under_two_labels_in_the_training_data_is_warned_of(tmp_path, monkeypatch, caplog):
    """An LLM asked for each label in turn may write one text for both."""
    from config.loading import load_config
    from data.prepare import load_task

    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    records = [{"text": f"text {i}", "label": "no" if i % 2 else "yes"} for i in range(20)]
    records += [{"text": "What  a GREAT day", "label": "yes"}, {"text": "what a great day", "label": "no"},
                {"text": "text 3", "label": "no"}]  # a copy under its own label is no conflict
    _write(tmp_path / "train.jsonl", "jsonl", records)
    cfg = load_config(None, ["--train_file", "train.jsonl", "--problem_type", "single_label_classification",
                             "--output_dir", str(tmp_path / "out"), "--report_to", "none"])
    with caplog.at_level("WARNING", logger="data.prepare"):
        load_task(cfg).close()
    assert ("The training data holds 1 text(s) under more than one label (case and spacing aside), such as 'what a "
            "great day' under 'no' and 'yes'; check how they were made") in caplog.text
    _write(tmp_path / "train.jsonl", "jsonl", records[:20])
    caplog.clear()
    with caplog.at_level("WARNING", logger="data.prepare"):
        load_task(cfg).close()
    assert "more than one label" not in caplog.text
    # noise the run injects (a duplicate, then swapped) is two labels by design: not the data's
    noisy = load_config(None, ["--train_file", "train.jsonl", "--problem_type", "single_label_classification",
                               "--output_dir", str(tmp_path / "out"), "--report_to", "none",
                               "--noise_duplicate_ratio", "0.5", "--noise_swap_ratio", "0.5"])
    with caplog.at_level("WARNING", logger="data.prepare"):
        task = load_task(noisy)
        assert {"duplicate", "swap"} <= set(task.splits["train"]["noise"])
        task.close()
    assert "more than one label" not in caplog.text


def test_a_label_a_sample_of_the_real_set_misses_is_told_as_the_sample_s(tmp_path, monkeypatch, caplog):
    """Spelling is then not the likely cause; the option that drew the sample is."""
    from config.loading import load_config
    from data.prepare import load_task

    monkeypatch.setenv("DIMP_DATA_ROOT", str(tmp_path))
    _write(tmp_path / "train.jsonl", "jsonl", [{"text": f"t{i}", "label": "no" if i % 4 else "yes"} for i in range(40)])
    _write(tmp_path / "real.jsonl", "jsonl", [{"text": f"r{i}", "label": "yes" if i == 7 else "no"} for i in range(30)])
    cfg = load_config(None, ["--train_file", "train.jsonl", "--quality_checker_train_file", "real.jsonl",
                             "--quality_checker_max_train_samples", "3", "--max_train_samples", "20",
                             "--real_validation_fraction", "0", "--output_dir", str(tmp_path / "out"),
                             "--report_to", "none"])
    with caplog.at_level("INFO", logger="data.prepare"):
        load_task(cfg).close()
    assert "real.jsonl: no example of label 'yes' among its 3 real examples; a sample " \
           "(quality_checker_max_train_samples), which a larger one may change" in caplog.text
    assert "Training data: a seeded sample of 20 of its 40 examples (max_train_samples)" in caplog.text
    # each file holds both labels, but one of them once: samples of 3 draw no label in common
    _write(tmp_path / "train.jsonl", "jsonl",
           [{"text": f"t{i}", "label": "no" if i == 5 else "yes"} for i in range(40)])
    apart = load_config(None, ["--train_file", "train.jsonl", "--quality_checker_train_file", "real.jsonl",
                               "--quality_checker_max_train_samples", "3", "--max_train_samples", "3",
                               "--real_validation_fraction", "0", "--output_dir", str(tmp_path / "out"),
                               "--report_to", "none"])
    with pytest.raises(DataError, match=r"none of its labels \['no'\] is one of the training data's \['yes'\]; these "
                                        r"are samples \(max_train_samples, quality_checker_max_train_samples\): larger "
                                        r"ones may share labels$"):
        load_task(apart)


def test_a_hub_split_whose_labels_are_hidden_is_not_evaluated(tmp_path, caplog):
    """GLUE's test splits mark every label -1; a dataset folder laid out as on the hub stands in for the hub."""
    from datasets import ClassLabel, Dataset, Features, Value

    from config.loading import load_config
    from data.prepare import load_task

    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["no", "yes"]), "idx": Value("int32")})
    for split, labels in (("train", [0, 1, 0, 1]), ("validation", [1, 0]), ("test", [-1, -1, -1])):
        rows = {"sentence": [f"{split} {i}" for i in range(len(labels))], "label": labels,
                "idx": list(range(len(labels)))}
        path = tmp_path / "hub" / "data" / f"{split}-00000-of-00001.parquet"
        Dataset.from_dict(rows, features=features).to_parquet(path)
    cfg = load_config(None, ["--dataset_name", str(tmp_path / "hub"), "--problem_type", "single_label_classification",
                             "--output_dir", str(tmp_path / "out"), "--report_to", "none"])
    with caplog.at_level("WARNING", logger="data.sources"):
        task = load_task(cfg)
    assert sorted(task.splits) == ["train", "validation"] and task.label_names == ["no", "yes"]
    assert task.text_columns == ["sentence"]
    assert "[test] holds no labels (every one is -1, the hub's mark of a hidden label)" in caplog.text
    task.close()


def test_a_hub_splits_errors_name_the_row(tmp_path):
    from datasets import Dataset

    from config.loading import load_config
    from data.prepare import load_task

    Dataset.from_dict({"sentence": ["a", "b", " ", "d"], "label": [0, 1, 0, 1]}).to_parquet(
        tmp_path / "hub" / "data" / "train-00000-of-00001.parquet")
    cfg = load_config(None, ["--dataset_name", str(tmp_path / "hub"), "--problem_type", "single_label_classification",
                             "--output_dir", str(tmp_path / "out"), "--report_to", "none"])
    with pytest.raises(DataError, match=r"hub\[train\]: row 3: column 'sentence' is empty"):
        load_task(cfg)


def test_a_cached_hub_dataset_loads_in_offline_mode_while_the_hub_is_unreachable(tmp_path, monkeypatch):
    # Out of offline mode, datasets asks the hub (retrying for about 25 s here) before it reads its cache.
    import datasets
    import huggingface_hub.constants

    from config.loading import load_config
    from data.prepare import load_task

    (tmp_path / "train.csv").write_text("text,label\nhello,0\nworld,1\n")
    datasets.load_dataset("csv", data_files={"train": str(tmp_path / "train.csv")}, cache_dir=str(tmp_path / "build"))
    built = next((tmp_path / "build").glob("csv/*/0.0.0/*/csv-train.arrow")).parent
    cached = tmp_path / "cache" / "ns___tiny" / "default" / "0.0.0" / "abc"  # as a download of ns/tiny leaves it
    cached.mkdir(parents=True)
    shutil.copy(built / "csv-train.arrow", cached / "tiny-train.arrow")
    shutil.copy(built / "dataset_info.json", cached)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr("references.models.hub_reachable", lambda: False)
    load = datasets.load_dataset

    def offline_only(*args, **kwargs):
        assert datasets.config.HF_HUB_OFFLINE and huggingface_hub.constants.HF_HUB_OFFLINE
        return load(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", offline_only)
    cfg = load_config(None, ["--dataset_name", "ns/tiny", "--problem_type", "single_label_classification",
                             "--output_dir", str(tmp_path / "out"), "--report_to", "none"])
    task = load_task(cfg)
    assert len(task.splits["train"]) == 2 and task.label_names == ["0", "1"]
    assert not datasets.config.HF_HUB_OFFLINE and not huggingface_hub.constants.HF_HUB_OFFLINE  # as they were
    task.close()


@pytest.mark.parametrize("config_name", [None, "mrpc"])
def test_a_hub_dataset_that_does_not_load_is_one_error_naming_it(tmp_path, config_name):
    from config.loading import load_config
    from data.prepare import load_task

    damaged = tmp_path / "hub" / "data" / "train-00000-of-00001.parquet"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not parquet")
    cfg = load_config(None, ["--dataset_name", str(tmp_path / "hub"), "--problem_type", "single_label_classification",
                             "--output_dir", str(tmp_path / "out"), "--report_to", "none",
                             *(["--dataset_config_name", config_name] if config_name else [])])
    named = re.escape(repr(str(tmp_path / "hub"))) + (" \\(dataset_config_name 'mrpc'\\)" if config_name else "")
    with pytest.raises(DataError, match=rf"^dataset_name: could not load {named}: \S"):
        load_task(cfg)


def test_split_file_errors_name_the_line_in_the_file(tmp_path):
    from data.sources import split_one_file

    records = [{"text": f"t{i}", "label": i % 2} for i in range(20)]
    records[13]["text"] = " "
    path = _write(tmp_path / "all.jsonl", "jsonl", records)
    with pytest.raises(DataError, match=r"all.jsonl: line 14: column 'text' is empty"):
        build_task(split_one_file(path, [0.7, 0.1, 0.2], seed=3), None)


def test_numeric_columns_are_taken_from_arrow_in_split_order(tmp_path):
    from data.store import column_array

    records = [{"text": f"t{i}", "label": i % 3} for i in range(30)]
    train = build_task([split_from_file("train", _write(tmp_path / "t.jsonl", "jsonl", records))], None).splits["train"]
    part = subsample(train, 7, seed=5)
    assert column_array(part, "label").tolist() == list(part["label"])
    assert column_array(part, "label").dtype == np.int64


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_release_mapped_pages_lets_go_of_data_read_and_keeps_it_readable(tmp_path):
    from data.store import release_mapped_pages

    train = build_task([split_from_file("train", write_long_texts(tmp_path / "t.jsonl"))], None).splits["train"]
    before = file_backed_mb()
    assert sum(len(t) for batch in train.iter(batch_size=5000) for t in batch["text"]) > 20_000_000
    touched = file_backed_mb()
    release_mapped_pages()
    assert touched - before > 15 and file_backed_mb() < touched - 15, (before, touched, file_backed_mb())
    assert train[29_999]["text"].startswith("29999 word")


def test_release_mapped_pages_leaves_a_writable_mapping_alone(tmp_path):
    """Dropping a private writable mapping's pages would drop what was written to them: only read-only ones go."""
    from data.store import release_mapped_pages

    path = tmp_path / "x.arrow"
    path.write_bytes(b"a" * mmap.PAGESIZE)
    with path.open("r+b") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as mapped:
        mapped[0:1] = b"b"
        release_mapped_pages()
        assert mapped[0:1] == b"b"


def test_iter_texts_yields_every_example_in_order_across_its_slices():
    from data.store import iter_texts

    data = Dataset.from_dict({"a": [f"a{i}" for i in range(7)], "b": [f"b{i}" for i in range(7)]})
    assert list(iter_texts(data, ["b", "a"], batch=3)) == [(f"b{i}", f"a{i}") for i in range(7)]
    assert list(iter_texts(data.select([5, 1]), ["a"], batch=1)) == [("a5",), ("a1",)]


def test_a_trained_models_labels_are_read_by_name_then_by_id():
    """predict.py scores an input against its labels: names first; an id is the model's own unless the model's
    names are themselves numbers (labels 1 and 2 are ids 0 and 1); a labels.json beside the input names its ids."""
    by_name = label_reader(["negative", "positive"], None)
    assert [by_name(v) for v in ("positive", 0, "1", 1.0, 2, "neutral", True, None)] == \
        [1, 0, 1, 1, None, None, None, None]
    numbered = label_reader(["1", "2"], None)
    assert [numbered(v) for v in (1, "2", 2.0, 0, 3)] == [0, 1, 1, None, None]
    own_order = label_reader(["negative", "positive"], ["positive", "negative"])
    assert [own_order(v) for v in (0, 1, "negative", 2, -1)] == [1, 0, 0, None, None]


@pytest.mark.parametrize("values", [[False, True], ["no", "yes"], [3, 7], [0.5, 1.5], ["1", "2"], [1.0, "x"],
                                    [1, "1", "x"], [10, 9, "1.0"], ["no", " no", "yes "]],
                         ids=["bools", "names", "numbers", "fractions", "numbered-names", "mixed", "one-spelt-twice",
                              "numbers-spelt-otherwise", "names-with-spaces"])
def test_a_trained_model_reads_its_training_files_labels_as_the_training_did(tmp_path, values):
    """predict.py scores the model's own test file: each raw label value gets the id the run gave it."""
    records = [{"text": f"text {i}", "label": values[i % len(values)]} for i in range(2 * len(values))]
    task = build_task([split_from_file("train", write_jsonl(tmp_path / "t.jsonl", records))], None)
    read = label_reader(task.label_names, None)
    assert [read(r["label"]) for r in records] == list(task.splits["train"]["label"])
    assert len(set(task.label_names)) == len(task.label_names) == len({read(v) for v in values})


def test_labels_that_differ_only_in_case_are_pointed_out(tmp_path, caplog):
    """'Positive' in a few rows beside 'positive': two classes, as written, but likely one meant; the log says so."""
    records = [{"text": f"t{i}", "label": label} for i, label in enumerate(["positive", "negative"] * 5 + ["Positive"])]
    with caplog.at_level(logging.WARNING):
        task = build_task([split_from_file("train", write_jsonl(tmp_path / "t.jsonl", records))], None)
    assert task.label_names == ["Positive", "negative", "positive"]
    assert "The labels 'Positive' (first at {0}: line 11) and 'positive' (first at {0}: line 1) differ only in " \
           "case, so they are different classes".format(tmp_path / "t.jsonl") in caplog.text


def test_labels_that_differ_only_in_case_are_found_in_their_own_file(tmp_path, caplog):
    """The real set spells one label otherwise: the warning names the real set's line, not the training file."""
    generated = write_jsonl(tmp_path / "generated.jsonl", [{"text": f"g{i}", "label": ["positive", "negative"][i % 2]}
                                                           for i in range(6)])
    real = write_jsonl(tmp_path / "real.jsonl", [{"text": "r0", "label": "negative"},
                                                 {"text": "r1", "label": "Positive"}])
    with caplog.at_level(logging.WARNING):
        build_task([split_from_file("train", generated), split_from_file("quality_train", real)], None)
    assert f"'Positive' (first at {real}: line 2) and 'positive' (first at {generated}: line 1)" in caplog.text


@pytest.mark.parametrize("labels, warned", [
    ([0.25, 3.5, 4.75, 1.0, 2.0, 0.5, 1.5, 4.25], "6 of the 8 labels are fractional numbers (0.25, 0.5, 1.5, 3.5, "
                                                  "4.25, ...), each a class of its own: scores of a regression task?"),
    (["0.5", "1", "1", "0"], "1 of the 3 labels are fractional numbers (0.5)"),
    ([1.0, 0.0, "2.0", "-1"], None),  # whole numbers are ids, as pandas writes a label column with a gap
])
def test_labels_that_are_scores_are_pointed_out(tmp_path, caplog, labels, warned):
    """An STS-like file of similarity scores made one class per distinct score, silently."""
    records = [{"text": f"t{i}", "label": label} for i, label in enumerate(labels)]
    with caplog.at_level(logging.WARNING):
        build_task([split_from_file("train", write_jsonl(tmp_path / "t.jsonl", records))], None)
    assert (warned in caplog.text) if warned else "fractional" not in caplog.text


def test_a_json_document_of_columns_is_read_as_its_rows(tmp_path):
    """{"text": [...], "label": [...]}, as a Dataset's to_dict() writes: its rows; pandas' default to_json(), each
    column an object keyed by row, and columns of different lengths are refused with what to do."""
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"text": ["good day", "bad day", "fine"], "label": [1, 0, 1]}))
    assert read_records(path) == [{"text": "good day", "label": 1}, {"text": "bad day", "label": 0},
                                  {"text": "fine", "label": 1}]
    path.write_text(json.dumps({"data": ["good day", "bad day"], "label": [1, 0]}))  # a column, not {"data": records}
    assert read_records(path) == [{"data": "good day", "label": 1}, {"data": "bad day", "label": 0}]
    path.write_text(json.dumps({"text": ["good day", "bad day"], "label": 1}))  # one record, its text a list
    assert read_records(path) == [{"text": ["good day", "bad day"], "label": 1}]
    path.write_text(json.dumps({"text": "good day", "label": 1, "meta": {"0": "gpt"}}))  # one record, not pandas'
    assert read_records(path) == [{"text": "good day", "label": 1, "meta": {"0": "gpt"}}]
    path.write_text(json.dumps({"text": {"0": "good day", "1": "bad day"}, "label": {"0": 1, "1": 0}}))
    with pytest.raises(DataError, match=r"t.json: each column is an object keyed by row, as pandas' "
                                        r"DataFrame.to_json\(\) writes by default; write the records instead"):
        read_records(path)
    path.write_text(json.dumps({"text": ["good day", "bad day"], "label": [1]}))
    with pytest.raises(DataError, match=r"t.json: columns of different lengths \('text' 2, 'label' 1\)"):
        read_records(path)


def test_the_data_files_a_killed_run_left_are_removed_by_the_next_run(tmp_path):
    """SIGKILL (or the kernel's out-of-memory killer) leaves a run's scratch folder behind, its lock dropped by the
    kernel; the next run on this machine removes it, and leaves one still locked (a run going on, even in another
    PID namespace), one not locked yet (a run starting) and another machine's."""
    left = {name: tmp_path / f"{SCRATCH_PREFIX}{name}" for name in (
        f"{socket.gethostname()}+killed", f"{socket.gethostname()}+running", f"{socket.gethostname()}+starting",
        "elsewhere+killed")}
    for name, folder in left.items():
        folder.mkdir()
        (folder / "0-train.arrow").write_bytes(b"data")
        if not name.endswith("starting"):
            (folder / ALIVE_FILE).touch()
    running = os.open(left[f"{socket.gethostname()}+running"] / ALIVE_FILE, os.O_WRONLY)
    fcntl.flock(running, fcntl.LOCK_EX)  # as the run that owns it holds it
    try:
        mine = scratch_folder(str(tmp_path))
        assert [folder.exists() for folder in left.values()] == [False, True, True, True]
        remove_scratch(mine)
        assert not mine.exists()
    finally:
        os.close(running)


@pytest.mark.slow
def test_a_runs_data_files_last_while_it_runs_beside_another_and_go_when_its_process_exits(tmp_path):
    mine = scratch_folder(str(tmp_path))
    other = scratch_folder(str(tmp_path))  # another run starting on this machine looks for killed runs' folders
    assert mine.is_dir() and other.is_dir()
    remove_scratch(other)
    remove_scratch(mine)
    script = "import sys; from data.store import scratch_folder; print(scratch_folder(sys.argv[1]))"
    left = subprocess.run([sys.executable, "-c", script, str(tmp_path / "exits")], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.splitlines()[-1]  # (transformers may print a line first)
    assert not Path(left).exists()  # a run that ends without removing its folder (an error) leaves none


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads this process's open files in /proc")
def test_a_removed_scratch_folder_leaves_no_file_open(tmp_path):
    """Its lock's descriptor is closed with it: runs one after another in one process (a notebook) keep none."""
    for _ in range(3):
        remove_scratch(scratch_folder(str(tmp_path)))
    opened = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # a descriptor closed meanwhile (the listing's own)
            opened.append(os.readlink(f"/proc/self/fd/{fd}"))
    assert [path for path in opened if path.startswith(str(tmp_path))] == []


def test_a_test_file_without_labels_points_to_predict_py(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "c"}])
    with pytest.raises(DataError, match=r"texts.jsonl: line 1: missing label column 'label' .*; predict.py labels "
                                        r"texts that have none$"):
        build_task([split_from_file("train", train), split_from_file("test", texts)], None)
    with pytest.raises(DataError, match=r"label_column_name names another\)$"):  # training data must have labels
        build_task([split_from_file("train", texts)], None)


def test_the_content_digest_tells_where_one_text_ends_and_the_next_begins():
    def digest(first: str, second: str) -> str:
        return content_digest(Dataset.from_dict({"a": [first], "b": [second], "label": [0]}), ["a", "b"], ["x"])

    assert digest("ab", "c") != digest("a", "bc")
    assert digest("ab", "c") == digest("ab", "c")


def test_the_content_digest_changes_with_any_label():
    """A checker trained on the same texts under other labels (a relabelled file) is stale."""
    def digest(labels: list[int]) -> str:
        return content_digest(Dataset.from_dict({"text": ["good", "bad"], "label": labels}), ["text"], ["neg", "pos"])

    assert len({digest([1, 0]), digest([1, 1]), digest([0, 1])}) == 3


def test_the_content_digest_changes_with_the_examples_order():
    """The same examples in another order make other seeded batches, so another checker: one cached from the old
    order is not the checker a build would make now. Here two examples of one class swap places."""
    def digest(texts: list[str]) -> str:
        return content_digest(Dataset.from_dict({"text": texts, "label": [1, 1, 0]}), ["text"], ["neg", "pos"])

    assert digest(["good", "fine", "bad"]) != digest(["fine", "good", "bad"])


def test_the_content_digest_reads_labels_by_name():
    """The same ids under a labels.json that names them the other way round are other labels."""
    data = Dataset.from_dict({"text": ["good", "bad"], "label": [1, 0]})
    assert content_digest(data, ["text"], ["neg", "pos"]) != content_digest(data, ["text"], ["pos", "neg"])


def _prepared(root: Path, tmp_path: Path, **changes):
    """The task a run of toy/numbered.jsonl (40 examples, each text ending in its line number) would train on."""
    write_jsonl(root / "toy" / "numbered.jsonl",
                [{**r, "text": f"{r['text']} {i + 1}"} for i, r in enumerate(toy_records(40, seed=5))])
    config = {"train_file": "toy/numbered.jsonl", "validation_file": "toy/validation.jsonl", "report_to": "none",
              "output_dir": str(tmp_path / "out"), "data_work_dir": str(tmp_path / "work"), **changes}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return load_task(load_config(str(path)))


def _lines(dataset) -> list[int]:
    return [int(text.rsplit(" ", 1)[1]) for text in dataset["text"]]


def test_a_real_set_that_is_the_training_file_is_held_out_of_it(data_root_env, tmp_path):
    task = _prepared(data_root_env, tmp_path, quality_checker_train_file="toy/numbered.jsonl")
    held, train = _lines(task.splits["quality_train"]), _lines(task.splits["train"])
    assert len(held) == 4 and held == sorted(held)  # a tenth, in the file's order
    assert sorted(held + train) == list(range(1, 41))  # each example on one side only
    assert task.origins["quality_train"] == task.origins["train"]
    at_most = _prepared(data_root_env, tmp_path, quality_checker_train_file="toy/numbered.jsonl",
                        quality_checker_max_train_samples=100)
    assert len(at_most.splits["quality_train"]) == 39 and len(at_most.splits["train"]) == 1  # one left to train on


def test_data_seed_draws_the_data_and_seed_only_when_it_is_unset(data_root_env, tmp_path):
    def drawn(**seeds) -> list[int]:
        return _lines(_prepared(data_root_env, tmp_path, max_train_samples=10, **seeds).splits["train"])

    assert drawn(seed=1, data_seed=7) == drawn(seed=2, data_seed=7) != drawn(seed=1, data_seed=8)
    assert drawn(seed=1) != drawn(seed=2)


def test_the_noise_injected_is_drawn_by_noise_seed_alone(data_root_env, tmp_path):
    """Runs of several seeds train on the same noisy data."""
    def noisy(**seeds) -> list:
        train = _prepared(data_root_env, tmp_path, noise_swap_ratio=0.25, **seeds).splits["train"]
        return list(zip(train["noise"], train["label"]))

    assert noisy(seed=1, noise_seed=3) == noisy(seed=2, noise_seed=3) != noisy(seed=1, noise_seed=4)


def test_the_log_counts_the_datas_own_tags_beside_the_noise(data_root_env, tmp_path, caplog):
    write_jsonl(data_root_env / "toy" / "tagged.jsonl",
                [{**r, "noise": "llm_a"} for r in toy_records(40, seed=5)])
    with caplog.at_level(logging.INFO, logger="data.prepare"):
        _prepared(data_root_env, tmp_path, train_file="toy/tagged.jsonl", noise_swap_ratio=0.25)
    assert "Noise injected: {'llm_a': 30, 'swap': 10}" in caplog.text  # not {'original': 0, ...}


def test_augmented_data_comes_after_the_training_file(data_root_env, tmp_path):
    task = _prepared(data_root_env, tmp_path, augmented_train_file="toy/real.jsonl")
    assert len(task.splits["train"]) == 40 + 32 and _lines(task.splits["train"].select(range(40))) == list(range(1, 41))
    assert task.training_files() == "toy/numbered.jsonl + toy/real.jsonl"  # as the model card names them


def test_the_evaluated_splits_are_cut_by_their_own_limits_and_the_real_set_by_the_seed(data_root_env, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    write_jsonl(tmp_path / "artifacts" / "more-tests:v0" / "other.jsonl", toy_records(20, seed=8))
    task = _prepared(data_root_env, tmp_path, test_file="toy/test.jsonl", max_eval_samples=5, max_predict_samples=7,
                     wandb_generalization_dataset="me/proj/more-tests:v0")
    assert [len(task.splits[name]) for name in ("validation", "test", "test_1")] == [5, 7, 7]

    def real_sample(seed: int) -> list[str]:
        return _prepared(data_root_env, tmp_path, quality_checker_train_file="toy/real.jsonl", seed=seed,
                         quality_checker_max_train_samples=12).splits["quality_train"]["text"]

    assert len(real_sample(1)) == 12 and real_sample(1) != real_sample(2)


def test_unrelated_noise_never_takes_the_other_files_label_for_a_text(data_root_env, tmp_path):
    names = ["negative", "positive"]
    write_jsonl(data_root_env / "toy" / "named.jsonl",
                [{"sentiment": names[r["label"]], "text": r["text"]} for r in toy_records(20, seed=6)])
    write_jsonl(data_root_env / "toy" / "other.jsonl",
                [{"sentiment": "neutral", "text": f"other {i}"} for i in range(5)])
    train = _prepared(data_root_env, tmp_path, train_file="toy/named.jsonl", validation_file=None,
                      label_column_name="sentiment", noise_unrelated_ratio=0.5,
                      noise_unrelated_file="toy/other.jsonl").splits["train"]
    unrelated = [text for text, noise in zip(train["text"], train["noise"]) if noise == "unrelated"]
    assert len(unrelated) == 10 and all(text.startswith("other ") for text in unrelated)


def test_a_plain_text_file_is_one_text_per_line_whatever_its_line_ends(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"first\r\n\r\nthird\n\n\n")  # Windows line ends, a blank line inside, blank lines at the end
    assert list(iter_text_lines(path)) == [(1, {"text": "first"}), (2, {"text": ""}), (3, {"text": "third"})]
    for content in (b"", b"\n \n"):  # nothing to predict: refused, not an empty output file
        path.write_bytes(content)
        with pytest.raises(DataError, match=r"texts.txt: no records \(the file is empty\)"):
            list(iter_text_lines(path))


def test_the_data_root_may_start_with_a_tilde(tmp_path, monkeypatch):
    """As every path option may: DIMP_DATA_ROOT='~/data' looked in ./~/data."""
    from data.files import data_root, resolve_data_path

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DIMP_DATA_ROOT", "~/droot")
    (tmp_path / "droot" / "toy").mkdir(parents=True)
    _write(tmp_path / "droot" / "toy" / "t.jsonl", "jsonl", [{"text": "a", "label": 0}])
    assert data_root() == tmp_path / "droot"
    assert resolve_data_path("toy/t.jsonl", "train_file") == tmp_path / "droot" / "toy" / "t.jsonl"


def test_a_relative_path_found_in_the_data_root_and_the_working_directory_says_which_it_reads(tmp_path, monkeypatch,
                                                                                              caplog):
    """A user's own tweet_irony/train.jsonl in the folder they run from was passed over for the data root's."""
    from data.files import resolve_data_path

    root, here = tmp_path / "root", tmp_path / "here"
    for folder, count in ((root, 3), (here, 2)):
        (folder / "shadow").mkdir(parents=True)
        _write(folder / "shadow" / "train.jsonl", "jsonl", [{"text": f"t{i}", "label": 0} for i in range(count)])
    monkeypatch.setenv("DIMP_DATA_ROOT", str(root))
    monkeypatch.chdir(here)
    with caplog.at_level(logging.WARNING, logger="data.files"):
        assert resolve_data_path("shadow/train.jsonl", "train_file") == root / "shadow" / "train.jsonl"
        resolve_data_path("shadow/train.jsonl", "train_file")
    assert caplog.text.count(f"train_file: shadow/train.jsonl is in the data root ({root / 'shadow' / 'train.jsonl'})"
                             " and in the working directory too; reading the data root's") == 1  # said once
