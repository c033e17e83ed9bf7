"""benchmarks/phase_times.py end to end on the tiny model: every round times every variant on the same batches in
serpentine order; the checkers score each training example once, and the project's variants read those scores where
the authors' style pads every input and forwards the checkers; the diversity build runs only the steps it is told;
nothing is written outside the scratch folder and the results file."""

from __future__ import annotations

import json
import logging
import os
import shlex

import numpy as np
import pytest
import transformers

from trainer.progress import library_bars_off
from benchmarks import phase_times
from benchmarks.report import estimate
from benchmarks.seed_style import SeedStyleTrainer
from checkers.scoring import at_gold, class_probabilities
from trainer.modeling import encode


def _spy(monkeypatch, name: str, calls: list) -> list:
    """phase_times.<name>, still called, with each call's arguments and result appended to `calls`."""
    real = getattr(phase_times, name)

    def recorded(*args):
        calls.append((args, real(*args)))
        return calls[-1][1]

    monkeypatch.setattr(phase_times, name, recorded)
    return calls


@pytest.fixture
def libraries_as_they_were():
    """main() quiets the libraries for the whole process, as a script's main may: the tests after it get them back."""
    root = logging.getLogger()
    state = transformers.logging.get_verbosity(), root.level, list(root.handlers)
    with library_bars_off():  # the progress bars come back as they were when it ends
        yield
    transformers.logging.set_verbosity(state[0])
    root.setLevel(state[1])
    root.handlers[:] = state[2]


@pytest.mark.slow
@pytest.mark.usefixtures("libraries_as_they_were")
def test_the_benchmark_times_every_phase_on_a_tiny_protocol(tiny_model_dir, data_root_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where ./cache, ./checkers and ./output of a run would go
    benches, plans = _spy(monkeypatch, "Bench", []), _spy(monkeypatch, "plan_rounds", [])
    trainers = _spy(monkeypatch, "make_seed_style_trainer", _spy(monkeypatch, "make_trainer", []))
    headlines = _spy(monkeypatch, "headline", [])
    builds = _spy(monkeypatch, "build_checker", [])
    argv = ["--model", str(tiny_model_dir), "--train_file", "toy/train.jsonl", "--real_file", "toy/real.jsonl",
            "--validation_file", "toy/validation.jsonl", "--train_examples", "64", "--real_examples", "32",
            "--epochs", "1", "--checker_epochs", "1", "--batch_size", "4", "--max_length", "32", "--rounds", "2",
            "--timed_steps", "2", "--diversity_build_steps", "3", "--work_dir", "work", "--output", "times.json"]
    results = phase_times.main(argv)
    assert json.loads((tmp_path / "times.json").read_text()) == json.loads(json.dumps(results))
    assert sorted(os.listdir(tmp_path)) == ["times.json", "work"]

    segments = results["raw"]["segments"]
    names = [variant.name for variant in phase_times.VARIANTS]
    assert [(s["round"], s["variant"]) for s in segments] == [(0, n) for n in names] + [(1, n) for n in names[::-1]]
    assert all(len(s["step_wall_s"]) == len(s["step_cpu_s"]) == 2 for s in segments)  # the warm-up is not timed
    assert sum(chunk["quality"]["examples"] for chunk in results["raw"]["precompute_chunks"]) == 64

    # Each example's P(gold) under each checker, at its own index, as scoring the whole set at once gives them.
    bench, rounds = benches[0][1], plans[0][1]
    for role, column in phase_times.COLUMNS.items():
        whole = class_probabilities(bench.checkers[column], bench.checker_sources[role], bench.train,
                                    bench.task.text_columns, 32)
        np.testing.assert_allclose(bench.probs[column], at_gold(whole, bench.train["label"]), rtol=1e-5)
    probability_columns = set(phase_times.COLUMNS.values())
    unpadded = encode(bench.train, bench.tokenizer, bench.task.text_columns, 32)["input_ids"]
    for ((_, _, _, train, *checkers), trainer), segment in zip(trainers, segments):
        variant = phase_times.VARIANTS[names.index(segment["variant"])]
        assert isinstance(trainer, SeedStyleTrainer) == variant.seed_style
        if variant.seed_style:  # the authors' way: the checkers forwarded, every input padded to max_length
            assert len(checkers) == len(variant.columns) and not probability_columns & set(train.column_names)
            assert {len(ids) for ids in train["input_ids"]} == {32}
        else:
            assert probability_columns & set(train.column_names) == set(variant.columns)
            assert train["input_ids"] == [unpadded[i] for batch in rounds[segment["round"]] for i in batch]

    # The diversity build ran 3 of its 16 steps (64 examples in batches of 4), at the protocol's batch size.
    recipe = json.loads((tmp_path / "work" / "checkers" / "diversity" / "checker_recipe.json").read_text())
    assert recipe["batch_size"] == 4 and recipe["validation_history"][-1]["epoch"] == 3 / 16
    splits = bench.task.splits
    assert [(args[1].role, args[1].train, args[1].validation) for args, _ in builds] == [
        ("quality", splits["quality_train"], splits["validation"]), ("diversity", bench.train, splits["validation"])]
    assert results["protocol"]["diversity_build_total_steps"] == 16
    assert set(results["bars"]) == {"dimp_total_over_ce", "imp_train_over_ce", "throughput_over_seed_style",
                                    "peak_rss_mb"}
    assert results["wall_clock"]["phases_s"]["ce"]["total_over_ce"] == 1.0

    # Beside the timings: both clocks' estimates and the peaks from the raw measurements, the headline from the wall
    # clock, what the run read and the command that runs it again.
    protocol, raw = plans[0][0][1], results["raw"]
    assert results["wall_clock"] == estimate(protocol, raw["phases"], raw["precompute_chunks"], segments, "wall")
    assert results["cpu_clock_crosscheck"] == estimate(protocol, raw["phases"], raw["precompute_chunks"], segments,
                                                       "cpu")
    assert headlines[0][0][0] is results["wall_clock"]  # one thread's CPU time can match its wall time to the digit
    assert (results["peak_rss_mb"], results["peak_rss_mb_seed_style"]) == phase_times.peak_rss(
        raw["phases"], raw["precompute_chunks"], segments)
    validation = (data_root_env / "toy" / "validation.jsonl").read_text().splitlines()
    assert results["protocol"]["quality_checker_validation_examples"] == len(validation)
    assert results["protocol"]["data_root"] == str(data_root_env)
    assert results["protocol"]["model_location"] == str(tiny_model_dir)
    assert results["command"] == "python " + shlex.join(["benchmarks/phase_times.py", *argv])
    assert results["benchmark_wall_s"] >= sum(s["wall_s"] for s in segments)


@pytest.mark.parametrize("highest", ["phase", "quality_chunk", "diversity_chunk", "ce_segment"])
def test_the_peak_is_the_highest_of_this_projects_phases_and_the_authors_style_has_its_own(highest):
    """The authors' style pads every input to max_length: its training peaks higher, and is reported apart."""
    def mb(name: str) -> dict:
        return {"peak_rss_mb": 100.0 if name == highest else 1.0}

    phases = {"build_quality_checker": mb("phase"), "load_quality_checker": {"peak_rss_mb": 2.0}}
    chunks = [{"quality": {"peak_rss_mb": 3.0}, "diversity": {"peak_rss_mb": 4.0}},
              {"quality": mb("quality_chunk"), "diversity": mb("diversity_chunk")}]
    segments = [{"variant": "ce", **mb("ce_segment")}, {"variant": "dimp", "peak_rss_mb": 5.0},
                {"variant": "seed_dimp", "peak_rss_mb": 150.0}, {"variant": "seed_imp", "peak_rss_mb": 160.0}]
    assert phase_times.peak_rss(phases, chunks, segments) == (100.0, 160.0)


@pytest.mark.usefixtures("libraries_as_they_were")
def test_a_plan_the_training_set_cannot_hold_stops_before_the_checkers_are_built(
        tiny_model_dir, data_root_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(phase_times.Bench, "build_checkers", lambda self: pytest.fail("checkers built first"))
    argv = ["--model", str(tiny_model_dir), "--train_file", "toy/train.jsonl", "--real_file", "toy/real.jsonl",
            "--validation_file", "toy/validation.jsonl", "--train_examples", "16", "--batch_size", "4",
            "--rounds", "5", "--timed_steps", "1", "--work_dir", "work", "--output", "times.json"]
    with pytest.raises(SystemExit, match=r"rounds x timed_steps = 5 batches, but an epoch has only 3 more full "
                                         r"batches; give fewer --rounds or --timed_steps, or more --train_examples"):
        phase_times.main(argv)
