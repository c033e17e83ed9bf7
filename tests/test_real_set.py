"""The real set joined to the training data (real_set_in_training): its examples train with their own weight,
are never filtered, and stay out of the diversity checker."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import run_with, weights_rows
from config.loading import ConfigError, load_config
from app.pipeline import score


def test_real_examples_join_training_with_their_own_weight(tiny_config, tmp_path):
    metrics = run_with(tiny_config, tmp_path, problem_type="single_label_classification_dimp",
                       real_set_in_training=True, real_set_weight=2.5)
    assert metrics["train_samples"] == 64 + 32
    rows = weights_rows(tmp_path / "out")
    real = [r for r in rows if r["noise"] == "real"]
    generated = [r for r in rows if r["noise"] == "original"]
    assert len(real) == 32 and len(generated) == 64
    assert {float(r["weight_epoch1"]) for r in real} == {2.5}
    # DIMP's own weight P'/P on the generated examples, not the real set's constant
    assert len({round(float(r["weight_epoch1"]), 4) for r in generated}) > 10


def test_the_diversity_checker_trains_on_the_generated_data_only(tiny_config, tmp_path):
    run_with(tiny_config, tmp_path, problem_type="single_label_classification_imp", real_set_in_training=True)
    recipe = json.loads((tmp_path / "checkers" / "diversity" / "checker_recipe.json").read_text())
    assert recipe["train_examples"] == 64
    # the card names its data as the config does, not by this machine's folders
    assert "fine-tuned with CE on 64 examples of `toy/train.jsonl`" in (tmp_path / "out" / "README.md").read_text()


def test_filtering_never_drops_a_real_example(tiny_config, tmp_path):
    metrics = run_with(tiny_config, tmp_path, real_set_in_training=True, filter_keep_top_fraction=0.25)
    rows = weights_rows(tmp_path / "out")
    assert all(r["kept"] == "True" for r in rows if r["noise"] == "real")
    assert metrics["train_filtered_out"] == 64 - 16
    assert metrics["train_samples"] == 16 + 32


def test_the_weights_report_ranks_only_the_examples_the_checker_weighs(tiny_config, tmp_path):
    run_with(tiny_config, tmp_path, problem_type="single_label_classification_dimp", real_set_in_training=True)
    out = tmp_path / "out"
    real = [r for r in weights_rows(out) if r["noise"] == "real"]
    # P' of a real example is kept, but it was not its weight: the fixed real_set_weight was
    assert len(real) == 32 and all(r["static_weight"] == "" and r["quality_prob"] != "" for r in real)
    assert {r["weight_epoch1"] for r in real} == {"1"}
    report = (out / "weights_report.md").read_text(encoding="utf-8")
    assert "on 64 training examples from `toy/train.jsonl` and the 32 real examples of `toy/real.jsonl`" in report
    assert "The 32 real examples joined to the training data (noise `real`) train at the fixed weight 1" in report
    assert "| **all** | 64 |" in report
    examples = report.split("## The 20 lowest-weighted examples", 1)[1]
    assert examples.count("| original |") == 40 and "| real |" not in examples
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| P′ (the quality checker's factor) | 64 |" in card
    assert "Labels of the training data and the real examples joined to it: `negative` " in card


def test_scoring_never_filters_a_real_example_either(tiny_config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "real_set_in_training": True, "filter_keep_top_fraction": 0.25}))
    score(load_config(str(path)))
    rows = weights_rows(tmp_path / "out")
    kept = {kind: sum(r["kept"] == "True" for r in rows if r["noise"] == kind) for kind in ("original", "real")}
    assert kept == {"original": 16, "real": 32}  # the fraction counts the generated examples only
    # weighed as the run weighs them: the real examples at their fixed weight, not ranked by the checker's
    assert all(r["static_weight"] == "" for r in rows if r["noise"] == "real")
    assert ("would keep **16 of 64** training examples (the 32 real examples joined to them are never dropped)"
            in (tmp_path / "out" / "weights_report.md").read_text(encoding="utf-8"))


def test_a_fine_tuned_run_can_be_resumed_and_overwritten(tiny_config, tmp_path):
    """The fine-tuning's checkpoints lie in the output folder; a rerun there is not refused as a foreign folder."""
    options = dict(problem_type="single_label_classification_dimp", num_train_epochs=1, real_set_finetune_epochs=1,
                   save_strategy="epoch")
    first = run_with(tiny_config, tmp_path, **options)
    out = tmp_path / "out"
    for name in ("all_results.json", "test_results.json", "README.md", "model.safetensors"):  # killed while fine-tuning
        (out / name).unlink()
    resumed = run_with(tiny_config, tmp_path, **options, resume_from_checkpoint="last")
    assert {k: resumed[k] for k in ("eval_loss", "test_loss")} == {k: first[k] for k in ("eval_loss", "test_loss")}
    # the weighted phase's mean loss, restored from its last checkpoint: the resume trains none of its steps again
    assert resumed["train_loss"] == pytest.approx(first["train_loss"], rel=1e-6)
    card = (out / "README.md").read_text()
    assert "| 2.0   | 12   |" in card  # the fine-tuning's epoch in the card's table
    assert "resume_from_checkpoint" not in card  # its settings train the model anew
    run_with(tiny_config, tmp_path, **options, overwrite_output_dir=True)


def test_real_set_needs_a_real_set(tiny_config, tmp_path):
    config = {k: v for k, v in tiny_config.items() if k != "quality_checker_train_file"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, "real_set_in_training": True}))
    with pytest.raises(ConfigError, match="real_set_in_training: needs quality_checker_train_file"):
        load_config(str(path))


def test_fine_tuning_on_the_real_set_continues_the_run(tiny_config, tmp_path, caplog):
    metrics = run_with(tiny_config, tmp_path, problem_type="single_label_classification_dimp", num_train_epochs=2,
                       real_set_finetune_epochs=2, save_validation_predictions=True, track_test_each_epoch=True,
                       save_strategy="epoch", load_best_model_at_end=True, real_set_finetune_learning_rate=5e-4)
    out = tmp_path / "out"
    checkpoints = sorted((out / "real_set_finetune").glob("checkpoint-*"))
    assert checkpoints
    for checkpoint in checkpoints:  # the second phase at its own learning rate, with CE
        tuned_args = torch.load(checkpoint / "training_args.bin", weights_only=False)
        assert (tuned_args.learning_rate, tuned_args.problem_type) == (5e-4, "single_label_classification")
    state = json.loads((out / "trainer_state.json").read_text())
    epochs = [h["epoch"] for h in state["log_history"] if "eval_validation_accuracy" in h]
    assert epochs == [1.0, 2.0, 3.0, 4.0]
    assert metrics["real_set_finetune_samples"] == 32
    # every record counts both phases' epochs and steps: the state, the results files and the final evaluation
    assert (state["epoch"], state["global_step"]) == (4.0, state["log_history"][-1]["step"])
    assert state["global_step"] == 2 * 8 + 2 * 4 and state["max_steps"] == state["global_step"]
    results = json.loads((out / "all_results.json").read_text())
    assert results["epoch"] == json.loads((out / "eval_results.json").read_text())["epoch"] == 4.0
    assert 0 < results["real_set_finetune_train_loss"] != results["train_loss"]
    evaluations = [h for h in state["log_history"] if "eval_validation_accuracy" in h]
    weighted, tuned = evaluations[:2], evaluations[2:]
    # each phase's first of equals, as the Trainer keeps it
    best = [max(phase, key=lambda h: h["eval_validation_accuracy"])["epoch"] for phase in (weighted, tuned)]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"Weighted training's model was the checkpoint of epoch {best[0]:g}, the best validation `accuracy`" in card
    assert ("Then 2 epoch(s) of CE on the real set fine-tuned that model (`real_set_finetune_epochs`): the model is "
            f"the checkpoint of epoch {best[1]:g}, the best validation `accuracy`") in card
    # the hyperparameters the card lists are the fine-tuning's
    assert ("were used during the fine-tuning on the real set (`real_set_finetune_epochs`; the weighted training's are "
            "in `resolved_config.json`):\n- learning_rate: 0.0005") in card
    assert [h["step"] for h in tuned] == [20, 24]  # numbered after the weighted training's 16 steps
    assert "fine-tuning on the real set lowered" not in caplog.text  # each phase kept a 0.5
    with np.load(out / "validation_predictions.npz") as saved:
        assert set(saved.files) == {"epoch1", "epoch2", "epoch3", "epoch4", "final", "labels"}
        assert (saved["final"].argmax(1) == saved["labels"]).mean() == pytest.approx(metrics["eval_accuracy"])
    assert (out / "model.safetensors").is_file() and (out / "weights.csv").is_file()


def test_the_accuracy_a_phase_keeps_is_its_best_epochs_or_its_last():
    from trainer.fitting import _kept_accuracy

    history = [{"step": 8, "eval_accuracy": 0.7}, {"step": 16, "eval_accuracy": 0.6}, {"step": 16, "train_loss": 1}]
    phase = lambda **args: SimpleNamespace(  # noqa: E731
        args=SimpleNamespace(**{"average_checkpoints": False, "load_best_model_at_end": False, **args}),
        state=SimpleNamespace(log_history=history, best_global_step=8))
    assert _kept_accuracy(phase()) == 0.6 and _kept_accuracy(phase(load_best_model_at_end=True)) == 0.7
    assert _kept_accuracy(phase(average_checkpoints=True)) is None


def test_fine_tuning_that_lowers_the_kept_accuracy_is_warned_of(tiny_config, tmp_path, monkeypatch, caplog):
    import trainer.fitting

    kept = iter([0.75, 0.5])  # the weighted training's model, then the fine-tuned one
    monkeypatch.setattr(trainer.fitting, "_kept_accuracy", lambda trainer: next(kept))
    with caplog.at_level(logging.WARNING, logger="trainer.fitting"):
        run_with(tiny_config, tmp_path, problem_type="single_label_classification_dimp", num_train_epochs=1,
                 real_set_finetune_epochs=1)
    assert ("real_set_finetune_epochs: fine-tuning on the real set lowered the kept model's validation accuracy from "
            "0.7500 to 0.5000; the model is the fine-tuned one (real_set_finetune_epochs 0 keeps the weighted "
            "training's)") in caplog.text
