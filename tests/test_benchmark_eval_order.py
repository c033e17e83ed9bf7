"""benchmarks/eval_order.py: evaluation as given against longest first, under both samplers, on toy pairs laid out
as MRPC is under the data root, with the tiny BERT."""

from __future__ import annotations

import json

import pytest

from benchmarks import eval_order
from conftest import toy_records, write_jsonl

ROUNDS, BATCH = 3, 32


@pytest.fixture(scope="module")
def result(tiny_model_dir, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("data")
    records = toy_records(400, seed=5, pairs=True)  # evaluations of about 0.2 s: timed to 0.01 s
    for record in records[::3]:  # lengths that differ, so that the order changes the padding
        record["text_pair"] = " ".join([record["text_pair"]] * 4)
    write_jsonl(root / "mrpc" / "validation.jsonl", records[:150])
    write_jsonl(root / "mrpc" / "test.jsonl", records[150:])
    output = tmp_path_factory.mktemp("out") / "eval_order.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIMP_DATA_ROOT", str(root))
        eval_order.main(["--rounds", str(ROUNDS), "--batch-size", str(BATCH), "--model", str(tiny_model_dir),
                         "--output", str(output)])
    return json.loads(output.read_text())


def test_both_splits_are_evaluated_in_batches_of_the_given_size(result, tiny_model_dir):
    assert result["examples"] == 400 and result["eval_batch_size"] == BATCH
    assert result["model"] == str(tiny_model_dir) and f"--model {tiny_model_dir}" in result["command"]
    assert result["machine"]["cores"] >= 1


def test_longest_first_pads_fewer_tokens_than_the_given_order(result):
    padded = result["padded_tokens_in_order"]
    assert padded["longest_first"] < padded["as_given"]


def test_each_sampler_times_both_orders_every_round_and_keeps_the_median_ratio(result):
    assert set(result["samplers"]) == {"random", "group_by_length"}
    for sampler in result["samplers"].values():
        times = sampler["wall_s"]
        assert [len(times["as_given"]), len(times["longest_first"])] == [ROUNDS, ROUNDS]
        ratios = sorted(a / b for a, b in zip(times["as_given"], times["longest_first"]))
        assert sampler["speedup_longest_first"] == round(ratios[ROUNDS // 2], 3)
        assert sampler["same_accuracy"] is True  # the order changes the padding, not the predictions
