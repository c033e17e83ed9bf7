"""Output folders: what overwrite_output_dir may replace, the grid's config inside its cell's folder, resuming past
a damaged checkpoint, and which settings a resume must keep. The refusals themselves are cases of
tests/test_bad_inputs.py."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.cli import main
from app.output_dir import (OWN_FILES, check_output_dir, claim_output_dir, is_own, refuse_other_recipe,
                             remove_earlier_results)
from config.loading import ConfigError, load_config
from trainer.fitting import FINETUNE_DIR


def _write(path: Path, config: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return str(path)


def _resolved(config: dict, tmp_path: Path) -> dict:
    """The settings as resolved_config.json records them."""
    return json.loads(json.dumps(load_config(_write(tmp_path / "c.json", config)).to_dict(), default=str))


def test_grid_cell_config_inside_its_output_dir_runs_again_with_overwrite(tiny_config, tmp_path):
    """experiments/grid.py writes cell_config.json and run.log into the cell's folder, then runs run.py there with
    overwrite_output_dir; a second run of the same cell replaces the first one's results (here with fewer examples)."""
    work = tmp_path / "work" / "cell"
    config = _write(work / "cell_config.json", {**tiny_config, "output_dir": str(work), "overwrite_output_dir": True,
                                                "num_train_epochs": 1})
    (work / "run.log").write_text("the grid's log\n")
    for name in ("Thumbs.db", ".DS_Store"):  # what a file browser leaves
        (work / name).write_bytes(b"\0")
    assert main([config]) == 0
    assert json.loads((work / "all_results.json").read_text())["train_samples"] == 64
    assert main([config, "--max_train_samples", "16"]) == 0
    assert json.loads((work / "all_results.json").read_text())["train_samples"] == 16
    assert (work / "cell_config.json").read_text() == Path(config).read_text()
    assert (work / "run.log").read_text() == "the grid's log\n"
    assert all(is_own(p.name) or p.name in ("cell_config.json", "Thumbs.db", ".DS_Store") for p in work.iterdir())


def test_a_run_started_over_leaves_none_of_the_earlier_runs_results(tiny_config, tmp_path):
    """A DIMP run with a test split, then a CE run without one into the same folder (overwrite_output_dir): the
    folder holds the CE run's results only, not the DIMP run's test accuracy or weights beside the CE model."""
    config = _write(tmp_path / "c.json", {**tiny_config, "problem_type": "single_label_classification_dimp",
                                          "overwrite_output_dir": True, "num_train_epochs": 1,
                                          "save_validation_predictions": True})
    assert main([config]) == 0
    out = tmp_path / "out"
    assert {"test_results.json", "weights.csv", "validation_predictions.npz"} <= {p.name for p in out.iterdir()}
    assert main([config, "--problem_type", "single_label_classification", "--test_file", "null",
                 "--save_validation_predictions", "false"]) == 0
    left = {p.name for p in out.iterdir()}
    assert not {"test_results.json", "weights.csv", "weights_report.md", "validation_predictions.npz"} & left
    assert not any(key.startswith("test_") for key in json.loads((out / "all_results.json").read_text()))


def test_a_run_started_over_resumes_from_its_own_checkpoint_not_the_earlier_runs(tiny_config, tmp_path, caplog):
    """resume_from_checkpoint true takes the highest-numbered checkpoint: the earlier run's checkpoint-32 would be
    resumed in place of this run's checkpoint-8, giving its model as this run's."""
    out = tmp_path / "out"
    config = _write(tmp_path / "c.json", {**tiny_config, "overwrite_output_dir": True, "save_strategy": "epoch",
                                          "save_total_limit": None})
    assert main([config, "--per_device_train_batch_size", "4"]) == 0  # 16 steps an epoch
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-16", "checkpoint-32"]
    assert main([config, "--num_train_epochs", "1"]) == 0  # 8
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-8"]
    trained = json.loads((out / "all_results.json").read_text())
    with caplog.at_level(logging.WARNING):
        assert main([config, "--num_train_epochs", "1", "--resume_from_checkpoint", "true"]) == 0
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 8
    # checkpoint-8 is the run's end: nothing is trained again, said so, and the mean loss stays the run's
    assert f"resume_from_checkpoint: {out / 'checkpoint-8'} ends the training it resumes" in caplog.text
    assert json.loads((out / "all_results.json").read_text())["train_loss"] == pytest.approx(trained["train_loss"])


def test_a_name_is_a_runs_own_only_as_the_run_spells_it():
    """A user's readme.md or Config.JSON is theirs, and keeps the run out of the folder: overwrite_output_dir must
    not replace it (on a file system blind to case, the run's README.md would)."""
    assert is_own("README.md") and is_own("config.json") and is_own("checkpoint-8")
    assert not any(is_own(name) for name in ("readme.md", "Config.JSON", "Checkpoint-8", "MODEL.safetensors"))


def test_everything_a_run_writes_is_its_own(tiny_config, tmp_path):
    """overwrite_output_dir accepts a folder a DIMP run (model, checkpoints, weights report, predictions) wrote."""
    out = tmp_path / "out"
    config = _write(tmp_path / "c.json", {**tiny_config, "problem_type": "single_label_classification_dimp",
                                          "num_train_epochs": 1, "save_strategy": "epoch", "save_total_limit": 2,
                                          "save_validation_predictions": True, "overwrite_output_dir": True})
    assert main([config]) == 0
    foreign = [p.name for p in out.iterdir() if not is_own(p.name)]
    assert not foreign, f"{foreign} are missing from app/output_dir.py OWN_FILES {OWN_FILES}"
    (out / "runs" / "Dec06_10-00-00_host").mkdir(parents=True)  # TensorBoard's logs, with report_to tensorboard
    assert main([config]) == 0


@pytest.mark.parametrize("key, extra", [
    ("train_file", {}), ("validation_file", {}), ("test_file", {}), ("augmented_train_file", {}),
    ("split_file", {"train_file": None, "validation_file": None, "test_file": None}),
    ("noise_unrelated_file", {"noise_unrelated_ratio": 0.1}), ("quality_checker_train_file", {}),
    ("quality_checker_validation_file", {}),
    ("wandb_dataset", {"train_file": None, "validation_file": None, "test_file": None}),
    ("wandb_augmented_dataset", {}), ("wandb_generalization_dataset", {}),
])
def test_an_output_dir_holding_any_input_of_the_run_is_refused(tiny_config, toy_data_root, tmp_path, monkeypatch, key,
                                                               extra):
    """Every option naming data the run reads, a file or a W&B artifact's folder: the run must not write among it."""
    out = tmp_path / "out"
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(out / "artifacts"))
    if key.endswith("_file"):
        value = str(out / "data.jsonl")
        (out / "data.jsonl").parent.mkdir(parents=True)
        shutil.copy(toy_data_root / "toy" / "train.jsonl", value)
    else:
        value = "me/data/toy:v0"
    config = {**tiny_config, "problem_type": "single_label_classification_imp", **extra, key: value}
    cfg = load_config(_write(tmp_path / "c.json", {k: v for k, v in config.items() if v is not None}))
    with pytest.raises(ConfigError, match=rf"^output_dir: {out} holds (the )?{key} "):
        check_output_dir(cfg)


@pytest.mark.parametrize("command", ["run", "score"])
def test_an_output_dir_through_a_broken_link_is_refused_before_any_work(tiny_config, tmp_path, command):
    """A symbolic link to a folder not made yet: the run read its data and scored its checkers, then ended in a
    traceback where it first wrote there (mkdir cannot make a folder through a broken link)."""
    (tmp_path / "scratch").symlink_to(tmp_path / "disk" / "not-yet")
    cfg = load_config(_write(tmp_path / "c.json", {**tiny_config, "output_dir": str(tmp_path / "scratch" / "run")}))
    with pytest.raises(ConfigError, match=r"^output_dir: .*scratch is a symbolic link to .*disk/not-yet, which does "
                                          r"not exist; create its target, or give another folder$"):
        check_output_dir(cfg, command)


def test_files_this_project_did_not_write_are_named_three_at_most(tiny_config, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("e.txt", "a.txt", "d.txt", "c.txt", "b.txt", ".DS_Store", "all_results.json"):
        (out / name).write_text("mine")
    cfg = load_config(_write(tmp_path / "c.json", {**tiny_config, "overwrite_output_dir": True}))
    with pytest.raises(ConfigError, match=r"did not write \(a.txt, b.txt, c.txt and 2 more\); choose a new"):
        check_output_dir(cfg)


def test_a_resume_into_its_own_checkpoints_folder_minds_no_file_put_beside_them(tiny_config, tmp_path):
    """predict.py's output saved into the run's folder blocked its resume; a W&B offline folder, which a run with
    output_dir . writes there, blocked the run's own rerun and resume. Where no checkpoint says it is a run's folder,
    another file is still refused."""
    out = Path(tiny_config["output_dir"])
    (out / "checkpoint-4").mkdir(parents=True)
    (out / "predictions.csv").write_text("text,predicted_label\n")
    (out / "wandb").mkdir()
    resume = load_config(_write(tmp_path / "c.json", tiny_config),
                         ["--resume_from_checkpoint", str(out / "checkpoint-4")])
    with pytest.raises(ConfigError, match=r"checkpoint-4: trainer_state.json is missing"):  # past the foreign check
        check_output_dir(resume)
    shutil.rmtree(out / "checkpoint-4")
    with pytest.raises(ConfigError, match=r"did not write \(predictions.csv\); choose a new"):  # wandb is the run's
        check_output_dir(load_config(_write(tmp_path / "c.json", {**tiny_config, "overwrite_output_dir": True})))


def test_a_checker_folder_in_output_dir_is_refused_only_where_the_run_reads_it(tiny_config, tmp_path):
    """CE reads no checker, so the checker folders its config names (as the authors' configs all do) are no inputs."""
    out = tmp_path / "out"
    config = {**tiny_config, "quality_checker_model": str(out / "quality"), "diversity_checker_model": str(out / "q")}
    assert check_output_dir(load_config(_write(tmp_path / "ce.json", config))) is None
    dimp = load_config(_write(tmp_path / "dimp.json", {**config, "problem_type": "single_label_classification_dimp"}))
    with pytest.raises(ConfigError, match=rf"^output_dir: {out} holds the quality_checker_model folder"):
        check_output_dir(dimp)


def test_an_output_dir_holding_only_checkpoints_is_not_trained_into_unasked(tiny_config, tmp_path):
    """A later resume_from_checkpoint last would take the higher-numbered one, of the run before."""
    (tmp_path / "out" / "checkpoint-3").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"already holds results \(checkpoint-3\); choose another folder, set "
                                          r"overwrite_output_dir true, or resume_from_checkpoint last$"):
        check_output_dir(load_config(_write(tmp_path / "c.json", tiny_config)))


def test_a_run_started_over_removes_a_linked_checkpoint_and_not_what_it_links_to(tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "model.safetensors").write_bytes(b"weights")
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint-2").symlink_to(kept, target_is_directory=True)
    remove_earlier_results(out)
    assert not os.path.lexists(out / "checkpoint-2") and (kept / "model.safetensors").read_bytes() == b"weights"


def test_a_run_started_over_removes_every_kind_of_earlier_result_and_checkpoint_and_nothing_else(tmp_path):
    """What only some configurations write (a weighted loss's report and plots, validation predictions, the real-set
    fine-tuning's checkpoints) goes with the rest; the model's files stay, for the new run to write over."""
    out = tmp_path / "out"
    for name in ("eval_results.json", "weights.csv", "weights_report.md", "weights_by_noise.png",
                 "validation_predictions.npz", "checkpoint-4/model.safetensors",
                 f"{FINETUNE_DIR}/checkpoint-2/model.safetensors", "model.safetensors", "config.json"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"earlier")
    remove_earlier_results(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


def test_score_py_writes_over_its_earlier_weights_only_when_asked(tiny_config, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "weights.csv").write_text("index,weight\n")
    dimp = {**tiny_config, "problem_type": "single_label_classification_dimp"}
    with pytest.raises(ConfigError, match=r"already holds weights.csv; choose another folder or set overwrite_"):
        check_output_dir(load_config(_write(tmp_path / "c.json", dimp)), "score")
    again = load_config(_write(tmp_path / "c.json", {**dimp, "overwrite_output_dir": True}))
    assert check_output_dir(again, "score") is None


def test_score_py_never_writes_into_a_trained_runs_folder(tiny_config, tmp_path):
    """Its report would replace the run's weights.csv and stand beside that run's card and results as if its."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "all_results.json").write_text("{}")
    dimp = {**tiny_config, "problem_type": "single_label_classification_dimp", "overwrite_output_dir": True}
    with pytest.raises(ConfigError, match=r"holds a trained run \(all_results.json\); score.py writes its report "
                                          r"into a folder of its own, even with overwrite_output_dir"):
        check_output_dir(load_config(_write(tmp_path / "c.json", dimp)), "score")


def test_training_into_score_py_s_folder_asks_before_removing_its_report(tiny_config, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "weights.csv").write_text("index,weight\n")
    with pytest.raises(ConfigError, match=r"already holds results \(weights.csv\); choose another folder, set "
                                          r"overwrite_output_dir true$"):  # no checkpoint to resume from
        check_output_dir(load_config(_write(tmp_path / "c.json", tiny_config)))
    again = load_config(_write(tmp_path / "c.json", {**tiny_config, "overwrite_output_dir": True}))
    assert check_output_dir(again) is None


def test_a_hub_id_is_no_folder_the_run_reads(tiny_config, tmp_path, monkeypatch):
    """"someone/model" is downloaded, not read from ./someone/model: an output_dir ./someone holds none of it."""
    monkeypatch.chdir(tmp_path)
    config = {**tiny_config, "model_name_or_path": "someone/model", "output_dir": "someone"}
    assert check_output_dir(load_config(_write(tmp_path / "c.json", config))) is None


def test_resume_skips_a_damaged_checkpoint_for_the_one_before(tiny_config, tmp_path, caplog):
    config = {**tiny_config, "save_strategy": "steps", "save_steps": 2, "save_total_limit": 3, "max_steps": 4,
              "eval_strategy": "no", "logging_strategy": "steps", "logging_steps": 1}
    path = _write(tmp_path / "c.json", config)
    assert main([path]) == 0
    out = Path(config["output_dir"])
    newest = out / "checkpoint-4" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])
    (out / "checkpoint-²").mkdir()  # not a step number, though str.isdigit() says it is
    path = _write(tmp_path / "c.json", {**config, "max_steps": 6, "overwrite_output_dir": True})
    with caplog.at_level(logging.INFO):
        assert main([path, "--resume_from_checkpoint", "last"]) == 0
    assert "skipping" in caplog.text and "checkpoint-4: model.safetensors is truncated" in caplog.text
    assert f"Output: {out.resolve()}, resuming from {out / 'checkpoint-2'}" in caplog.text  # the log says which
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    steps = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert steps == [1, 2, 3, 4, 5, 6]  # steps 1-2 from checkpoint-2, then 3 to 6 trained again


def test_a_checkpoint_is_resumed_only_by_as_many_processes_as_saved_it(tiny_config, tmp_path, monkeypatch):
    """Two processes halve each one's share of an epoch's steps: resumed by another number, the schedule trained part
    of an epoch again or skipped one, in silence. The Trainer's RNG states (one per process) say how many saved it."""
    config = {**tiny_config, "save_strategy": "steps", "save_steps": 2, "max_steps": 2, "eval_strategy": "no"}
    path = _write(tmp_path / "c.json", config)
    assert main([path]) == 0
    checkpoint = Path(config["output_dir"]) / "checkpoint-2"
    resumed = load_config(path, ["--resume_from_checkpoint", "last"])
    assert check_output_dir(resumed) == str(checkpoint)
    monkeypatch.setattr("app.output_dir.PartialState", lambda: SimpleNamespace(num_processes=2))
    with pytest.raises(ConfigError, match=r"^resume_from_checkpoint: .*checkpoint-2 was saved by 1 process and this "
                                          r"run has 2; a resume takes as many as saved it \(their batches and RNG "
                                          r"states\), so resume it in one process \(without torchrun\), or train "
                                          r"afresh$"):
        check_output_dir(resumed)
    state = checkpoint / "rng_state.pth"  # as two processes save them
    shutil.copy(state, checkpoint / "rng_state_1.pth")
    state.rename(checkpoint / "rng_state_0.pth")
    assert check_output_dir(load_config(path, ["--resume_from_checkpoint", str(checkpoint)])) == str(checkpoint)
    monkeypatch.setattr("app.output_dir.PartialState", lambda: SimpleNamespace(num_processes=1))
    with pytest.raises(ConfigError, match=r"was saved by 2 processes and this run has 1; a resume takes as many as "
                                          r"saved it .*, so resume it with 2 processes \(torchrun --nproc_per_node "
                                          r"2\)"):
        check_output_dir(resumed)


@pytest.mark.parametrize("marker, beside", [("resolved_config.json", "trainer_state.json"),  # a run's
                                            ("resolved_config.json", "checkpoint-3/"),  # one still training
                                            ("weights_report.md", "weights.csv")])  # score.py's
def test_an_output_dir_inside_another_runs_folder_is_refused(tiny_config, tmp_path, marker, beside):
    """Its results went beside the other run's, and a rerun of that one with overwrite_output_dir was then refused:
    its folder held files this project did not write (the inner run's). A resolved_config.json alone, copied out of
    a run to rerun it, marks no run."""
    run_folder = Path(tiny_config["output_dir"])
    run_folder.mkdir()
    (run_folder / marker).write_text("{}")
    inner = run_folder / "sub" / "deeper"
    assert check_output_dir(load_config(_write(tmp_path / "c.json", {**tiny_config, "output_dir": str(inner)}))) \
        is None
    if beside.endswith("/"):
        (run_folder / beside).mkdir()
    else:
        (run_folder / beside).write_text("{}")
    with pytest.raises(ConfigError, match=rf"^output_dir: {inner} is inside {run_folder}, the folder of another run "
                                          rf"\(it holds {marker}\); give a folder outside it$"):
        check_output_dir(load_config(_write(tmp_path / "c.json", {**tiny_config, "output_dir": str(inner)})))
    (run_folder / marker).unlink()  # a folder that merely holds others is no run's
    assert check_output_dir(load_config(_write(tmp_path / "c.json", {**tiny_config, "output_dir": str(inner)}))) \
        is None


def test_the_last_checkpoint_is_that_of_the_highest_step(tiny_config, tmp_path):
    config = {**tiny_config, "save_strategy": "steps", "save_steps": 2, "save_total_limit": 2, "max_steps": 10,
              "eval_strategy": "no"}
    assert main([_write(tmp_path / "c.json", config)]) == 0
    out = Path(config["output_dir"])
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-8"]
    assert check_output_dir(load_config(_write(tmp_path / "c.json", config), ["--resume_from_checkpoint", "last"])) \
        == str(out / "checkpoint-10")  # not checkpoint-8, last by name


# The project's own options that say what is reported or where things are kept: a resume may change them. (Not
# early stopping's: a resume restores its count with the checkpoint's options.)
ONLY_REPORTING = ("test_file", "max_predict_samples", "wandb_generalization_dataset", "track_test_each_epoch",
                  "save_validation_predictions", "overwrite_output_dir", "pad_to_max_length", "data_work_dir",
                  "cache_dir", "trust_remote_code", "allow_pickle_checkpoints", "ignore_mismatched_sizes", "name",
                  "save_model")


def test_resume_compares_every_option_of_its_own_but_those_that_only_report(tiny_config, tmp_path):
    """The recipe a resume must keep is every option of this project's own but those listed as resumable, so that a
    new option is compared unless listed. text_column_names, once missing from a hand-kept list, is compared as
    resolved (the columns read); the test file may change. The settings compared are those of the run that wrote
    the checkpoint, in its folder, which is not output_dir when another run's checkpoint is named."""
    resolved = {**_resolved(tiny_config, tmp_path), "text_column_names": "text"}
    for run in (Path(tiny_config["output_dir"]), tmp_path / "another_run"):
        record = run / "resolved_config.json"
        _write(record, {**resolved, "text_column_names": "s2,s1", "test_file": "toy/other.jsonl"})
        with pytest.raises(ConfigError, match=rf'the run in .*{run.name} started with other settings: '
                                              r'text_column_names \("s2,s1"; this run "text"\); resume'):
            refuse_other_recipe(str(run / "checkpoint-4"), resolved)
        _write(record, {**resolved, "test_file": "toy/other.jsonl"})
        refuse_other_recipe(str(run / "checkpoint-4"), resolved)
        _write(record, {**resolved, **{key: "changed" for key in ONLY_REPORTING}})
        refuse_other_recipe(str(run / "checkpoint-4"), resolved)
        # written before checker_calibration existed: an option the record lacks is not compared
        _write(record, {key: value for key, value in resolved.items() if key != "checker_calibration"})
        refuse_other_recipe(str(run / "checkpoint-4"), resolved)
        record.write_text('{"learning_rate": 0.1, ')  # cut short (the run stopped writing it): nothing to compare
        refuse_other_recipe(str(run / "checkpoint-4"), resolved)


def test_resume_takes_a_file_or_folder_spelt_otherwise_or_moved_for_the_same(tiny_config, data_root_env, tmp_path,
                                                                               monkeypatch, caplog):
    """Where things are kept may change: ./x, an absolute path, a checker cache moved elsewhere were refused as other
    settings. Another file or folder that is still there is refused still."""
    monkeypatch.chdir(tmp_path)
    resolved = _resolved(tiny_config, tmp_path)
    run = Path(tiny_config["output_dir"])
    (tmp_path / "checkers" / "quality").mkdir(parents=True)
    (tmp_path / "moved" / "quality").mkdir(parents=True)
    absolute = str(data_root_env / "toy" / "train.jsonl")
    _write(run / "resolved_config.json", {**resolved, "quality_checker_model": "./checkers/quality"})
    refuse_other_recipe(str(run / "checkpoint-4"), {**resolved, "train_file": absolute,
                                                    "quality_checker_model": "checkers//quality"})
    assert "not found from here" not in caplog.text
    _write(run / "resolved_config.json", {**resolved, "quality_checker_model": "./gone/quality"})
    with caplog.at_level(logging.WARNING):
        refuse_other_recipe(str(run / "checkpoint-4"), {**resolved, "quality_checker_model": "moved/quality"})
    assert ("quality_checker_model ./gone/quality, which the run started with, is not found from here; resuming with "
            "moved/quality, taken to be the same folder moved") in caplog.text
    _write(run / "resolved_config.json", {**resolved, "quality_checker_model": "checkers/quality"})
    with pytest.raises(ConfigError, match=r'quality_checker_model \("checkers/quality"; this run "moved/quality"\)'):
        refuse_other_recipe(str(run / "checkpoint-4"), {**resolved, "quality_checker_model": "moved/quality"})
    with pytest.raises(ConfigError, match=r'train_file \("toy/train.jsonl"; this run "toy/test.jsonl"\)'):
        refuse_other_recipe(str(run / "checkpoint-4"), {**resolved, "train_file": "toy/test.jsonl"})
    with pytest.raises(ConfigError, match=r'model_name_or_path \("someone/model"; this run "someone/other"\)'):
        _write(run / "resolved_config.json", {**resolved, "model_name_or_path": "someone/model"})  # hub ids
        refuse_other_recipe(str(run / "checkpoint-4"), {**resolved, "model_name_or_path": "someone/other"})


@pytest.mark.parametrize("key, other", [
    ("learning_rate", 0.5), ("per_device_train_batch_size", 3), ("gradient_accumulation_steps", 2),
    ("weight_decay", 0.1), ("adam_beta1", 0.5), ("adam_beta2", 0.5), ("adam_epsilon", 0.1), ("max_grad_norm", 0.5),
    ("lr_scheduler_type", "constant"), ("warmup_steps", 3), ("optim", "sgd"), ("seed", 7), ("data_seed", 7),
    ("train_sampling_strategy", "random"), ("label_smoothing_factor", 0.1),
    # which model is kept: a resume that changed them was recorded with a recipe that had not made its model
    ("load_best_model_at_end", True), ("metric_for_best_model", "loss"), ("greater_is_better", False),
    ("early_stopping_patience", 9), ("early_stopping_threshold", 0.5),
])
def test_resume_keeps_the_trainers_settings_that_shape_the_model(tiny_config, tmp_path, key, other):
    resolved = _resolved(tiny_config, tmp_path)
    _write(tmp_path / "out" / "resolved_config.json", {**resolved, key: other})
    with pytest.raises(ConfigError, match=rf"started with other settings: {key} \("):
        refuse_other_recipe(str(tmp_path / "out" / "checkpoint-4"), resolved)


def test_an_output_dir_named_like_the_fine_tunings_folder_resumes_from_its_own_checkpoint(tiny_config, tiny_model_dir,
                                                                                         tmp_path):
    """A checkpoint in output_dir/real_set_finetune is refused (its model went through the fine-tuning); one in an
    output_dir that merely has that name is not."""
    out = tmp_path / "real_set_finetune"
    shutil.copytree(tiny_model_dir, out / "checkpoint-2")
    (out / "checkpoint-2" / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    cfg = load_config(_write(tmp_path / "c.json", {**tiny_config, "output_dir": str(out),
                                                   "resume_from_checkpoint": str(out / "checkpoint-2")}))
    assert check_output_dir(cfg) == str(out / "checkpoint-2")


def _deny_writes(monkeypatch, folder: Path) -> None:
    """`folder` becomes one this process may not write in, as on a read-only mount or without permission (checked by
    hand on a read-only tmpfs; root writes through permissions, so os.access says it here)."""
    access = os.access
    monkeypatch.setattr("trainer.atomic.os.access",
                        lambda path, mode: access(path, mode) and (Path(path) != folder or not mode & os.W_OK))


def test_an_output_in_a_folder_that_cannot_be_written_is_refused_before_any_work(tiny_config, tmp_path, capsys,
                                                                                  monkeypatch):
    share = tmp_path / "share"
    share.mkdir()
    _deny_writes(monkeypatch, share)
    config = _write(tmp_path / "config.json", {**tiny_config, "output_dir": str(share / "out")})
    assert main([config]) == 2
    assert capsys.readouterr().err == (f"error: output_dir: cannot write in {share} (a read-only file system, or no "
                                       "permission); give a folder this user can write to\n")
    assert not (tmp_path / "checkers").exists()  # refused before the checker was built
    (tmp_path / "in.csv").write_text("text\ngood day\n")
    assert main(["--model", str(tmp_path / "model"), "--input", str(tmp_path / "in.csv"), "--output",
                 str(share / "p.csv")], command="predict") == 2
    assert "error: output: cannot write in" in capsys.readouterr().err


def test_a_checker_on_a_read_only_share_is_read_and_none_is_built_there(tiny_config, tmp_path, capsys, monkeypatch):
    share = tmp_path / "share"
    config = {**tiny_config, "problem_type": "single_label_classification_dimp",
              "quality_checker_model": str(share / "quality")}
    assert main([_write(tmp_path / "config.json", config)]) == 0
    _deny_writes(monkeypatch, share)
    assert main([_write(tmp_path / "config.json", {**config, "output_dir": str(tmp_path / "again")})]) == 0
    assert sorted(p.name for p in share.iterdir()) == ["quality"]  # read as it is, no lock taken
    other = _write(tmp_path / "config.json", {**config, "quality_checker_model": str(share / "other"),
                                              "output_dir": str(tmp_path / "third")})
    assert main([other]) == 2
    assert capsys.readouterr().err.startswith(f"error: quality_checker_model: cannot build the checker in "
                                              f"{share / 'other'}: cannot write in {share}")


def test_a_run_into_an_output_dir_another_run_is_writing_is_refused(tiny_config, tmp_path, capsys):
    """Two runs into one output_dir (a sweep that did not change it) would both pass the checks and mix their results:
    while one holds it, the other is refused, and nothing is written there; score.py alike."""
    config = _write(tmp_path / "config.json", {**tiny_config, "problem_type": "single_label_classification_dimp"})
    release = claim_output_dir(tiny_config["output_dir"])  # as the first run does
    for command in ("run", "score"):
        assert main([config], command) == 2
        assert capsys.readouterr().err == (f"error: output_dir: another run is writing to {tmp_path / 'out'}; give "
                                           "this one another output_dir\n")
    # Refused before its data is read (minutes, for a large file): a file that fails only when read is not reached.
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "good", "label": 1}\n{"text": \n')
    assert main([_write(tmp_path / "broken.json", {**tiny_config, "train_file": str(broken)})]) == 2
    assert capsys.readouterr().err.startswith("error: output_dir: another run is writing to ")
    assert not (tmp_path / "out").exists()
    # Its results written by now, it is still named as the run writing them: the folder's results, and advice to set
    # overwrite_output_dir, which would then meet the claim, were told instead.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "resolved_config.json").write_text("{}")
    assert main([config]) == 2
    assert capsys.readouterr().err.startswith("error: output_dir: another run is writing to ")
    (tmp_path / "out" / "resolved_config.json").unlink()
    elsewhere = claim_output_dir(str(tmp_path / "elsewhere"))  # a run into another folder goes on meanwhile
    elsewhere()
    release()
    assert main([config]) == 0
    assert main([config, "--overwrite_output_dir", "true"]) == 0  # the run's own claim ended with it


def test_one_output_dir_spelled_two_ways_is_one_claim(tmp_path):
    release = claim_output_dir(str(tmp_path / "out"))
    try:
        with pytest.raises(ConfigError, match="another run is writing to"):
            claim_output_dir(f"{tmp_path}/elsewhere/../out/")
    finally:
        release()


def _lock_files() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("dimp-output-*.lock")}


def test_a_run_leaves_no_lock_file_behind(tiny_config, tmp_path, monkeypatch):
    """Each output_dir has its own lock file in the temporary folder: a sweep of runs left one per run, for good."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # not the machine's, where other runs hold theirs
    config = _write(tmp_path / "config.json", tiny_config)
    assert main([config]) == 0
    assert _lock_files() == set()
    release = claim_output_dir(str(tmp_path / "elsewhere"))
    assert len(_lock_files()) == 1  # as while a run writes
    release()
    assert _lock_files() == set()
