"""What the benchmark runs: sizes and settings (the command-line options), the run config they make, and which
batches each round times."""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from transformers.trainer_pt_utils import get_length_grouped_indices

from config.loading import RunConfig
from config.arguments import CheckerArguments, DataArguments, ModelArguments, WeightedTrainingArguments


@dataclass
class Protocol:
    train_file: str = field(default="synthetic/mrpc_fewgen_ctrl_seed13/train.jsonl",
                            metadata={"help": "Generated training pairs, relative to the data root ($DIMP_DATA_ROOT)."})
    real_file: str = field(default="mrpc/train.jsonl", metadata={"help": "Real pairs the quality checker samples."})
    validation_file: str = field(default="mrpc/validation.jsonl", metadata={"help": "Real validation pairs."})
    model: str = field(default="sentence-transformers/all-MiniLM-L6-v2", metadata={"help": "Model and checker base."})
    train_examples: int = field(default=10_000, metadata={"help": "Generated pairs trained on (seeded subset)."})
    real_examples: int = field(default=300, metadata={"help": "Real pairs the quality checker is trained on (paper: 200-400)."})
    epochs: float = field(default=7.0, metadata={"help": "Training epochs of the protocol (the authors' MRPC configs: 7)."})
    checker_epochs: float = field(default=5.0, metadata={"help": "Epochs of each checker build (the project's default)."})
    batch_size: int = field(default=32, metadata={"help": "Batch size of training and of the checker builds."})
    max_length: int = field(default=128, metadata={"help": "Truncation length; the authors' style also pads to it."})
    rounds: int = field(default=6, metadata={"help": "Rounds; each times every training variant once, in serpentine order."})
    timed_steps: int = field(default=6, metadata={"help": "Timed training steps per variant and round (after 1 warm-up)."})
    diversity_build_steps: int = field(
        default=16, metadata={"help": "Steps of the diversity checker build actually run; the rest is estimated."})
    seed: int = field(default=42, metadata={"help": "Seed of data sampling, batch choice and model initialisation."})
    work_dir: str = field(default="benchmarks/work", metadata={"help": "Scratch folder (checkers, trainer output)."})
    output: str = field(default="benchmarks/results/phase_times.json", metadata={"help": "Where the results go."})

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_examples / self.batch_size)

    @property
    def training_steps(self) -> int:
        return math.ceil(self.steps_per_epoch * self.epochs)

    @property
    def diversity_build_total_steps(self) -> int:
        return math.ceil(self.steps_per_epoch * self.checker_epochs)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "steps_per_epoch": self.steps_per_epoch,
                "training_steps": self.training_steps, "diversity_build_total_steps": self.diversity_build_total_steps}

    def run_config(self) -> RunConfig:
        """The run config of the project's pipeline for this protocol (its data loading and checker options)."""
        work = Path(self.work_dir)
        return RunConfig(
            ModelArguments(model_name_or_path=self.model),
            DataArguments(train_file=self.train_file, validation_file=self.validation_file,
                          max_train_samples=self.train_examples, max_seq_length=self.max_length),
            # The diversity build's unrun steps are estimated at CE's step time: the same batch size, as by default.
            CheckerArguments(quality_checker_train_file=self.real_file, quality_checker_max_train_samples=self.real_examples,
                             checker_num_train_epochs=self.checker_epochs, checker_batch_size=self.batch_size),
            self.training_args(str(work / "checker-runs")),
        )

    def training_args(self, output_dir: str, problem_type: str = "single_label_classification",
                      max_steps: int = -1) -> WeightedTrainingArguments:
        return WeightedTrainingArguments(
            output_dir=output_dir, problem_type=problem_type, per_device_train_batch_size=self.batch_size,
            num_train_epochs=self.epochs, max_steps=max_steps,
            # A segment's dataset already holds the real sampler's batches, in its order.
            train_sampling_strategy="sequential" if max_steps > 0 else "group_by_length",
            eval_strategy="no", save_strategy="no", load_best_model_at_end=False, logging_strategy="no",
            report_to="none", disable_tqdm=True, seed=self.seed, use_cpu=True,
        )


def positive(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` above 0, refused in one line before any work (a count of 0 failed at the
    end of a long run)."""
    def read(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
        return value
    return read


def parse_protocol(argv: list[str] | None = None) -> Protocol:
    parser = argparse.ArgumentParser(description="Time each phase of CE, DIMP and IMP (and the authors' style).")
    for f in dataclasses.fields(Protocol):
        kind = type(f.default)
        parser.add_argument(f"--{f.name}", type=positive(kind) if kind in (int, float) and f.name != "seed" else kind,
                            default=f.default, help=f"{f.metadata['help']} Default: {f.default}.")
    return Protocol(**vars(parser.parse_args(argv)))


def plan_rounds(lengths: list[int], protocol: Protocol) -> list[list[list[int]]]:
    """For each round, the batches of its segments: first, as warm-up, the batch the trainer's group_by_length
    sampler puts first (it holds the longest example, so a segment meets a real run's memory peak), then
    timed_steps batches drawn at random from the other batches of that sampler's epoch over the whole training set:
    the timed steps are a fair sample of a real epoch's steps, and rounds time disjoint examples."""
    size = protocol.batch_size
    order = get_length_grouped_indices(lengths, size, generator=torch.Generator().manual_seed(protocol.seed))
    batches = [order[i:i + size] for i in range(0, len(order), size) if len(order[i:i + size]) == size]
    warm_up, rest = batches[0], batches[1:]
    if protocol.rounds * protocol.timed_steps > len(rest):
        raise ValueError(f"rounds x timed_steps = {protocol.rounds * protocol.timed_steps} batches, "
                         f"but an epoch has only {len(rest)} more full batches")
    picked = random.Random(protocol.seed).sample(rest, protocol.rounds * protocol.timed_steps)
    steps = protocol.timed_steps
    return [[warm_up, *picked[r * steps:(r + 1) * steps]] for r in range(protocol.rounds)]


def precompute_chunks(size: int, rounds: list[list[list[int]]], seed: int) -> list[list[int]]:
    """Split the training set into one chunk per round, each holding the examples its round trains on first seen,
    so the checker probabilities are scored one chunk per round, interleaved with the training they feed."""
    chunks, seen = [], set()
    for batches in rounds:
        chunks.append([i for batch in batches for i in batch if i not in seen])
        seen.update(chunks[-1])
    rest = [i for i in range(size) if i not in seen]
    random.Random(seed).shuffle(rest)
    share = math.ceil(len(rest) / len(rounds))
    return [sorted(chunk + rest[r * share:(r + 1) * share]) for r, chunk in enumerate(chunks)]
