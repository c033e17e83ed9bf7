"""The phase-time benchmark's plan: each round warms up on the batch the trainer's length-grouped sampler puts first,
then times batches of that sampler's epoch that no other round times; the checker probabilities are scored a chunk
per round, each example once, before the round that first trains on it."""

from __future__ import annotations

import random

import pytest
import torch
from transformers.trainer_pt_utils import get_length_grouped_indices

from benchmarks.protocol import parse_protocol, plan_rounds, precompute_chunks


def _lengths(n: int = 200, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(5, 120) for _ in range(n)]


def test_every_round_warms_up_on_the_longest_batch_then_times_its_own_full_batches():
    lengths = _lengths()
    protocol = parse_protocol(["--batch_size", "8", "--rounds", "3", "--timed_steps", "4"])
    rounds = plan_rounds(lengths, protocol)
    assert len(rounds) == 3 and all(len(batches) == 1 + 4 for batches in rounds)
    warm_up = rounds[0][0]
    assert all(batches[0] == warm_up for batches in rounds)
    assert max(lengths[i] for i in warm_up) == max(lengths)  # a real run's memory peak comes in its first step
    timed = [tuple(batch) for batches in rounds for batch in batches[1:]]
    assert all(len(batch) == 8 for batch in timed) and len(set(timed)) == len(timed)
    examples = [i for batch in [warm_up, *timed] for i in batch]
    assert len(set(examples)) == len(examples)  # batches of one epoch: no example twice
    # the batches of the length-grouped sampler's epoch, under the protocol's seed
    order = get_length_grouped_indices(lengths, 8, generator=torch.Generator().manual_seed(protocol.seed))
    assert set(timed) <= {tuple(order[i:i + 8]) for i in range(0, len(order), 8)}
    assert plan_rounds(lengths, protocol) == rounds  # seeded


def test_a_plan_an_epoch_cannot_hold_is_refused():
    lengths = _lengths(203)  # 25 full batches, one of them the warm-up, and 3 examples left over
    assert len(plan_rounds(lengths, parse_protocol(["--batch_size", "8", "--rounds", "4", "--timed_steps", "6"]))) == 4
    protocol = parse_protocol(["--batch_size", "8", "--rounds", "5", "--timed_steps", "5"])
    with pytest.raises(ValueError, match="rounds x timed_steps = 25 batches, but an epoch has only 24 more full"):
        plan_rounds(lengths, protocol)


def test_the_chunks_score_every_example_once_each_before_the_round_that_first_trains_on_it():
    protocol = parse_protocol(["--batch_size", "8", "--rounds", "3", "--timed_steps", "4"])
    rounds = plan_rounds(_lengths(205), protocol)
    chunks = precompute_chunks(205, rounds, seed=1)  # 101 examples no round trains on: not a multiple of 3
    assert len(chunks) == 3 and sorted(i for chunk in chunks for i in chunk) == list(range(205))
    scored = set()
    for chunk, batches in zip(chunks, rounds):
        scored.update(chunk)
        assert {i for batch in batches for i in batch} <= scored


def test_the_protocol_reads_its_options_with_their_types():
    protocol = parse_protocol(["--epochs", "3", "--train_examples", "1000", "--batch_size", "16"])
    assert protocol.epochs == 3.0 and isinstance(protocol.epochs, float)
    assert (protocol.steps_per_epoch, protocol.training_steps) == (63, 189)  # 1000 / 16, rounded up
    assert protocol.to_dict()["diversity_build_total_steps"] == 63 * 5  # checker_epochs' default
    cfg = protocol.run_config()
    assert (cfg.data.max_train_samples, cfg.checkers.quality_checker_max_train_samples) == (1000, 300)
    assert cfg.training.train_sampling_strategy == "group_by_length"  # as a real run samples
    assert protocol.training_args("out", max_steps=5).train_sampling_strategy == "sequential"


def test_a_partial_epoch_s_steps_count_as_the_trainer_counts_them():
    protocol = parse_protocol(["--epochs", "2.5", "--checker_epochs", "1.5", "--train_examples", "1000",
                               "--batch_size", "16"])
    assert (protocol.training_steps, protocol.diversity_build_total_steps) == (158, 95)  # 157.5 and 94.5, rounded up


def test_the_run_config_and_the_segments_arguments_carry_every_option_they_take():
    protocol = parse_protocol(["--model", "models/tiny", "--validation_file", "v.jsonl", "--max_length", "64",
                               "--checker_epochs", "2", "--batch_size", "16", "--epochs", "3", "--seed", "7"])
    cfg = protocol.run_config()
    assert (cfg.model.model_name_or_path, cfg.data.validation_file, cfg.data.max_seq_length) == \
        ("models/tiny", "v.jsonl", 64)
    assert (cfg.checkers.checker_num_train_epochs, cfg.checkers.checker_batch_size) == (2.0, 16)
    args = protocol.training_args("out", "single_label_classification_dimp", max_steps=5)
    assert (args.problem_type, args.per_device_train_batch_size, args.num_train_epochs, args.max_steps, args.seed) == \
        ("single_label_classification_dimp", 16, 3.0, 5, 7)


@pytest.mark.parametrize("option, value", [("--rounds", "0"), ("--timed_steps", "-1"), ("--epochs", "0"),
                                           ("--train_examples", "x")])
def test_a_count_below_one_is_refused_before_any_work(capsys, option, value):
    with pytest.raises(SystemExit):
        parse_protocol([option, value])
    assert f"argument {option}: expected a number" in capsys.readouterr().err
    assert parse_protocol(["--seed", "0"]).seed == 0  # a seed may be 0
