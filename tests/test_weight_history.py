"""The per-epoch weights the WeightedTrainer records: the values the loss used, the same under gradient accumulation
and several processes."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from conftest import toy_records
from config.arguments import WeightedTrainingArguments
from trainer.fitting import make_trainer
from trainer.modeling import encode
from trainer.weight_history import Seen, WeightHistory
from trainer.weighted_trainer import EXAMPLE_INDEX, QUALITY_PROB

ROOT = Path(__file__).resolve().parent.parent


def indexed_train_set(tokenizer, n: int = 24) -> Dataset:
    data = Dataset.from_list(toy_records(n, seed=5))
    data = data.add_column(QUALITY_PROB, [0.2 + 0.7 * (i % 5) / 4 for i in range(n)])
    data = data.add_column(EXAMPLE_INDEX, list(range(n)))
    return encode(data, tokenizer, ["text"], 32, keep_columns=("label", QUALITY_PROB, EXAMPLE_INDEX))


def train_dimp(model_dir: Path, out: Path, batch_size: int, accumulation: int, extra: dict | None = None):
    """Two epochs of DIMP on 24 examples, in a fixed order, so that runs can be compared step by step."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    args = WeightedTrainingArguments(
        output_dir=str(out), problem_type="single_label_classification_dimp", per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation, learning_rate=1e-2, num_train_epochs=2,
        train_sampling_strategy="sequential", eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
        report_to="none", disable_tqdm=True, seed=0, use_cpu=True, optim="sgd", **(extra or {}),
    )
    trainer = make_trainer(AutoModelForSequenceClassification.from_pretrained(model_dir), tokenizer, args,
                           indexed_train_set(tokenizer), None)
    trainer.train()
    return trainer


def _history(trainer) -> dict[int, dict[str, np.ndarray]]:
    return {epoch: seen._asdict() for epoch, seen in trainer.weight_history.epochs.items()}


def _assert_same_history(a: dict, b: dict):
    assert sorted(a) == sorted(b) == [1, 2]
    for epoch in a:
        assert a[epoch]["index"].tolist() == b[epoch]["index"].tolist() == list(range(24))
        for name in ("model_prob", "weight"):
            np.testing.assert_allclose(a[epoch][name], b[epoch][name], rtol=1e-4, err_msg=f"{name}, epoch {epoch}")


def test_recorded_weights_are_the_losss_and_survive_gradient_accumulation(tiny_model_dir, tmp_path):
    one = train_dimp(tiny_model_dir, tmp_path / "a", batch_size=8, accumulation=1)
    two = train_dimp(tiny_model_dir, tmp_path / "b", batch_size=4, accumulation=2)
    _assert_same_history(_history(one), _history(two))
    quality = np.array([0.2 + 0.7 * (i % 5) / 4 for i in range(24)])
    for seen in _history(one).values():
        np.testing.assert_allclose(seen["weight"], quality / seen["model_prob"], rtol=1e-5)
    # The model learns, so the second epoch's probabilities are not the first's: each epoch is recorded anew.
    assert not np.allclose(_history(one)[1]["model_prob"], _history(one)[2]["model_prob"])


@pytest.mark.parametrize("steps", [1, 2])  # a third and two thirds of the 3 steps of an epoch
def test_a_run_stopped_by_max_steps_mid_epoch_records_that_epoch_as_its_first(tiny_model_dir, tmp_path, steps):
    trainer = train_dimp(tiny_model_dir, tmp_path / "a", batch_size=8, accumulation=1, extra={"max_steps": steps})
    assert trainer.state.epoch == pytest.approx(steps / 3)
    assert {epoch: seen["index"].tolist() for epoch, seen in _history(trainer).items()} == {1: list(range(8 * steps))}


def test_values_recorded_in_half_precision_are_kept_as_float32():
    """Under bf16 the loss's probabilities and weights are bf16 tensors, which numpy cannot hold."""
    history = WeightHistory()
    history.record(torch.tensor([1, 0]), torch.tensor([0.25, 0.5], dtype=torch.bfloat16),
                   torch.tensor([2.0, 1.0], dtype=torch.bfloat16))
    history.on_epoch_end(SimpleNamespace(process_index=0), SimpleNamespace(epoch=1.0), None)
    seen = history.epochs[1]
    assert (seen.index.tolist(), seen.model_prob.tolist(), seen.weight.tolist()) == ([0, 1], [0.5, 0.25], [1.0, 2.0])
    assert seen.model_prob.dtype == seen.weight.dtype == np.float32


def test_an_epoch_is_named_by_the_epochs_done_and_one_that_recorded_nothing_gets_no_entry():
    """state.epoch may end an epoch a rounding error above its number (2.0000000000000004): that is epoch 2. An epoch
    in which the loss recorded nothing would be an empty column of weights.csv."""
    history = WeightHistory()
    history.on_epoch_end(SimpleNamespace(process_index=0), SimpleNamespace(epoch=1.0), None)
    history.record(torch.tensor([0]), torch.tensor([0.5]), torch.tensor([1.0]))
    history.on_epoch_end(SimpleNamespace(process_index=0), SimpleNamespace(epoch=2.0000000000000004), None)
    assert list(history.epochs) == [2]


def test_an_example_gathered_twice_keeps_its_first_values():
    # Several processes pad the last batch with examples seen already.
    seen = Seen(np.array([3, 1, 3, 0]), np.array([0.3, 0.1, 0.9, 0.0]), np.array([1.3, 1.1, 1.9, 1.0]))
    first = seen.first_of_each()
    assert (first.index.tolist(), first.model_prob.tolist(), first.weight.tolist()) == \
        ([0, 1, 3], [0.0, 0.1, 0.3], [1.0, 1.1, 1.3])


def test_a_checkpoint_without_the_history_resumes_and_says_what_weights_csv_will_miss(tmp_path, caplog):
    """A checkpoint from before the history was saved in checkpoints (or whose file was removed)."""
    history = WeightHistory()
    with caplog.at_level(logging.WARNING, logger="trainer.weight_history"):
        history.load(tmp_path, is_main=True)
    assert history.epochs == {} and f"{tmp_path}: no weight_history.npz, so weights.csv will miss the per-epoch " \
        "weights from before this checkpoint" in caplog.text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_two_processes_record_what_one_does(tiny_model_dir, tmp_path):
    single = train_dimp(tiny_model_dir, tmp_path / "single", batch_size=8, accumulation=1)
    out = tmp_path / "history.npz"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        ["torchrun", "--standalone", "--nproc_per_node", "2", str(ROOT / "tests" / "weight_history_worker.py"),
         str(tiny_model_dir), str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out) as saved:
        gathered = {e: {name: saved[f"epoch{e}_{name}"] for name in ("index", "model_prob", "weight")} for e in (1, 2)}
    _assert_same_history(_history(single), gathered)
