"""Without a validation file, a stratified, seeded share of the real set becomes the validation split: the quality
checker and the model never train on it."""

from __future__ import annotations

import json
from collections import Counter

from conftest import toy_records, write_jsonl

from config.loading import load_config
from data.prepare import load_task


def _real_set(root, negatives: int = 30, positives: int = 10):
    records = [r for r in toy_records(2 * max(negatives, positives), seed=7) if r["label"] == 0][:negatives]
    records += [r for r in toy_records(2 * max(negatives, positives), seed=8) if r["label"] == 1][:positives]
    for i, record in enumerate(records):
        record["text"] += f" {i}"  # each text unique, to check disjointness by text
    return write_jsonl(root / "toy" / "unbalanced_real.jsonl", records)


def _task(tmp_path, **changes):
    config = {"train_file": "toy/train.jsonl", "test_file": "toy/test.jsonl",
              "quality_checker_train_file": "toy/unbalanced_real.jsonl", "report_to": "none",
              "output_dir": str(tmp_path / "out"), **changes}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return load_task(load_config(str(path)))


def _texts(dataset) -> set[str]:
    return set(dataset["text"])


def test_the_real_set_is_split_stratified_and_disjoint(data_root_env, tmp_path):
    _real_set(data_root_env)
    task = _task(tmp_path)
    validation, checker = task.splits["validation"], task.splits["quality_train"]
    assert (len(validation), len(checker)) == (8, 32)  # 20% of each label: 6 of 30 negatives, 2 of 10 positives
    assert Counter(validation["label"]) == {0: 6, 1: 2}
    assert not _texts(validation) & _texts(checker)
    assert not _texts(validation) & _texts(task.splits["train"])
    assert task.validation_split == {"source": task.origins["quality_train"], "real_validation_fraction": 0.2,
                                     "split_seed": 0, "validation_examples": 8, "remaining_real_examples": 32}
    # the model card and the errors name it so, not as the real set, on which the checker trained
    assert task.origins["validation"] == f"{task.origins['quality_train']} (held-out part)"


def test_a_tiny_fraction_still_holds_out_one_example_of_each_label(data_root_env, tmp_path):
    _real_set(data_root_env)
    assert Counter(_task(tmp_path, real_validation_fraction=0.01).splits["validation"]["label"]) == {0: 1, 1: 1}


def test_the_split_depends_on_split_seed_not_on_the_training_seed(data_root_env, tmp_path):
    _real_set(data_root_env)
    first = _texts(_task(tmp_path, seed=1).splits["validation"])
    assert _texts(_task(tmp_path, seed=2).splits["validation"]) == first  # several seeds share one cached checker
    assert _texts(_task(tmp_path, split_seed=5).splits["validation"]) != first


def test_the_validation_part_never_joins_training(data_root_env, tmp_path):
    _real_set(data_root_env)
    task = _task(tmp_path, real_set_in_training=True, real_validation_fraction=0.5)
    validation = _texts(task.splits["validation"])
    assert len(validation) == 20
    assert not validation & _texts(task.splits["train"])
    assert len(task.splits["train"]) == 64 + 20  # the generated data and the real examples left to the checker


def test_a_validation_file_or_a_zero_fraction_keeps_the_real_set_whole(data_root_env, tmp_path):
    _real_set(data_root_env)
    task = _task(tmp_path, validation_file="toy/validation.jsonl")
    assert (len(task.splits["quality_train"]), len(task.splits["validation"])) == (40, 24)
    assert task.validation_split is None
    task = _task(tmp_path, real_validation_fraction=0)
    assert "validation" not in task.splits and len(task.splits["quality_train"]) == 40


def test_a_fraction_asked_beside_a_validation_file_is_reported_unused(data_root_env, tmp_path, caplog):
    _real_set(data_root_env)
    caplog.set_level("WARNING")
    _task(tmp_path, validation_file="toy/validation.jsonl")
    assert "real_validation_fraction" not in caplog.text  # the default asks for nothing
    task = _task(tmp_path, validation_file="toy/validation.jsonl", real_validation_fraction=0.3)
    assert len(task.splits["quality_train"]) == 40
    assert (f"real_validation_fraction 0.3 is not used: the validation split is {data_root_env}/toy/validation.jsonl"
            in caplog.text)


def test_a_cap_on_the_real_set_samples_what_is_left_after_the_validation_split(data_root_env, tmp_path, caplog):
    _real_set(data_root_env)
    caplog.set_level("INFO")
    task = _task(tmp_path, real_set_in_training=True, quality_checker_max_train_samples=12)
    assert len(task.splits["quality_train"]) == 12 and len(task.splits["validation"]) == 8
    assert len(task.splits["train"]) == 64 + 12
    assert "Real set: a seeded sample of 12 of its 32 examples (quality_checker_max_train_samples)" in caplog.text
    assert len(_task(tmp_path).splits["quality_train"]) == 32  # by default, all of them


def test_texts_of_the_evaluation_splits_in_the_training_data_are_reported(data_root_env, tmp_path, caplog):
    validation = [json.loads(line) for line in (data_root_env / "toy" / "validation.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (data_root_env / "toy" / "train.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (data_root_env / "toy" / "test.jsonl").read_text().splitlines()]
    copied = [{**record, "text": f"  {record['text'].upper()} "} for record in validation[:5]]  # case and spacing aside
    write_jsonl(data_root_env / "toy" / "leaky_train.jsonl", train + copied)
    caplog.set_level("WARNING")
    _task(tmp_path, train_file="toy/leaky_train.jsonl", validation_file="toy/validation.jsonl",
          quality_checker_train_file=None)
    distinct = len({" ".join(r["text"].lower().split()) for r in validation})
    assert (f"The validation split: 5 of its {distinct} distinct texts are in the training data too"
            in caplog.text)
    assert "The test split" not in caplog.text
    caplog.clear()
    write_jsonl(data_root_env / "toy" / "leaky_train.jsonl", train + test[:3])
    _task(tmp_path, train_file="toy/leaky_train.jsonl", validation_file="toy/validation.jsonl",
          quality_checker_train_file=None)
    distinct = len({" ".join(r["text"].lower().split()) for r in test})
    assert f"The test split: 3 of its {distinct} distinct texts are in the training data too" in caplog.text
    caplog.clear()
    _task(tmp_path, validation_file="toy/validation.jsonl", quality_checker_train_file=None)
    assert "in the training data too" not in caplog.text


def test_copies_of_a_held_out_text_are_held_out_with_it(data_root_env, tmp_path):
    real = [json.loads(line) for line in _real_set(data_root_env).read_text().splitlines()]
    copies = [{**record, "text": f" {record['text'].upper()}"} for record in real]  # every text twice
    write_jsonl(data_root_env / "toy" / "unbalanced_real.jsonl", real + copies)
    task = _task(tmp_path)
    held = {" ".join(t.lower().split()) for t in task.splits["validation"]["text"]}
    kept = {" ".join(t.lower().split()) for t in task.splits["quality_train"]["text"]}
    assert held and kept and not held & kept
    assert len(task.splits["validation"]) == 2 * len(held)  # both copies of each held-out text


def test_each_label_keeps_an_example_however_large_the_fraction(data_root_env, tmp_path):
    _real_set(data_root_env, negatives=30, positives=2)
    task = _task(tmp_path, real_validation_fraction=0.9)
    assert Counter(task.splits["validation"]["label"]) == {0: 27, 1: 1}  # round(0.9 * 2) would take both positives
    assert Counter(task.splits["quality_train"]["label"]) == {0: 3, 1: 1}


def test_each_labels_share_is_rounded_to_the_nearest_count(data_root_env, tmp_path):
    _real_set(data_root_env)
    validation = _task(tmp_path, real_validation_fraction=0.26).splits["validation"]
    assert Counter(validation["label"]) == {0: 8, 1: 3}  # 7.8 of 30 negatives, 2.6 of 10 positives


def test_a_real_set_of_one_example_per_label_holds_none_out_and_says_so(data_root_env, tmp_path, caplog):
    _real_set(data_root_env, negatives=1, positives=1)
    task = _task(tmp_path)
    assert "validation" not in task.splits and len(task.splits["quality_train"]) == 2
    assert "No validation split: the real set (2 examples) is too small to hold one out" in caplog.text
