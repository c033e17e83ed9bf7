"""One run, start to end: data, checkers, training, evaluation, metrics."""

from __future__ import annotations

import logging
import random
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
from accelerate import PartialState
from transformers import AutoModelForSequenceClassification, set_seed
from transformers.trainer_utils import get_last_checkpoint

from references.models import ModelSource, resolve_model
from checkers.build import CheckerRecipe, build_checker
from checkers.resolve import find_or_build
from checkers.label_issues import label_issue_mask
from checkers.scoring import check_label_space, class_probabilities
from config.loading import ConfigError, RunConfig
from data.files import read_records, resolve_data_path
from data.noise import NOISE_KINDS, NoiseSpec, inject_noise, unrelated_texts
from data.sources import collect_sources, quality_held_out_of_train
from data.task import TaskData, build_task, subsample
from losses.weighting import LossKind
from trainer.fitting import make_trainer
from trainer.atomic import write_json_atomic
from trainer.modeling import encode, load_classifier, load_tokenizer
from trainer.tracking import Tracker
from trainer.weighted_trainer import DIVERSITY_PROB, QUALITY_PROB

logger = logging.getLogger(__name__)

RESULT_MARKERS = ("all_results.json", "train_results.json", "test_results.json", "resolved_config.json")


def check_output_dir(args) -> str | None:
    """Refuse to overwrite earlier results; return the checkpoint to resume from, if asked to resume."""
    out = Path(args.output_dir)
    resume = args.resume_from_checkpoint
    if resume in ("last", "true", "True"):
        last = get_last_checkpoint(str(out)) if out.is_dir() else None
        if last is None:
            raise ConfigError(f"resume_from_checkpoint: no checkpoint-* folder in {out} to resume from")
        return last
    if resume:
        if not Path(resume).is_dir():
            raise ConfigError(f"resume_from_checkpoint: {resume} is not a checkpoint folder")
        return resume
    existing = [m for m in RESULT_MARKERS if (out / m).exists()] + [p.name for p in out.glob("checkpoint-*")]
    if existing and not args.overwrite_output_dir:
        raise ConfigError(f"output_dir: {out} already holds results ({', '.join(sorted(existing)[:3])}); "
                          "choose another folder, set overwrite_output_dir true, or resume_from_checkpoint last")
    return None


def _short_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value.rstrip("/").split("/")[-1].split(":")[0]).strip("-.") or "data"


def dataset_label(cfg: RunConfig, task: TaskData) -> str:
    if cfg.data.dataset_name:
        return _short_name(cfg.data.dataset_name)
    if cfg.data.wandb_dataset:
        return _short_name(cfg.data.wandb_dataset)
    return _short_name(str(Path(task.origins["train"]).parent))


def load_task(cfg: RunConfig) -> TaskData:
    task = build_task(collect_sources(cfg.data, cfg.checkers), cfg.data.text_columns, cfg.data.label_column_name)
    seed = cfg.training.data_seed if cfg.training.data_seed is not None else cfg.training.seed
    splits = task.splits
    if "augmented_train" in splits:
        from datasets import concatenate_datasets

        splits["train"] = concatenate_datasets([splits["train"], splits.pop("augmented_train")])
    if quality_held_out_of_train(cfg.data, cfg.checkers):
        limit = cfg.checkers.quality_checker_max_train_samples or len(splits["train"]) // 10
        held = set(random.Random(seed).sample(range(len(splits["train"])), min(limit, len(splits["train"]) - 1)))
        splits["quality_train"] = splits["train"].select(sorted(held))
        splits["train"] = splits["train"].select([i for i in range(len(splits["train"])) if i not in held])
        logger.info("Quality checker: %d real examples held out of the training data", len(held))
    splits["train"] = subsample(splits["train"], cfg.data.max_train_samples, seed)
    noise = NoiseSpec(cfg.data.noise_duplicate_ratio, cfg.data.noise_swap_ratio, cfg.data.noise_unrelated_ratio,
                      cfg.data.noise_seed)
    if noise.active:
        unrelated = None
        if cfg.data.noise_unrelated_file:
            path = resolve_data_path(cfg.data.noise_unrelated_file, "noise_unrelated_file")
            unrelated = unrelated_texts(read_records(path), str(path))
        splits["train"] = inject_noise(splits["train"], task.text_columns, task.num_labels, noise, unrelated)
        logger.info("Noise injected: %s", {k: splits["train"]["noise"].count(k) for k in NOISE_KINDS})
    if "validation" in splits:
        splits["validation"] = subsample(splits["validation"], cfg.data.max_eval_samples)
    for name in [n for n in splits if n.startswith("test")]:
        splits[name] = subsample(splits[name], cfg.data.max_predict_samples)
    if "quality_train" in splits:
        splits["quality_train"] = subsample(splits["quality_train"], cfg.checkers.quality_checker_max_train_samples, seed)
    return task


def _recipes(cfg: RunConfig, task: TaskData) -> dict[str, CheckerRecipe | None]:
    validation = task.splits.get("quality_validation", task.splits.get("validation"))
    quality = None
    if "quality_train" in task.splits:
        quality = CheckerRecipe("quality", task.splits["quality_train"], validation, {
            "train_source": cfg.checkers.quality_checker_train_file,
            "train_examples": len(task.splits["quality_train"]),
            "seed": cfg.training.seed,
        })
    diversity = CheckerRecipe("diversity", task.splits["train"], task.splits.get("validation"), {
        "train_source": task.origins["train"],
        "train_examples": len(task.splits["train"]),
        "seed": cfg.training.seed,
    })
    return {"quality": quality, "diversity": diversity}


def checker_probabilities(cfg: RunConfig, task: TaskData, model_source: ModelSource, tracker: Tracker) -> dict:
    """Each needed checker's class probabilities for every training example, shape [N, C], by role."""
    kind = cfg.training.loss_kind
    roles = {LossKind.IMP: ("quality", "diversity"), LossKind.DIMP: ("quality",), LossKind.QUALITY_ONLY: ("quality",)}
    needed = roles.get(kind, ("quality",) if cfg.checkers.drop_label_issues else ())
    recipes = _recipes(cfg, task)
    base = resolve_model(cfg.checkers.checker_base_model, "checker_base_model") if cfg.checkers.checker_base_model \
        else model_source
    names = {"quality": f"quality-checker_{dataset_label(cfg, task)}_{_short_name(cfg.model.model_name_or_path)}",
             "diversity": f"diversity-checker_{dataset_label(cfg, task)}_{_short_name(cfg.model.model_name_or_path)}"}
    probabilities = {}
    for role in needed:
        field = f"{role}_checker_model"
        reference = getattr(cfg.checkers, field)
        if reference is None:
            why = f"problem_type {cfg.training.problem_type}" if role in roles.get(kind, ()) else "drop_label_issues"
            raise ConfigError(f"{field}: {why} needs a {role} checker: a folder "
                              "(trained there when missing, from quality_checker_train_file for the quality checker, "
                              "from the training data for the diversity checker), a hub id or a W&B artifact")

        def build(folder, recipe, role=role):
            build_checker(folder, recipe, base, task.label_names, task.text_columns, cfg.checkers, cfg.training,
                          cfg.data.max_seq_length)
            tracker.log_artifact(folder, names[role], "model")

        source = replace(find_or_build(reference, field, recipes[role], build, cfg.model.allow_pickle_checkpoints),
                         trust_remote_code=cfg.model.trust_remote_code)
        checker = AutoModelForSequenceClassification.from_pretrained(
            source.location, local_files_only=source.local_files_only, trust_remote_code=source.trust_remote_code)
        check_label_space(checker.config, task.label_names, field, cfg.checkers.match_labels_by)
        probabilities[role] = class_probabilities(
            checker, source, task.splits["train"], task.text_columns, cfg.data.max_seq_length,
            max(cfg.checkers.checker_batch_size, 64), field)
    return probabilities


def attach_checker_columns(train, probabilities: dict, drop_label_issues: bool) -> tuple:
    """The training set with P'(y|x) and Q(y|x) columns, less cleanlab's label issues when asked; and how many
    examples were dropped."""
    labels = np.asarray(train["label"])
    for role, column in (("quality", QUALITY_PROB), ("diversity", DIVERSITY_PROB)):
        if role in probabilities:
            gold = probabilities[role][np.arange(len(labels)), labels]
            logger.info("%s checker: P(gold) mean %.3f, min %.3g, max %.3f over %d examples",
                        role, gold.mean(), gold.min(), gold.max(), len(gold))
            train = train.add_column(column, gold.astype(float).tolist())
    if not drop_label_issues:
        return train, 0
    issues = label_issue_mask(labels, probabilities["quality"])
    logger.info("cleanlab flagged %d of %d training examples as label issues; dropping them", issues.sum(), len(labels))
    return train.select(np.flatnonzero(~issues)), int(issues.sum())


def run(cfg: RunConfig) -> dict[str, float]:
    """Everything that can fail on bad input is checked before anything is written to output_dir."""
    args = cfg.training
    resume = check_output_dir(args)
    state = PartialState()
    state.wait_for_everyone()  # under torchrun, no process may write before every one has checked output_dir
    set_seed(args.seed)
    task = load_task(cfg)
    source = replace(resolve_model(cfg.model.model_name_or_path, "model_name_or_path", cfg.model.use_wandb_model,
                                   cfg.model.allow_pickle_checkpoints), trust_remote_code=cfg.model.trust_remote_code)
    resolved = cfg.to_dict()
    tracker = Tracker.start(args.report_to, cfg.data.name or args.run_name, resolved,
                            [dataset_label(cfg, task), cfg.model.model_name_or_path, args.problem_type])
    try:
        train, dropped = attach_checker_columns(task.splits["train"], checker_probabilities(cfg, task, source, tracker),
                                                cfg.checkers.drop_label_issues)
        if state.is_main_process:
            write_json_atomic(Path(args.output_dir) / "resolved_config.json", resolved)
        extra = {"train_label_issues_dropped": dropped} if cfg.checkers.drop_label_issues else {}
        return _train_and_evaluate(cfg, task, train, source, tracker, resume, extra)
    finally:
        tracker.finish()


def _train_and_evaluate(cfg: RunConfig, task: TaskData, train, source: ModelSource, tracker: Tracker,
                        resume: str | None, extra_train_metrics: dict) -> dict[str, float]:
    args, model_args = cfg.training, cfg.model
    set_seed(args.seed)
    tokenizer = load_tokenizer(source, model_args.use_fast_tokenizer, model_args.model_revision, model_args.cache_dir)
    model = load_classifier(source, task.label_names, model_args.model_revision, model_args.cache_dir,
                            model_args.ignore_mismatched_sizes, allow_pickle=model_args.allow_pickle_checkpoints)
    keep = ("label", QUALITY_PROB, DIVERSITY_PROB)

    def prepare(dataset):
        return encode(dataset, tokenizer, task.text_columns, cfg.data.max_seq_length, cfg.data.pad_to_max_length, keep)

    validation = prepare(task.splits["validation"]) if "validation" in task.splits else None
    tests = {name: prepare(task.splits[name]) for name in sorted(task.splits) if name.startswith("test")}
    evaluation = validation
    if args.track_test_each_epoch and validation is not None and "test" in tests:
        evaluation = {"validation": validation, "test": tests["test"]}
        args = replace(args, metric_for_best_model=f"validation_{args.metric_for_best_model}")
    trainer = make_trainer(model, tokenizer, args, prepare(train), evaluation, cfg.data.pad_to_max_length)

    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {**result.metrics, "train_samples": len(train), **extra_train_metrics}
    trainer.save_model()
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    if validation is not None:
        eval_metrics = trainer.evaluate(validation)
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)
    for name, encoded in tests.items():
        test_metrics = trainer.predict(encoded, metric_key_prefix=name).metrics
        trainer.log_metrics(name, test_metrics)
        trainer.save_metrics(name, test_metrics)
        metrics.update(test_metrics)
    tracker.log_summary(metrics)
    if cfg.data.save_model:
        tracker.log_artifact(Path(args.output_dir), cfg.data.name or f"model_{dataset_label(cfg, task)}", "model")
    return metrics
