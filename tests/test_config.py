"""Config files and overrides: the authors' configs, renamed and dropped keys, unknown keys, types."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from config import recommended
from config.arguments import CheckerArguments, DataArguments, PredictArguments, WeightedTrainingArguments
from config.loading import ConfigError, _cpu_only_multiprocess_defaults, load_arguments, load_config, parse_overrides
from references.wandb_refs import ArtifactError
from trainer.tracking import Tracker

ROOT = Path(__file__).resolve().parent.parent
AUTHORS = ROOT / "tests" / "fixtures" / "authors_configs"


@pytest.mark.parametrize("name,problem_type,quality,diversity", [
    ("config_DIMP.json", "single_label_classification_myloss_v2",
     "hsunyu/NLP_Data_Augmentation/only_valid_glue_mrpc_bert:v0", None),
    ("config_IMP.json", "single_label_classification_myloss_importance",
     "hsunyu/NLP_Data_Augmentation/only_valid_glue_mrpc_bert:v0",
     "hsunyu/NLP_Data_Augmentation/few-shot_glue_mrpc_bert_5:v0"),
    ("config_baseline.json", "single_label_classification", None, None),
])
def test_authors_configs_parse(name, problem_type, quality, diversity):
    cfg = load_config(str(AUTHORS / name))
    assert cfg.training.problem_type == problem_type
    assert cfg.training.eval_strategy == "epoch"  # from evaluation_strategy
    assert cfg.training.train_sampling_strategy == "random"  # from group_by_length: false
    assert cfg.training.report_to == ["wandb"]  # report_to: null meant every installed integration
    assert cfg.training.overwrite_output_dir is True
    assert cfg.data.use_wandb_dataset and cfg.data.wandb_dataset.endswith("datapoint_induction_glue_mrpc:v0")
    assert cfg.data.pad_to_max_length is True
    if quality:
        assert cfg.checkers.quality_checker_model == quality
    if diversity:
        assert cfg.checkers.diversity_checker_model == diversity


def test_options_that_need_a_validation_split_or_lose_to_averaging_are_named(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="config.loading"):
        load_config(_write(tmp_path, {"report_to": "none", "track_test_each_epoch": True,
                                      "save_validation_predictions": True, "load_best_model_at_end": True,
                                      "average_checkpoints": True}))
    needs = ("is not read by this run; it needs a validation split to evaluate each epoch on (validation_file, or a "
             "real set with real_validation_fraction above 0)")
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'c.json'}: track_test_each_epoch true {needs}",
        f"{tmp_path / 'c.json'}: save_validation_predictions true {needs}",
        f"{tmp_path / 'c.json'}: load_best_model_at_end true is not read by this run: average_checkpoints keeps the "
        "average of the epochs' weights, not the best epoch"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="config.loading"):
        load_config(_write(tmp_path, {"report_to": "none", "track_test_each_epoch": True,
                                      "save_validation_predictions": True, "validation_file": "v.jsonl"}))
    assert caplog.records == []


def test_dropped_keys_warn_once_listing_them(caplog):
    with caplog.at_level(logging.WARNING, logger="config.legacy"):
        load_config(str(AUTHORS / "config_DIMP.json"))
    warnings = [r.getMessage() for r in caplog.records if r.name == "config.legacy"]
    assert len(warnings) == 1
    assert "use_ipex" in warnings[0] and "logging_dir" in warnings[0] and "dispatch_batches" in warnings[0]


def test_options_the_run_does_not_read_are_named(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("DIMP_DATA_ROOT", str(ROOT.parent / "shared" / "data"))
    for config in sorted((ROOT / "configs").glob("*.json")):  # the shipped configs set nothing in vain
        with caplog.at_level(logging.WARNING, logger="config.loading"):
            load_config(str(config))
    assert caplog.records == []
    path = _write(tmp_path, {"focal_gamma": 2.0, "report_to": "none"})
    with caplog.at_level(logging.WARNING, logger="config.loading"):
        load_config(path, ["--real_set_weight", "null", "--real_set_finetune_learning_rate", "1e-5",
                           "--early_stopping_threshold", "0.01", "--diversity_checker_num_train_epochs", "2"])
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: focal_gamma 2 is not read by this run; it needs problem_type "
        "single_label_classification_focalloss",
        "command line: real_set_weight null is not read by this run; it needs real_set_in_training true",
        "command line: real_set_finetune_learning_rate 1e-05 is not read by this run; it needs "
        "real_set_finetune_epochs > 0",
        "command line: early_stopping_threshold 0.01 is not read by this run; it needs early_stopping_patience",
        "command line: diversity_checker_num_train_epochs 2 is not read by this run; it needs a diversity checker "
        "to build (IMP, quality_checker_warm_start, or filtering with diversity_checker_model)"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="config.loading"):  # CE needs no checker and injects no noise here
        load_config(_write(tmp_path, {"report_to": "none", "quality_checker_train_file": "r.jsonl"}),
                    ["--checker_calibration", "temperature", "--quality_checker_folds", "3", "--noise_seed", "7",
                     "--quality_checker_warm_start", "true"])
    quality = "it needs a quality checker (IMP, DIMP, filtering, drop_label_issues or init_from_quality_checker)"
    assert [r.getMessage() for r in caplog.records] == [
        f'command line: checker_calibration "temperature" is not read by this run; {quality}',
        f"command line: quality_checker_folds 3 is not read by this run; {quality}",
        f"command line: quality_checker_warm_start true is not read by this run; {quality}",
        "command line: noise_seed 7 is not read by this run; it needs noise_duplicate_ratio, noise_swap_ratio or "
        "noise_unrelated_ratio above 0"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="config.loading"):  # read where the method reads them
        load_config(path, ["--problem_type", "single_label_classification_focalloss", "--weight_epsilon", "1e-3"])
    assert [r.getMessage() for r in caplog.records] == [
        "command line: weight_epsilon 0.001 is not read by this run; it needs IMP or DIMP, whose weights divide by a "
        "probability"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="config.loading"):
        load_config(_write(tmp_path, {"report_to": "none"}), ["--problem_type", "single_label_classification_dimp",
                                                              "--quality_checker_model", "./q",
                                                              "--weight_epsilon", "1e-3"])
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="config.loading"):  # the steps of a strategy set to epochs
        load_config(path, ["--logging_steps", "2", "--eval_steps", "3", "--save_steps", "4", "--hub_model_id", "me/m"])
    assert [r.getMessage() for r in caplog.records][-3:] == [
        "command line: logging_steps 2 is not read by this run; it needs logging_strategy steps (or eval_strategy "
        "steps without eval_steps)",
        "command line: eval_steps 3 is not read by this run; it needs eval_strategy steps",
        "command line: save_steps 4 is not read by this run; it needs save_strategy steps"]
    assert not any("hub_model_id" in r.getMessage() for r in caplog.records)  # the card's name for the model
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="config.loading"):  # it paces evaluations where eval_steps is not set
        load_config(path, ["--logging_steps", "2", "--eval_strategy", "steps", "--save_strategy", "steps",
                           "--problem_type", "single_label_classification_focalloss"])
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="config.loading"):  # score.py trains nothing: none goes unread
        load_config(path, ["--real_set_weight", "null", "--quality_checker_model", "./q"], "score")
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="config.loading"):  # but one given to it alone is named
        load_config(path, ["--quality_checker_model", "./q", "--num_train_epochs", "9", "--focal_gamma", "3",
                           "--warmup_steps", "5", "--label_smoothing_factor", "0.1"], "score")
    assert [r.getMessage() for r in caplog.records] == [
        f"command line: {key} is not read by score.py, which trains no model; run.py reads it"
        for key in ("focal_gamma", "label_smoothing_factor", "num_train_epochs", "warmup_steps")
    ]  # the file's focal_gamma is the run's: not named


def _write(tmp_path, config: dict) -> str:
    """A config file; one without any data source reads a training file, as a run must."""
    if not {"train_file", "split_file", "dataset_name", "wandb_dataset"} & set(config):
        config = {"train_file": "t.jsonl", **config}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_overrides_win_over_the_file(tmp_path):
    path = _write(tmp_path, {"learning_rate": 1e-5, "num_train_epochs": 2, "report_to": "none", "train_file": "t.jsonl"})
    cfg = load_config(path, ["--learning_rate", "3e-4", "--num_train_epochs=4", "--group_by_length", "false",
                             "--name", "123", "--pad_to_max_length"])
    assert cfg.training.learning_rate == 3e-4
    assert cfg.training.num_train_epochs == 4
    assert cfg.training.train_sampling_strategy == "random"
    assert cfg.data.name == "123"
    assert cfg.data.pad_to_max_length is True


def test_old_name_of_a_key_is_translated(tmp_path, caplog):
    path = _write(tmp_path, {"twomodelloss_wandb_model2": "./q", "twomodelloss_wandb_model3": "./d", "train_file": "t.jsonl",
                             "no_cuda": True, "warmup_ratio": 0.1, "per_gpu_train_batch_size": 4})
    with caplog.at_level(logging.INFO, logger="config.legacy"):
        cfg = load_config(path)
    assert cfg.checkers.quality_checker_model == "./q"
    assert cfg.checkers.diversity_checker_model == "./d"
    # errors name the current key: the log says which key of the config that is
    assert "twomodelloss_wandb_model2 as quality_checker_model, twomodelloss_wandb_model3 as " \
           "diversity_checker_model, no_cuda as use_cpu" in caplog.text
    assert cfg.training.use_cpu is True
    assert cfg.training.warmup_steps == 0.1
    assert cfg.training.per_device_train_batch_size == 4


def test_keys_transformers_5_deprecated_are_read_under_their_new_names_without_its_warning(tmp_path, recwarn):
    path = _write(tmp_path, {"gradient_checkpointing": True, "gradient_checkpointing_kwargs": {"use_reentrant": False},
                             "train_file": "t.jsonl", "report_to": "none"})
    training = load_config(path).training
    assert training.activation_checkpointing is True
    assert training.activation_checkpointing_kwargs == {"use_reentrant": False}
    assert not [w for w in recwarn if "deprecated" in str(w.message)]


def test_under_torchrun_without_an_accelerator_the_processes_train_together_on_cpu(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    config = {}
    _cpu_only_multiprocess_defaults(config)
    assert config == {"use_cpu": True, "ddp_backend": "gloo"}
    config = {"ddp_backend": "mpi"}
    _cpu_only_multiprocess_defaults(config)
    assert config == {"use_cpu": True, "ddp_backend": "mpi"}  # what the config says stays


def test_a_key_under_its_old_and_new_names_keeps_the_new_ones_value(tmp_path):
    path = _write(tmp_path, {"quality_checker_model": "./new", "twomodelloss_wandb_model2": "./old",
                             "per_device_train_batch_size": 8, "per_gpu_train_batch_size": None,
                             "warmup_steps": 5, "warmup_ratio": 0.1})
    cfg = load_config(path)
    assert (cfg.checkers.quality_checker_model, cfg.training.per_device_train_batch_size) == ("./new", 8)
    assert cfg.training.warmup_steps == 5


@pytest.mark.parametrize("order", ["old_first", "new_first"])
def test_an_old_key_that_transformers_4_46_read_first_wins_as_it_did(tmp_path, order):
    """The authors' configs give per_gpu_* (null) beside per_device_*, warmup_ratio (0.0) beside warmup_steps (0) and
    no_cuda (false) beside use_cpu: set, per_gpu_* was the batch size, warmup_ratio the warmup where warmup_steps was
    0, and a true no_cuda kept training on the CPU."""
    old = {"per_gpu_train_batch_size": 4, "per_gpu_eval_batch_size": 16, "warmup_ratio": 0.1, "no_cuda": True,
           "evaluation_strategy": "epoch", "push_to_hub_model_id": "me/model", "push_to_hub_token": "hf_old",
           "torchdynamo": "inductor"}  # these four null beside their new names in the authors' configs
    new = {"per_device_train_batch_size": 32, "per_device_eval_batch_size": 32, "warmup_steps": 0, "use_cpu": False,
           "eval_strategy": "no", "hub_model_id": None, "hub_token": None, "torch_compile_backend": None}
    cfg = load_config(_write(tmp_path, {**old, **new} if order == "old_first" else {**new, **old}))
    assert (cfg.training.per_device_train_batch_size, cfg.training.per_device_eval_batch_size) == (4, 16)
    assert cfg.training.warmup_steps == 0.1
    assert cfg.training.use_cpu is True
    assert (cfg.training.eval_strategy, cfg.training.hub_model_id, cfg.training.hub_token) == ("epoch", "me/model",
                                                                                                "hf_old")
    assert (cfg.training.torch_compile_backend, cfg.training.torch_compile) == ("inductor", True)
    # null, as the authors' configs give them, they leave the new names' values
    cfg = load_config(_write(tmp_path, {**{key: None for key in old if key not in ("warmup_ratio", "no_cuda")},
                                        "hub_token": "hf_new", "torch_compile_backend": "eager"}))
    assert (cfg.training.hub_token, cfg.training.torch_compile_backend) == ("hf_new", "eager")


@pytest.mark.parametrize("config, message", [
    ({"group_by_length": "false"}, r"c.json: group_by_length: expected true/false, got str 'false'$"),
    ({"include_inputs_for_metrics": "no"}, r"c.json: include_inputs_for_metrics: expected true/false, got str 'no'$"),
    ({"no_cuda": "false"}, r"c.json: no_cuda, read as use_cpu: expected true/false, got str 'false'$"),
    ({"per_gpu_train_batch_size": "16", "per_device_train_batch_size": 32},
     r"c.json: per_gpu_train_batch_size, read as per_device_train_batch_size: expected an integer"),
])
def test_an_old_keys_wrong_value_is_refused_under_the_name_the_config_gives(tmp_path, config, message):
    """"false" is true to Python: read before its type was checked, an old true/false key trained as if set."""
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, config))


def test_a_warmup_ratio_of_one_is_refused_not_read_as_one_step(tmp_path):
    with pytest.raises(ConfigError, match=r"warmup_ratio: expected a fraction in \[0, 1\), got 1"):
        load_config(_write(tmp_path, {"warmup_ratio": 1}))


def test_defaults_are_the_authors(tmp_path):
    cfg = load_config(_write(tmp_path, {}), ["--report_to", "none"])
    t = cfg.training
    assert (t.learning_rate, t.per_device_train_batch_size, t.num_train_epochs) == (6e-5, 32, 5)
    assert cfg.data.max_seq_length == 128
    assert t.eval_strategy == "epoch" and t.save_strategy == "epoch"
    assert t.load_best_model_at_end and t.metric_for_best_model == "accuracy"


def test_the_projects_own_defaults(tmp_path):
    """What a config that leaves these keys out gets, where the project departs from transformers' defaults or has
    options of its own: changing one changes every such run."""
    cfg = load_config(_write(tmp_path, {}))
    t, c, d = cfg.training, cfg.checkers, cfg.data
    assert (t.per_device_eval_batch_size, t.save_total_limit, t.logging_strategy, t.report_to,
            t.train_sampling_strategy) == (64, 1, "epoch", ["wandb"], "group_by_length")
    assert (c.checker_num_train_epochs, c.checker_learning_rate, c.checker_batch_size) == (5, 6e-5, 32)
    assert (t.real_set_weight, d.real_validation_fraction, d.split_fractions) == (1.0, 0.2, [0.7, 0.1, 0.2])
    assert PredictArguments(model="m", input="i.csv", output="o.csv").batch_size == 64


def test_unknown_key_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'learnig_rate'.*'learning_rate'"):
        load_config(_write(tmp_path, {"learnig_rate": 1e-4}))
    with pytest.raises(ConfigError, match=r"command line: unknown option 'quality_checker'.*quality_checker_model"):
        load_config(None, ["--quality_checker", "x"])


@pytest.mark.parametrize("config,message", [
    ({"learning_rate": "fast"}, r"learning_rate: expected a number, got str"),
    ({"learning_rate": -1e-4}, r"learning_rate: expected > 0"),
    ({"num_train_epochs": [1]}, r"num_train_epochs: expected a number"),
    ({"focal_gamma": -1}, r"focal_gamma: expected >= 0"),
    ({"problem_type": "dimp"}, r"problem_type: unknown value 'dimp'"),
    ({"max_seq_length": 0}, r"max_seq_length: expected a positive integer"),
    ({"dataloader_num_workers": -1}, r"dataloader_num_workers: expected an integer >= 0, got -1$"),
    ({"filter_keep_top_fraction": 0}, r"filter_keep_top_fraction: expected a value in \(0, 1\], got 0"),
    ({"label_smoothing_factor": 1}, r"label_smoothing_factor: expected a value in \[0, 1\), got 1"),  # no label left
    ({"seed": 2**32}, r"seed: 4294967296 is too large; expected at most 4294967295"),  # numpy's seeds are unsigned
    ({"lr_scheduler_type": 5}, r"lr_scheduler_type: expected a string, got int 5"),  # a str-valued enum
    ({"do_train": "yes"}, r"do_train: expected true/false"),
    ({"do_train": 2}, r"do_train: expected true/false, got int 2"),  # 0 and 1 are taken
    ({"learning_rate": None}, r"learning_rate: expected a number, got null"),
    ({"liger_kernel_config": "{}"}, r"liger_kernel_config: expected an object, got str"),  # transformers reads a dict
    ({"lr_scheduler_kwargs": 5}, r"lr_scheduler_kwargs: expected an object or a string, got int 5"),
    ({"optim_target_modules": 5}, r"optim_target_modules: expected a list or a string, got int 5"),
    ({"accelerator_config": "missing.json"},  # a file transformers reads, and names without the key
     r"accelerator_config: FileNotFoundError: \[Errno 2\] No such file or directory: 'missing.json'$"),
    ({"include_num_input_tokens_seen": 5}, r"include_num_input_tokens_seen: expected true/false or a string, got int"),
    ({"lr_scheduler_kwargs": {"\ud800": 1}}, r"lr_scheduler_kwargs: '\\ud800' holds an unpaired surrogate"),
    ({"lr_scheduler_kwargs": {"power": [float("nan")]}}, r"lr_scheduler_kwargs: expected finite numbers, got nan"),
])
def test_bad_values_name_the_key(tmp_path, config, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, config))


def test_values_a_key_takes_beside_its_own_type(tmp_path):
    cfg = load_config(_write(tmp_path, {"do_train": 0, "lr_scheduler_type": "polynomial",
                                        "lr_scheduler_kwargs": '{"power": 2}', "report_to": "none",
                                        "trackio_static_space_id": False}))
    assert cfg.training.do_train is not True and not cfg.training.do_train
    assert cfg.training.lr_scheduler_kwargs == {"power": 2}  # a dict option that also takes its JSON as a string
    assert cfg.training.trackio_static_space_id is False  # str | Literal[False]: a type left to transformers


@pytest.mark.parametrize("changes, message", [
    ({"split_file": "s.jsonl", "dataset_name": "glue", "train_file": None},
     r"split_file: brings all the splits, so dataset_name would be ignored"),
    ({"use_wandb_dataset": True, "wandb_dataset": "me/proj/data:v1", "split_file": "s.jsonl"},
     r"split_file: the splits are read from wandb_dataset, so split_file would be ignored"),
    ({"wandb_dataset": "me/proj/data:v1", "dataset_name": "glue"},
     r"dataset_name: the splits are read from wandb_dataset, so dataset_name would be ignored"),
    ({"wandb_dataset": "me/proj/data:v1", "train_file": "t.jsonl", "split_file": "s.jsonl"},
     r"split_file: brings all the splits, so train_file would be ignored"),
    ({"real_set_finetune_epochs": 1}, r"real_set_finetune_epochs: needs quality_checker_train_file"),
    ({"real_set_in_training": True, "real_set_weight": None, "quality_checker_train_file": "r.jsonl"},
     r"real_set_weight: null \(the loss's own weight for real examples\) needs quality_checker_folds >= 2"),
    ({"quality_checker_folds": 2}, r"quality_checker_folds: cross-fitting builds the quality checkers, so it needs "
                                   r"quality_checker_train_file"),
    ({"checker_calibration": "temperature", "quality_checker_model": "./q",
      "problem_type": "single_label_classification_dimp"},
     r"checker_calibration: temperature scaling needs held-out real data"),
    ({"noise_unrelated_ratio": 0.1}, r"noise_unrelated_ratio: > 0 needs noise_unrelated_file"),
    ({"batch_eval_metrics": True}, r"batch_eval_metrics: not supported; accuracy and F1 are computed over the whole"),
    ({"init_from_quality_checker": True, "quality_checker_folds": 2, "quality_checker_train_file": "r.jsonl",
      "quality_checker_model": "./q"},
     r"init_from_quality_checker: needs one quality checker; quality_checker_folds is 2"),
    ({"quality_checker_model": "me/proj/checker v1:v0", "problem_type": "single_label_classification_dimp"},
     r"quality_checker_model: 'me/proj/checker v1:v0' is not a valid W&B artifact reference"),
    ({"diversity_checker_model": "me/proj/checker v1:v0", "quality_checker_model": "./q",
      "problem_type": "single_label_classification_imp"},
     r"diversity_checker_model: 'me/proj/checker v1:v0' is not a valid W&B artifact reference"),
    ({"checker_base_model": "me/proj/base v1:v0"}, r"checker_base_model: 'me/proj/base v1:v0' is not a valid W&B"),
    ({"wandb_generalization_dataset": "me/proj/../data:v1"},
     r"wandb_generalization_dataset: 'me/proj/../data:v1' is not a valid W&B artifact reference"),
])
def test_settings_that_cannot_work_are_refused_before_any_file_is_read(tmp_path, changes, message):
    with pytest.raises((ConfigError, ArtifactError), match=message):
        load_config(_write(tmp_path, changes))


@pytest.mark.parametrize("config", [
    {"use_wandb_dataset": True, "wandb_dataset": "me/proj/data:v1", "train_file": "mine.jsonl"},  # a file inside it
    {"wandb_dataset": "me/proj/data:v1", "train_file": "t.jsonl", "use_wandb_dataset": False},
    {"checker_calibration": "temperature", "quality_checker_model": "./q", "validation_file": "v.jsonl",
     "problem_type": "single_label_classification_dimp"},
    # the held-out real data that calibrates may be the quality checker's own validation file, or a split_file's part
    {"checker_calibration": "temperature", "quality_checker_model": "./q", "quality_checker_train_file": "r.jsonl",
     "quality_checker_validation_file": "rv.jsonl", "real_validation_fraction": 0,
     "problem_type": "single_label_classification_dimp"},
    {"checker_calibration": "temperature", "quality_checker_model": "./q", "split_file": "all.jsonl",
     "problem_type": "single_label_classification_dimp"},
    {"metric_for_best_model": "eval_accuracy", "eval_strategy": "epoch", "validation_file": "v.jsonl"},  # Trainer's
    {"label_names": ["labels"]},  # what the models here take, said out loud
    # the authors' configs leave these null: not set, as transformers 4.x read them
    {"per_gpu_train_batch_size": None, "per_gpu_eval_batch_size": None, "warmup_ratio": None},
    # use_wandb_model says the model is a W&B artifact, not the checkers' base, here a hub id
    {"use_wandb_model": True, "model_name_or_path": "me/proj/model:v1", "checker_base_model": "prajjwal1/bert-tiny"},
    # cross-fitting holds out each fold's real examples from its checker: they calibrate it, without a validation split
    {"checker_calibration": "temperature", "quality_checker_folds": 2, "quality_checker_train_file": "r.jsonl",
     "real_validation_fraction": 0, "quality_checker_model": "./q", "problem_type": "single_label_classification_dimp"},
])
def test_settings_that_work_together_load(tmp_path, config):
    load_config(_write(tmp_path, config))


@pytest.mark.parametrize("config, needed", [
    ({"quality_checker_warm_start": True, "quality_checker_train_file": "r.jsonl"}, {}),  # CE: no checker to warm
    ({"quality_checker_warm_start": True, "quality_checker_model": "./q", "diversity_checker_model": "./d",
      "problem_type": "single_label_classification_dimp"},
     {"quality": "problem_type single_label_classification_dimp", "diversity": "quality_checker_warm_start"}),
    ({"filter_min_weight": 0.5, "quality_checker_model": "./q", "diversity_checker_model": "./d"},
     {"quality": "filter_min_weight", "diversity": "filter_min_weight"}),  # filtered on P'/Q, both built on demand
    ({"filter_keep_top_fraction": 0.5, "quality_checker_model": "./q"}, {"quality": "filter_keep_top_fraction"}),
    ({"init_from_quality_checker": True, "quality_checker_model": "./q"}, {"quality": "init_from_quality_checker"}),
    ({"drop_label_issues": True, "quality_checker_model": "./q"}, {"quality": "drop_label_issues"}),  # its predictions
])
def test_the_checkers_a_run_needs_and_why(tmp_path, config, needed):
    assert load_config(_write(tmp_path, {**config, "report_to": "none"})).needed_checkers() == needed


@pytest.mark.parametrize("config, roles", [
    ({"problem_type": "single_label_classification_imp", "diversity_checker_model": "./d"}, ("quality", "diversity")),
    ({"problem_type": "single_label_classification_dimp"}, ("quality",)),  # P'/P(y|x; θ_t): P' alone is static
    ({"filter_min_weight": 0.5}, ("quality",)),
    ({"filter_min_weight": 0.5, "diversity_checker_model": "./d"}, ("quality", "diversity")),
    ({"problem_type": "single_label_classification_dimp", "quality_checker_warm_start": True,
      "diversity_checker_model": "./d"}, ("quality",)),  # a diversity checker built only to warm-start P'
])
def test_the_checkers_whose_probabilities_make_the_static_weight(tmp_path, config, roles):
    config = {"quality_checker_model": "./q", "diversity_checker_model": None, "report_to": "none", **config}
    assert load_config(_write(tmp_path, config)).static_weight_roles() == roles


def test_predict_options_naming_files_are_checked_as_paths():
    with pytest.raises(ConfigError, match=r"^output: 'o\\x00.csv' holds a NUL character"):
        load_arguments(PredictArguments, ["--model", "m", "--input", "in.csv", "--output", "o\x00.csv"])


@pytest.mark.parametrize("data, reads", [
    ({"wandb_dataset": "me/proj/data:v1"}, True),  # the only source named
    ({"wandb_dataset": "me/proj/data:v1", "train_file": "t.jsonl", "use_wandb_dataset": True}, True),  # a file in it
    ({"wandb_dataset": "me/proj/data:v1", "train_file": "t.jsonl"}, False),  # the local file
    ({"train_file": "t.jsonl"}, False),
])
def test_the_splits_come_from_wandb_dataset_when_asked_or_alone(data, reads):
    assert DataArguments(**data).reads_wandb_dataset is reads


@pytest.mark.parametrize("key, value, choices", [("checker_calibration", "platt", "'none' or 'temperature'"),
                                                  ("match_labels_by", "order", "'name' or 'id'")])
def test_checker_options_with_choices_refuse_others(key, value, choices):
    with pytest.raises(ValueError, match=rf"^{key}: expected {choices}, got '{value}'$"):
        CheckerArguments(**{key: value})


def test_zero_epochs_are_refused_unless_max_steps_sets_the_length(tmp_path):
    with pytest.raises(ValueError, match=r"^num_train_epochs: expected > 0 \(or set max_steps\), got 0$"):
        WeightedTrainingArguments(output_dir=str(tmp_path), num_train_epochs=0)
    assert WeightedTrainingArguments(output_dir=str(tmp_path), num_train_epochs=0, max_steps=5).max_steps == 5


def test_the_checkpoint_average_is_the_final_model_not_a_best_epoch_reloaded(tmp_path):
    args = WeightedTrainingArguments(output_dir=str(tmp_path), average_checkpoints=True, load_best_model_at_end=True,
                                     eval_strategy="epoch", save_strategy="epoch")
    assert args.load_best_model_at_end is False


@pytest.mark.parametrize("ratios", ["1.5,-0.5,0", "0.5,0.5", "0.5,0.3,0.1", "0.5,0.3,0.199", "0.8,0.1,a"])
def test_split_ratios_are_three_fractions_summing_to_1(ratios):
    with pytest.raises(ValueError, match=r"^split_ratios: expected (three fractions in \[0, 1\] summing to 1|"
                                         rf"comma-separated numbers), got '{ratios}'$"):
        DataArguments(split_ratios=ratios)


@pytest.mark.parametrize("given, columns", [("sentence1, sentence2", ["sentence1", "sentence2"]), ("text,", ["text"])])
def test_text_column_names_are_read_as_a_person_types_them(given, columns):
    assert DataArguments(text_column_names=given).text_columns == columns
    assert PredictArguments(model="m", input="i.csv", output="o.csv", text_column_names=given).text_columns == columns


@pytest.mark.parametrize("text, message", [
    ('{\n  "learning_rate": 1e-4,\n  "seed": 1,\n}\n', r"invalid JSON at line 4, .*; JSON allows no comma before a "),
    ('{"report_to": ["none",]}', r"invalid JSON at line 1, .*; JSON allows no comma before a closing bracket"),
    ('{"seed": 1,\n /* a note */\n "learning_rate": 1e-4}', r"invalid JSON at line 2, .*; JSON has no comments"),
    ('{"seed": 1,\n # a note\n "learning_rate": 1e-4}', r"invalid JSON at line 2, .*; JSON has no comments"),
    # the key's second place, not where its name first appears, as a value
    ('{"run_name": "seed",\n "seed": 1,\n "seed": 2}', r"line 3: key 'seed' appears twice"),
    ('{"seed" : 1,\n "seed" : 2}', r"line 2: key 'seed' appears twice"),  # as some formatters lay a file out
    ('{"seed": 1,, "learning_rate": 1e-4}', r"invalid JSON at line 1, column 12: Expecting property name enclosed in "
                                            r"double quotes$"),  # a comma too many, but not before a bracket
])
def test_malformed_json_names_the_line(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"bad.json: {message}"):
        load_config(str(path))


def test_a_long_path_in_an_error_keeps_its_start_and_its_file_name(tmp_path):
    deep = tmp_path / ("d" * 80)
    deep.mkdir()
    (deep / "loop").symlink_to(deep / "loop")
    with pytest.raises(ConfigError, match=r"^output_dir: '/.{37}\.\.\..{30}/loop/out': Too many levels of symbolic"):
        load_config(_write(tmp_path, {"output_dir": str(deep / "loop" / "out"), "report_to": "none"}))
    with pytest.raises(ConfigError, match=r"^/.{37}\.\.\.x{34}\.json: File name too long$"):
        load_config(str(deep / f"{'x' * 300}.json"))


@pytest.mark.parametrize("name", ["c.yaml", "c.yml", "C.YML"])
def test_a_yaml_config_is_refused_by_its_name(tmp_path, name):
    (tmp_path / name).write_text("train_file: t.jsonl\n")
    with pytest.raises(ConfigError, match=r"a config file is JSON, as the authors' are; write it as a .json file"):
        load_config(str(tmp_path / name))


def test_override_syntax():
    assert parse_overrides(["--a", "1", "--b=2", "--flag"]) == {"a": "1", "b": "2", "flag": "true"}
    assert parse_overrides(["--flag", "--b", "2"]) == {"flag": "true", "b": "2"}
    for wrong in (["oops"], ["--"], ["--a", "1", "--"]):
        with pytest.raises(ConfigError, match=f"command line: expected --key value, got {wrong[-1]!r}"):
            parse_overrides(wrong)


def test_a_value_too_many_names_the_option_it_follows():
    # `--text_column_names s1 s2`, as a shell user lists columns: the message says which option took 's1'.
    with pytest.raises(ConfigError, match=r"got 's2' after --text_column_names 's1': an option takes one value; two "
                                          r"columns are one comma-separated value: --text_column_names s1,s2$"):
        parse_overrides(["--output_dir", "o", "--text_column_names", "s1", "s2"])
    with pytest.raises(ConfigError, match=r"""after --report_to 'wandb': an option takes one value; several are one """
                                          r"""JSON list: --report_to '\["wandb", "tensorboard"\]'$"""):
        parse_overrides(["--report_to", "wandb", "tensorboard"])
    with pytest.raises(ConfigError, match=r"got 'b' after --output_dir 'a': an option takes one value$"):
        parse_overrides(["--output_dir", "a", "b"])
    with pytest.raises(ConfigError, match=r"got 'b' after --a '1':"):
        parse_overrides(["--a=1", "b"])


@pytest.mark.parametrize("name,problem_type", [
    ("config_DIMP.json", "single_label_classification_dimp"),
    ("config_IMP.json", "single_label_classification_imp"),
    ("config_baseline.json", "single_label_classification"),
    ("config_focal.json", "single_label_classification_focalloss"),
    ("config_DIMP_no_diversity.json", "single_label_classification_quality_only"),
])
def test_shipped_configs_share_data_and_protocol(name, problem_type):
    cfg = load_config(str(ROOT / "configs" / name))
    assert cfg.training.problem_type == problem_type
    assert cfg.data.train_file == "synthetic/mrpc_fewgen_ctrl_seed13/train.jsonl"
    assert cfg.data.test_file == "mrpc/test.jsonl"
    assert (cfg.data.max_train_samples, cfg.training.num_train_epochs, cfg.training.seed) == (2000, 3, 42)
    assert cfg.checkers.quality_checker_train_file == "mrpc/train.jsonl"


@pytest.mark.parametrize("argv, part, key, expected", [
    (["--name", "none"], "data", "name", "none"),  # text: the text itself
    (["--name", "null"], "data", "name", None),
    (["--checker_calibration", "none"], "checkers", "checker_calibration", "none"),
    (["--quality_checker_model", "null"], "checkers", "quality_checker_model", None),  # optional text
    (["--max_train_samples", "12"], "data", "max_train_samples", 12),  # optional integer
    (["--max_train_samples", "None"], "data", "max_train_samples", None),
    (["--learning_rate", "3e-5"], "training", "learning_rate", 3e-5),  # number
    (["--filter_min_weight", "none"], "checkers", "filter_min_weight", None),  # optional number
    (["--pad_to_max_length", "false"], "data", "pad_to_max_length", False),  # true/false
    (["--pad_to_max_length"], "data", "pad_to_max_length", True),
    (["--report_to", "none"], "training", "report_to", []),  # list: off
    (["--report_to", "wandb"], "training", "report_to", ["wandb"]),
    (["--report_to", "null"], "training", "report_to", ["wandb"]),  # as in a config file: the authors' meaning
    (["--report_to", '["wandb"]'], "training", "report_to", ["wandb"]),  # a list, as a config file writes it
    (["--optim_target_modules", '["attn", "mlp"]'], "training", "optim_target_modules", ["attn", "mlp"]),
    (["--optim_target_modules", "attn"], "training", "optim_target_modules", "attn"),
    (["--no_cuda", "no"], "training", "use_cpu", False),  # an old key's value read as its new key's type
    (["--pad_to_max_length", "no"], "data", "pad_to_max_length", False),
    (["--pad_to_max_length", "yes"], "data", "pad_to_max_length", True),
    (["--pad_to_max_length", "1"], "data", "pad_to_max_length", True),
    (["--pad_to_max_length", "0"], "data", "pad_to_max_length", False),
])
def test_command_line_values_mean_what_they_say(tmp_path, argv, part, key, expected):
    cfg = load_config(_write(tmp_path, {"report_to": "wandb"}), argv)
    assert getattr(getattr(cfg, part), key) == expected


def test_report_to_none_on_the_command_line_turns_wandb_off(tmp_path):
    cfg = load_config(_write(tmp_path, {}), ["--report_to", "none"])
    assert Tracker.start(cfg.training.report_to, None, {}, []).run is None


def test_a_run_without_config_file_starts_from_the_recommended_method(tmp_path):
    shipped = json.loads(recommended.RECOMMENDED_FILE.read_text())
    cfg = load_config(None, ["--train_file", "mine/generated.csv", "--quality_checker_train_file", "mine/real.csv",
                             "--learning_rate", "1e-4"])
    resolved = cfg.to_dict()
    method = {key: value for key, value in shipped.items() if key not in recommended.DATA_KEYS}
    assert method and all(resolved[key] == value for key, value in method.items() if key not in ("learning_rate",
                                                                                                 "report_to"))
    assert resolved["learning_rate"] == 1e-4  # the command line wins
    # the recommendation's data keys stay out: no MRPC files, no subsampling of the user's data or real set
    assert (cfg.data.validation_file, cfg.data.test_file, cfg.data.max_train_samples) == (None, None, None)
    assert shipped["quality_checker_max_train_samples"] == 500
    assert cfg.checkers.quality_checker_max_train_samples is None
    assert cfg.training.output_dir == "output"
    if "quality" in cfg.needed_checkers():
        model = cfg.model.model_name_or_path.split("/")[-1]
        assert cfg.checkers.quality_checker_model == f"./cache/checkers/quality-checker_mine-real_{model}"
    # with a config file, the dataclasses' defaults apply instead
    assert load_config(_write(tmp_path, {"train_file": "mine/generated.csv"})).training.problem_type == \
        "single_label_classification"


def test_a_run_without_config_file_logs_the_recommended_settings_it_takes(caplog):
    shipped = recommended.method_settings()
    with caplog.at_level(logging.INFO, logger="config.loading"):
        load_config(None, ["--train_file", "gen/train.csv", "--quality_checker_train_file", "real.jsonl",
                           "--num_train_epochs", "4"])
    (message,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("No config file")]
    assert f"problem_type {shipped['problem_type']}" in message
    assert "num_train_epochs" not in message  # the command line's value is the one used


def test_a_run_without_config_file_names_the_checkers_it_needs():
    cfg = load_config(None, ["--train_file", "gen/train.csv", "--problem_type", "single_label_classification_imp",
                             "--quality_checker_train_file", "real.jsonl", "--model_name_or_path", "./models/tiny"])
    assert cfg.checkers.quality_checker_model == "./cache/checkers/quality-checker_real_tiny"
    assert cfg.checkers.diversity_checker_model == "./cache/checkers/diversity-checker_gen-train_tiny"
    split = load_config(None, ["--split_file", "gen/all.jsonl", "--problem_type", "single_label_classification_imp",
                               "--quality_checker_train_file", "real.jsonl", "--model_name_or_path", "./models/tiny"])
    assert split.checkers.diversity_checker_model == "./cache/checkers/diversity-checker_gen-all_tiny"
    warm = load_config(None, ["--train_file", "gen/train.csv", "--quality_checker_train_file", "real.jsonl",
                              "--model_name_or_path", "./models/tiny", "--quality_checker_warm_start", "true"])
    assert warm.checkers.quality_checker_model == "./cache/checkers/quality-checker_real_tiny_warm"
    assert warm.checkers.diversity_checker_model == "./cache/checkers/diversity-checker_gen-train_tiny"  # not warmed
    # cross-fitted checkers in a folder of their own: a later run without folds reads (or builds) the single one
    folds = load_config(None, ["--train_file", "gen/train.csv", "--quality_checker_train_file", "real.jsonl",
                               "--model_name_or_path", "./models/tiny", "--quality_checker_folds", "3"])
    assert folds.checkers.quality_checker_model == "./cache/checkers/quality-checker_real_tiny_folds3"
    # a recipe other than the recommended one (as the warnings about an undertrained checker advise) builds its
    # checker beside the recommended one, named after what differs; the recommended values name nothing
    tried = load_config(None, ["--train_file", "gen/train.csv", "--problem_type", "single_label_classification_imp",
                               "--quality_checker_train_file", "real.jsonl", "--model_name_or_path", "./models/tiny",
                               "--checker_num_train_epochs", "20", "--checker_learning_rate", "1e-4",
                               "--diversity_checker_num_train_epochs", "5", "--checker_base_model", "./models/small"])
    assert tried.checkers.quality_checker_model == "./cache/checkers/quality-checker_real_small_e20_lr0.0001"
    assert tried.checkers.diversity_checker_model == "./cache/checkers/diversity-checker_gen-train_small_lr0.0001"
    same = load_config(None, ["--train_file", "gen/train.csv", "--quality_checker_train_file", "real.jsonl",
                              "--model_name_or_path", "./models/tiny", "--checker_num_train_epochs", "5",
                              "--checker_learning_rate", "6e-5", "--checker_batch_size", "32"])
    assert same.checkers.quality_checker_model == "./cache/checkers/quality-checker_real_tiny"
    # a checker named on the command line is the one used, and not rebuilt as a default one would be when stale
    own = load_config(None, ["--train_file", "gen/train.csv", "--problem_type", "single_label_classification_imp",
                             "--quality_checker_train_file", "real.jsonl", "--model_name_or_path", "./models/tiny",
                             "--quality_checker_model", "mine/checker"])
    assert own.checkers.quality_checker_model == "mine/checker" and own.default_checkers == {"diversity"}
    with pytest.raises(ConfigError, match=r"quality_checker_train_file: problem_type single_label_classification_dimp "
                                          r"needs a quality checker trained on your real labelled examples: give "
                                          r"--quality_checker_train_file FILE \(or --problem_type "
                                          r"single_label_classification for plain CE\)$"):
        load_config(None, ["--train_file", "gen/train.csv", "--problem_type", "single_label_classification_dimp"])
    # score.py scores with the quality checker whatever the loss; a CE run needs none
    plain = ["--train_file", "gen/train.csv", "--quality_checker_train_file", "real.jsonl", "--model_name_or_path",
             "./models/tiny", "--problem_type", "single_label_classification"]
    assert load_config(None, plain).checkers.quality_checker_model is None
    scored = load_config(None, plain, "score")
    assert scored.checkers.quality_checker_model == "./cache/checkers/quality-checker_real_tiny"
    with pytest.raises(ConfigError, match=r"quality_checker_train_file: score.py needs a quality checker trained on "
                                          r"your real labelled examples: give --quality_checker_train_file FILE$"):
        load_config(None, ["--train_file", "gen/train.csv"], "score")


def test_a_run_without_config_file_joins_the_real_set_only_when_it_has_one(caplog):
    ce = ["--train_file", "gen/train.csv", "--problem_type", "single_label_classification"]
    assert load_config(None, [*ce, "--quality_checker_train_file", "real.jsonl"]).data.real_set_in_training \
        == json.loads(recommended.RECOMMENDED_FILE.read_text()).get("real_set_in_training", False)
    with caplog.at_level(logging.INFO, logger="config.loading"):
        assert not load_config(None, ce).data.real_set_in_training  # CE on generated data alone still runs
    assert "No config file: starting from the recommended method" in caplog.text
    assert "real_set_in_training" not in caplog.text  # the log gives the settings the run reads
    with pytest.raises(ConfigError, match="real_set_in_training: needs quality_checker_train_file"):
        load_config(None, [*ce, "--real_set_in_training", "true"])


def test_resolved_config_reads_back_with_its_records(tmp_path):
    resolved = {**load_config(_write(tmp_path, {"report_to": "none"})).to_dict(),
                "validation_from_real_set": {"validation_examples": 3}}
    cfg = load_config(_write(tmp_path, resolved))
    assert cfg.to_dict() == {k: v for k, v in resolved.items() if k != "validation_from_real_set"}


@pytest.mark.parametrize("changes, message", [
    ({"early_stopping_patience": 0}, r"early_stopping_patience: expected a positive integer"),
    ({"early_stopping_patience": 2, "load_best_model_at_end": False}, r"early_stopping_patience: needs load_best_model_at_end"),
    ({"early_stopping_patience": 2, "average_checkpoints": True}, r"cannot be combined with average_checkpoints"),
    ({"early_stopping_patience": 2, "eval_strategy": "no", "save_strategy": "no"}, r"eval_strategy is 'no'"),
    ({"early_stopping_threshold": -1}, r"early_stopping_threshold: expected >= 0"),
    ({"early_stopping_patience": 2, "validation_file": None, "quality_checker_train_file": None},
     r"early_stopping_patience: needs validation data"),
    ({"early_stopping_patience": 2, "validation_file": None, "real_validation_fraction": 0},
     r"early_stopping_patience: needs validation data"),
])
def test_early_stopping_needs_what_it_watches(tmp_path, changes, message):
    base = {"train_file": "t.jsonl", "validation_file": "v.jsonl", "quality_checker_train_file": "r.jsonl"}
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, {**base, **changes}))


def test_the_recommended_config_runs_as_a_config_too():
    cfg = load_config(str(recommended.RECOMMENDED_FILE))
    assert cfg.data.train_file and cfg.checkers.quality_checker_train_file
    assert cfg.training.problem_type == recommended.method_settings().get("problem_type", cfg.training.problem_type)


def test_every_numeric_option_has_a_range():
    """config/ranges.py holds the allowed range of every int and float option, ours and TrainingArguments'."""
    from config.arguments import ARGUMENT_CLASSES
    from config.ranges import RANGES, numeric_fields

    numeric = {key for cls in ARGUMENT_CLASSES for key in numeric_fields(cls)}
    assert numeric - set(RANGES) == set()
    assert set(RANGES) - numeric == set()
    assert {"learning_rate", "adam_beta1", "seed", "max_grad_norm", "noise_swap_ratio", "checker_batch_size",
            "weight_epsilon"} <= numeric


def test_a_zero_that_turns_an_option_off_is_accepted(tmp_path):
    cfg = load_config(_write(tmp_path, {"max_grad_norm": 0, "report_to": "none"}))  # transformers: no clipping
    assert cfg.training.max_grad_norm == 0


@pytest.mark.parametrize("key,value", [("learning_rate", float("nan")), ("focal_gamma", float("inf")),
                                       ("seed", 2**40), ("quality_checker_folds", 0), ("noise_seed", -3),
                                       ("learning_rate", True), ("max_seq_length", False), ("real_set_weight", True)])
def test_ranges_hold_for_arguments_made_in_code(key, value, tmp_path):
    """The ranges are checked when an argument dataclass is made, from a config or not."""
    from config.arguments import CheckerArguments, DataArguments, WeightedTrainingArguments

    cls = next(c for c in (WeightedTrainingArguments, CheckerArguments, DataArguments) if key in c.__dataclass_fields__)
    extra = {"output_dir": str(tmp_path)} if cls is WeightedTrainingArguments else {}
    with pytest.raises(ValueError, match=f"^{key}: "):
        cls(**{key: value}, **extra)


def test_an_error_is_placed_by_the_key_it_names_not_by_a_key_its_name_contains(tmp_path):
    with pytest.raises(ConfigError, match=r"^command line: log_level_replica: expected one of .*got 'loud'"):
        load_config(_write(tmp_path, {"log_level": "info"}), ["--log_level_replica", "loud"])


@pytest.mark.parametrize("given, expected", [(True, ["inputs"]), (False, [])])
def test_the_authors_include_inputs_for_metrics_is_read_as_include_for_metrics(tmp_path, given, expected):
    config = {"include_inputs_for_metrics": given, "report_to": "none"}
    assert load_config(_write(tmp_path, config)).training.include_for_metrics == expected


def test_a_negative_integer_of_as_many_digits_as_python_reads_is_read():
    from config.json_strict import loads_unique

    limit = sys.get_int_max_str_digits()
    digits = "1" * limit
    assert loads_unique(f"-{digits}") == -int(digits)  # the sign is no digit
    sys.set_int_max_str_digits(0)  # no limit, as PYTHONINTMAXSTRDIGITS=0 sets it
    try:
        assert loads_unique("12") == 12
    finally:
        sys.set_int_max_str_digits(limit)


def test_a_seed_takes_numpys_whole_range(tmp_path):
    assert load_config(_write(tmp_path, {"seed": 2**32 - 1, "report_to": "none"})).training.seed == 2**32 - 1


def test_integers_given_to_float_options_become_floats(tmp_path):
    """torch's AdamW refuses betas of mixed types (0 and 0.999)."""
    cfg = load_config(_write(tmp_path, {"adam_beta1": 0, "learning_rate": 1, "report_to": "none", "train_file": "t.jsonl"}))
    assert type(cfg.training.adam_beta1) is float and type(cfg.training.learning_rate) is float


def test_a_byte_order_mark_is_not_content(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"learning_rate": 2e-5, "report_to": "none", "train_file": "t.jsonl"}).encode())
    assert load_config(str(path)).training.learning_rate == 2e-5


def test_a_later_override_of_the_same_key_wins(tmp_path):
    """Unlike a key given twice in one JSON object (an error), the command line is read left to right."""
    cfg = load_config(_write(tmp_path, {"report_to": "none", "train_file": "t.jsonl"}), ["--seed", "1", "--seed", "2"])
    assert cfg.training.seed == 2


def test_the_settings_that_reproduce_a_run_leave_out_its_tokens(tmp_path):
    """non_default() is the config the model card gives to reproduce the run: no secret in it."""
    cfg = load_config(_write(tmp_path, {"learning_rate": 1e-4, "hub_token": "hf_secret", "report_to": "none"}))
    assert cfg.training.hub_token == "hf_secret"
    reproduced = cfg.non_default()
    assert reproduced["learning_rate"] == 1e-4 and reproduced["train_file"] == "t.jsonl"
    assert "hub_token" not in reproduced and "hf_secret" not in json.dumps(reproduced, default=str)
