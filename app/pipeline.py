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
from checkers.filtering import keep_mask
from checkers.resolve import find_or_build
from checkers.label_issues import label_issue_mask
from checkers.scoring import at_gold, check_label_space, class_probabilities
from config.loading import ConfigError, RunConfig
from data.files import read_records, resolve_data_path
from data.noise import NOISE_KINDS, NoiseSpec, inject_noise, unrelated_texts
from data.sources import collect_sources, quality_held_out_of_train
from data.task import REAL_EXAMPLE, TaskData, build_task, generated_part, join_real_set, subsample
from losses.weighting import LossKind
from reports.example_weights import ExampleWeights, from_training_set, loss_name
from reports.weight_report import CSV_FILE, REPORT_FILE, write_weight_report
from trainer.fitting import make_trainer
from config.arguments import CheckerArguments
from trainer.atomic import write_json_atomic
from trainer.modeling import encode, for_evaluation, load_classifier, load_tokenizer
from trainer.tracking import Tracker
from trainer.weighted_trainer import DIVERSITY_PROB, EXAMPLE_INDEX, MODEL_DEPENDENT_WEIGHTS, QUALITY_PROB

logger = logging.getLogger(__name__)

RESULT_MARKERS = ("all_results.json", "train_results.json", "test_results.json", "resolved_config.json")
# What saving the model writes into output_dir, beside the results.
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "training_args.bin")


def check_output_dir(args, config_file: str | None = None) -> str | None:
    """Refuse to overwrite earlier results, or the config file itself; return the checkpoint to resume from, if
    asked to resume."""
    out = Path(args.output_dir)
    if config_file and Path(config_file).resolve() in {(out / name).resolve() for name in MODEL_FILES + RESULT_MARKERS}:
        raise ConfigError(f"output_dir: {out} is where the config file {config_file} lies, and saving the model "
                          f"would overwrite it; keep the config outside output_dir or give it another name")
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
    if cfg.data.real_set_in_training:
        splits["train"] = join_real_set(splits["train"], splits["quality_train"])
        logger.info("Training on %d real examples too (real_set_in_training), weight %g",
                    len(splits["quality_train"]), cfg.training.real_set_weight)
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
    generated = generated_part(task.splits["train"])
    diversity = CheckerRecipe("diversity", generated, task.splits.get("validation"), {
        "train_source": task.origins["train"],
        "train_examples": len(generated),
        "seed": cfg.training.seed,
    })
    return {"quality": quality, "diversity": diversity}


def needed_checkers(cfg: RunConfig) -> dict[str, str]:
    """The checkers a training run needs, by role, each with the option that needs it (for error messages)."""
    why = f"problem_type {cfg.training.problem_type}"
    needed = {LossKind.IMP: {"quality": why, "diversity": why}, LossKind.DIMP: {"quality": why},
              LossKind.QUALITY_ONLY: {"quality": why}}.get(cfg.training.loss_kind, {})
    if cfg.checkers.drop_label_issues:
        needed.setdefault("quality", "drop_label_issues")
    if cfg.checkers.filtering:
        option = "filter_min_weight" if cfg.checkers.filter_min_weight is not None else "filter_keep_top_fraction"
        needed.setdefault("quality", option)
        if cfg.checkers.diversity_checker_model:  # the static weight is then P'/Q
            needed.setdefault("diversity", option)
    return needed


def checker_probabilities(cfg: RunConfig, task: TaskData, model_source: ModelSource, tracker: Tracker,
                          needed: dict[str, str]) -> dict:
    """Each needed checker's class probabilities for every training example, shape [N, C], by role.
    `needed` maps each role to the option that needs it (see needed_checkers)."""
    recipes = _recipes(cfg, task)
    base = resolve_model(cfg.checkers.checker_base_model, "checker_base_model") if cfg.checkers.checker_base_model \
        else model_source
    names = {"quality": f"quality-checker_{dataset_label(cfg, task)}_{_short_name(cfg.model.model_name_or_path)}",
             "diversity": f"diversity-checker_{dataset_label(cfg, task)}_{_short_name(cfg.model.model_name_or_path)}"}
    probabilities = {}
    for role, why in needed.items():
        field = f"{role}_checker_model"
        reference = getattr(cfg.checkers, field)
        if reference is None:
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


def attach_checker_columns(train, probabilities: dict):
    """The training set with P'(y|x) and Q(y|x) columns, and each example's index (to report its weights)."""
    labels = np.asarray(train["label"])
    for role, column in (("quality", QUALITY_PROB), ("diversity", DIVERSITY_PROB)):
        if role in probabilities:
            gold = at_gold(probabilities[role], labels)
            logger.info("%s checker: P(gold) mean %.3f, min %.3g, max %.3f over %d examples",
                        role, gold.mean(), gold.min(), gold.max(), len(gold))
            train = train.add_column(column, gold.astype(float).tolist())
    return train.add_column(EXAMPLE_INDEX, list(range(len(train))))


def select_examples(train, probabilities: dict, weights: ExampleWeights | None, options: CheckerArguments) -> tuple:
    """The examples to train on: those the static-weight filter keeps, less cleanlab's label issues (the real set
    joined to the training data is never dropped); the mask of kept examples (None when nothing was asked), and
    how many each step dropped, for all_results.json."""
    keep, metrics = np.ones(len(train), dtype=bool), {}
    trusted = np.asarray(train[REAL_EXAMPLE], dtype=bool) if REAL_EXAMPLE in train.column_names \
        else np.zeros(len(train), dtype=bool)
    if options.filtering:
        kept = trusted.copy()
        kept[~trusted] = keep_mask(weights.static[~trusted], options.filter_min_weight, options.filter_keep_top_fraction)
        if not kept[~trusted].any():
            raise ConfigError(f"filter_min_weight: expected a threshold some examples reach; {options.filter_min_weight} "
                              f"drops them all (highest static weight {weights.static.max():.3g})")
        metrics["train_filtered_out"] = int((~kept).sum())
        logger.info("Filtering by static weight dropped %d of %d training examples", (~kept).sum(), len(kept))
        keep &= kept
    if options.drop_label_issues:
        issues = label_issue_mask(np.asarray(train["label"]), probabilities["quality"]) & ~trusted
        metrics["train_label_issues_dropped"] = int(issues.sum())
        logger.info("cleanlab flagged %d of %d training examples as label issues; dropping them",
                    issues.sum(), len(issues))
        keep &= ~issues
    if not metrics:
        return train, None, metrics
    return train.select(np.flatnonzero(keep)), keep, metrics


def _filter_note(options: CheckerArguments, weights: ExampleWeights, kept: str = "kept") -> str | None:
    if weights.kept is None:
        return None
    asked = [f"`{name}` = {getattr(options, name)}" for name in ("filter_min_weight", "filter_keep_top_fraction")
             if getattr(options, name) is not None] + (["`drop_label_issues`"] if options.drop_label_issues else [])
    return (f"Filtering ({', '.join(asked)}) {kept} **{int(weights.kept.sum())} of {len(weights)}** examples; the "
            "`kept` column says which.")


def _describe(cfg: RunConfig, task: TaskData, what: str, probabilities: dict) -> str:
    checkers = [f"{role} checker `{getattr(cfg.checkers, f'{role}_checker_model')}`" for role in probabilities]
    return (f"{what} on {len(task.splits['train'])} training examples from `{task.origins['train']}`"
            + (f"; {', '.join(checkers)}." if checkers else "."))


def _model_source(cfg: RunConfig) -> ModelSource:
    """Where the model to train (and, by default, the checkers to build) comes from."""
    return replace(resolve_model(cfg.model.model_name_or_path, "model_name_or_path", cfg.model.use_wandb_model,
                                 cfg.model.allow_pickle_checkpoints), trust_remote_code=cfg.model.trust_remote_code)


def run(cfg: RunConfig) -> dict[str, float]:
    """Everything that can fail on bad input is checked before anything is written to output_dir."""
    args = cfg.training
    resume = check_output_dir(args, cfg.source)
    state = PartialState()
    state.wait_for_everyone()  # under torchrun, no process may write before every one has checked output_dir
    set_seed(args.seed)
    task = load_task(cfg)
    source = _model_source(cfg)
    resolved = cfg.to_dict()
    tracker = Tracker.start(args.report_to, cfg.data.name or args.run_name, resolved,
                            [dataset_label(cfg, task), cfg.model.model_name_or_path, args.problem_type])
    try:
        probabilities = checker_probabilities(cfg, task, source, tracker, needed_checkers(cfg))
        weights = None
        if probabilities or args.loss_kind in MODEL_DEPENDENT_WEIGHTS:
            weights = from_training_set(task.splits["train"], task.text_columns, task.label_names, probabilities,
                                        args.weight_epsilon, args.loss_kind.value)
        train, kept, extra = select_examples(attach_checker_columns(task.splits["train"], probabilities),
                                             probabilities, weights, cfg.checkers)
        if weights is not None:
            weights.kept = kept
        if state.is_main_process:
            write_json_atomic(Path(args.output_dir) / "resolved_config.json", resolved)
        description = _describe(cfg, task, f"{loss_name(args.loss_kind.value)} training", probabilities)
        return _train_and_evaluate(cfg, task, train, source, tracker, resume, extra, weights, description)
    finally:
        tracker.finish()


def score(cfg: RunConfig) -> Path:
    """The checkers' static weights of the training data, without training: weights.csv and weights_report.md
    in output_dir. Uses the quality checker, and the diversity checker when the config names one."""
    args = cfg.training
    out = Path(args.output_dir)
    if (out / CSV_FILE).exists() and not args.overwrite_output_dir:
        raise ConfigError(f"output_dir: {out} already holds {CSV_FILE}; choose another folder or set "
                          "overwrite_output_dir true")
    task = load_task(cfg)
    source = _model_source(cfg)
    tracker = Tracker.start(args.report_to, cfg.data.name or args.run_name, cfg.to_dict(),
                            [dataset_label(cfg, task), cfg.model.model_name_or_path, "score"])
    try:
        needed = {"quality": "score.py"} | ({"diversity": "score.py"} if cfg.checkers.diversity_checker_model else {})
        probabilities = checker_probabilities(cfg, task, source, tracker, needed)
        weights = from_training_set(task.splits["train"], task.text_columns, task.label_names, probabilities,
                                    args.weight_epsilon)
        if cfg.checkers.filtering:
            weights.kept = keep_mask(weights.static, cfg.checkers.filter_min_weight,
                                     cfg.checkers.filter_keep_top_fraction)
        if PartialState().is_main_process:
            description = _describe(cfg, task, "Checkers' weights, before any training,", probabilities)
            write_weight_report(out, weights, description, _filter_note(cfg.checkers, weights, "would keep"),
                                tracker.run)
        return out / REPORT_FILE
    finally:
        tracker.finish()


def _train_and_evaluate(cfg: RunConfig, task: TaskData, train, source: ModelSource, tracker: Tracker,
                        resume: str | None, extra_train_metrics: dict,
                        weights: ExampleWeights | None = None, weights_description: str = "") -> dict[str, float]:
    args, model_args = cfg.training, cfg.model
    set_seed(args.seed)
    tokenizer = load_tokenizer(source, model_args.use_fast_tokenizer, model_args.model_revision, model_args.cache_dir)
    model = load_classifier(source, task.label_names, model_args.model_revision, model_args.cache_dir,
                            model_args.ignore_mismatched_sizes, allow_pickle=model_args.allow_pickle_checkpoints)
    keep = ("label", QUALITY_PROB, DIVERSITY_PROB, EXAMPLE_INDEX, REAL_EXAMPLE)

    def prepare(dataset):
        return encode(dataset, tokenizer, task.text_columns, cfg.data.max_seq_length, cfg.data.pad_to_max_length, keep)

    validation = for_evaluation(prepare(task.splits["validation"])) if "validation" in task.splits else None
    tests = {name: for_evaluation(prepare(task.splits[name])) for name in sorted(task.splits) if name.startswith("test")}
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
    if weights is not None and trainer.is_world_process_zero():
        history = trainer.weight_history.epochs if trainer.weight_history is not None else {}
        write_weight_report(Path(args.output_dir), weights.with_history(history), weights_description,
                            _filter_note(cfg.checkers, weights), tracker.run)
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
