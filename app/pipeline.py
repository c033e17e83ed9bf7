"""One run, start to end: data, checkers, training, evaluation, metrics."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np
from accelerate import PartialState
from transformers import set_seed

from app.output_dir import (EARLIER_CHECKPOINTS, check_output_dir, claim_output_dir, refuse_other_recipe,
                            remove_earlier_results)
from checkers.filtering import keep_mask
from checkers.for_task import checker_probabilities, dataset_label, fitted_temperatures
from checkers.label_issues import label_issue_mask
from checkers.scoring import at_gold
from config.arguments import CheckerArguments
from config.loading import ConfigError, RunConfig
from data.files import as_configured
from data.prepare import load_task
from data.store import column_array
from data.task import REAL_EXAMPLE, TaskData, real_examples
from references.models import ModelSource, resolve_model
from reports.example_weights import ExampleWeights, from_training_set, loss_name
from reports.model_card import write_model_card
from reports.weight_report import REPORT_FILE, write_weight_report
from trainer.atomic import write_json_atomic
from trainer.fitting import fine_tune, make_trainer, without_validation
from trainer.hub import check_hub_access
from trainer.memory import release_freed_memory
from trainer.metrics import majority_accuracy, warn_if_near_majority
from trainer.modeling import (checkpoint_mismatch, encode, for_evaluation, load_classifier, load_tokenizer,
                              log_cut_inputs)
from trainer.tracking import Tracker
from trainer.weighted_trainer import DIVERSITY_PROB, EXAMPLE_INDEX, MODEL_DEPENDENT_WEIGHTS, QUALITY_PROB

logger = logging.getLogger(__name__)


def attach_checker_columns(train, probabilities: dict):
    """The training set with P'(y|x) and Q(y|x) columns, and each example's index (to report its weights)."""
    labels = column_array(train, "label")
    for role, column in (("quality", QUALITY_PROB), ("diversity", DIVERSITY_PROB)):
        if role in probabilities:
            gold = at_gold(probabilities[role], labels)
            logger.info("%s checker: P(gold) mean %.3f, min %.3g, max %.3f over %d examples",
                        role, gold.mean(), gold.min(), gold.max(), len(gold))
            train = train.add_column(column, gold.astype(np.float64))
    return train.add_column(EXAMPLE_INDEX, np.arange(len(train)))


def keep_examples(train, probabilities: dict, weights: ExampleWeights | None, options: CheckerArguments,
                  label_names: list[str]) -> tuple:
    """Which examples to train on: those the static-weight filter keeps, less cleanlab's label issues (the real set
    joined to the training data is never dropped), as a mask (None when nothing was asked); and how many each step
    drops, for all_results.json. A label the filtering leaves no training example of is warned about."""
    if not (options.filtering or options.drop_label_issues):
        return None, {}
    keep, metrics = np.ones(len(train), dtype=bool), {}
    trusted, labels = real_examples(train), column_array(train, "label")
    if options.filtering:
        kept = keep_mask(weights.static, options.filter_min_weight, options.filter_keep_top_fraction, trusted)
        if not kept[~trusted].any():
            raise ConfigError(f"filter_min_weight: expected a threshold some examples reach; {options.filter_min_weight} "
                              f"drops them all (highest static weight {weights.static[~trusted].max():.3g})")
        metrics["train_filtered_out"] = int((~kept).sum())
        logger.info("Filtering by static weight leaves out %d of %d training examples%s", (~kept).sum(),
                    (~trusted).sum(), " (the real set joined to them is kept whole)" if trusted.any() else "")
        keep &= kept
    if options.drop_label_issues:
        issues = label_issue_mask(labels, probabilities["quality"]) & ~trusted
        # counted among the examples the filter kept, so that the two counts add up to those dropped
        metrics["train_label_issues_dropped"] = int((issues & keep).sum())
        logger.info("cleanlab flags %d of %d training examples as label issues (`drop_label_issues` leaves them "
                    "out%s)", issues.sum(), (~trusted).sum(),
                    f"; {(issues & keep).sum()} of them the filter kept" if options.filtering else "")
        keep &= ~issues
    _warn_of_labels_left_out(labels, keep, trusted, options, label_names)
    return keep, metrics


def _warn_of_labels_left_out(labels: np.ndarray, keep: np.ndarray, trusted: np.ndarray, options: CheckerArguments,
                             label_names: list[str]) -> None:
    gone = sorted(set(labels[~trusted].tolist()) - set(labels[keep & ~trusted].tolist()))
    taught = set(labels[trusted].tolist())  # by the real set joined to the training data, which is never dropped
    knobs = [name for name in ("filter_min_weight", "filter_keep_top_fraction", "drop_label_issues")
             if getattr(options, name) not in (None, False)]  # those set
    for group, source in (([i for i in gone if i in taught], "from the real set joined to them alone"),
                          ([i for i in gone if i not in taught], "from no example")):
        if group:
            logger.warning("Filtering keeps no training example of label %s (%d kept of %d), so the model learns it "
                           "%s; keep more (%s) or check the labels", ", ".join(repr(label_names[i]) for i in group),
                           (keep & ~trusted).sum(), (~trusted).sum(), source, ", ".join(knobs))


def select_examples(train, probabilities: dict, weights: ExampleWeights | None, options: CheckerArguments,
                    label_names: list[str]) -> tuple:
    """The examples to train on, the mask of those kept (None when nothing was asked), and keep_examples' counts."""
    keep, metrics = keep_examples(train, probabilities, weights, options, label_names)
    return (train if keep is None else train.select(np.flatnonzero(keep))), keep, metrics


def _filter_note(options: CheckerArguments, weights: ExampleWeights, kept: str = "kept") -> str | None:
    if weights.kept is None:
        return None
    asked = [f"`{name}` = {getattr(options, name)}" for name in ("filter_min_weight", "filter_keep_top_fraction")
             if getattr(options, name) is not None] + (["`drop_label_issues`"] if options.drop_label_issues else [])
    real = weights.real if weights.real is not None else np.zeros(len(weights), dtype=bool)
    never = f" (the {int(real.sum())} real examples joined to them are never dropped)" if real.any() else ""
    return (f"Filtering ({', '.join(asked)}) {kept} **{int(weights.kept[~real].sum())} of {int((~real).sum())}** "
            f"training examples{never}; the `kept` column says which.")


def _describe(cfg: RunConfig, task: TaskData, what: str, probabilities: dict) -> str:
    checkers = [f"{role} checker `{getattr(cfg.checkers, f'{role}_checker_model')}`" for role in probabilities]
    train = task.splits["train"]
    real = int(real_examples(train).sum())
    text = f"{what} on {len(train) - real} training examples from `{task.training_files()}`"
    if real:
        text += (f" and the {real} real examples of `{as_configured(task.origins['quality_train'])}` joined to them "
                 "(`real_set_in_training`)")
    return text + (f"; {', '.join(checkers)}." if checkers else ".")


def _model_source(cfg: RunConfig) -> ModelSource:
    """Where the model to train (and, by default, the checkers to build) comes from."""
    model = cfg.model
    return replace(resolve_model(model.model_name_or_path, "model_name_or_path", model.use_wandb_model,
                                 model.allow_pickle_checkpoints, model.cache_dir, model.model_revision),
                   trust_remote_code=model.trust_remote_code)


def _resolved_config(cfg: RunConfig, task: TaskData) -> dict:
    """Every setting, with the text columns as used (predict.py reads them) and how the validation split was made,
    when it was: resolved_config.json, and the W&B run's config (score.py's too)."""
    resolved = {**cfg.to_dict(), "text_column_names": ",".join(task.text_columns)}
    if task.validation_split:
        resolved["validation_from_real_set"] = task.validation_split
    return resolved


def _run_name(cfg: RunConfig) -> str | None:
    """The W&B run's name: run_name, the Trainer's option, where given (a command line's over a config's `name`,
    which every shipped config sets); else `name`, the authors' key; else W&B's (WANDB_NAME, or one it draws)."""
    return cfg.training.run_name or cfg.data.name


def _weight_table(cfg: RunConfig, task: TaskData, probabilities: dict[str, np.ndarray],
                  loss: str = "") -> ExampleWeights:
    """Every training example's checker probabilities and static weight (P', or P'/Q), for weights.csv and the
    report; `loss` names the training loss, none when only scoring."""
    weighed = {role: probabilities[role] for role in cfg.static_weight_roles() if role in probabilities}
    return from_training_set(task.splits["train"], task.text_columns, task.label_names, weighed,
                             cfg.training.weight_epsilon, loss, cfg.training.real_set_weight)


def run(cfg: RunConfig) -> dict[str, float]:
    """Everything that can fail on bad input is checked before anything is written to output_dir."""
    args = cfg.training
    resume = check_output_dir(cfg)
    logger.info("Output: %s%s", Path(args.output_dir).expanduser().resolve(),
                f", resuming from {resume}" if resume else "")
    check_hub_access(args)
    state = PartialState()
    state.wait_for_everyone()  # under torchrun, no process may write before every one has checked output_dir
    set_seed(args.seed)
    source = _model_source(cfg)
    with ExitStack() as opened:  # closed in reverse order, however the run ends
        opened.callback(claim_output_dir(args.output_dir))  # before the data is read: a second run into it stops
        task = load_task(cfg)
        opened.callback(task.close)
        if "validation" not in task.splits:  # before the checkers; resolved_config.json records what the run does
            cfg = replace(cfg, training=without_validation(args))
            args = cfg.training
        resolved = _resolved_config(cfg, task)
        if resume:
            refuse_other_recipe(resume, resolved)  # before the W&B run: a refused resume starts none
        tracker = Tracker.start(args.report_to, _run_name(cfg), resolved,
                                [dataset_label(cfg, task), cfg.model.model_name_or_path, args.problem_type], resume)
        opened.callback(tracker.finish)
        checked = checker_probabilities(cfg, task, source, tracker, cfg.needed_checkers())
        release_freed_memory()  # what building and running the checkers freed, before the model trains
        probabilities = {role: output.probabilities for role, output in checked.items()}
        if cfg.model.init_from_quality_checker:
            source = checked["quality"].sources[0]
            logger.info("Training starts from the quality checker %s (init_from_quality_checker)", source.location)
        weights = _weight_table(cfg, task, probabilities, args.loss_kind.value) \
            if probabilities or args.loss_kind in MODEL_DEPENDENT_WEIGHTS else None
        train, kept, extra = select_examples(attach_checker_columns(task.splits["train"], probabilities),
                                             probabilities, weights, cfg.checkers, task.label_names)
        extra |= fitted_temperatures(checked)
        if weights is not None:
            weights.kept = kept
        tokenizer, model = _load_model(cfg, task, source)  # a damaged model folder stops the run before any write
        mismatch = checkpoint_mismatch(model, Path(resume)) if resume else None
        if mismatch:
            raise ConfigError(f"resume_from_checkpoint: {resume} is not a checkpoint of this run's model: {mismatch}")
        if state.is_main_process:
            if not resume:  # a resumed run adds to its own predictions file and writes every result again
                remove_earlier_results(Path(args.output_dir))
            write_json_atomic(Path(args.output_dir) / "resolved_config.json", resolved)
            tracker.record(Path(args.output_dir))
        description = _describe(cfg, task, f"{loss_name(args.loss_kind.value)} training", probabilities)
        return _train_and_evaluate(cfg, task, train, tokenizer, model, tracker, resume, extra, weights, description,
                                   checked)


def score(cfg: RunConfig) -> Path:
    """The checkers' static weights of the training data, without training: weights.csv and weights_report.md
    in output_dir. Uses the quality checker, and the checkers the run would build; weighs as the run would."""
    args = cfg.training
    out = Path(args.output_dir)
    check_output_dir(cfg, "score")
    source = _model_source(cfg)
    with ExitStack() as opened:  # closed in reverse order, however the scoring ends
        opened.callback(claim_output_dir(args.output_dir))  # before the data is read: a second run into it stops
        task = load_task(cfg)
        opened.callback(task.close)
        tracker = Tracker.start(args.report_to, _run_name(cfg), _resolved_config(cfg, task),
                                [dataset_label(cfg, task), cfg.model.model_name_or_path, "score"], job_type="score")
        opened.callback(tracker.finish)
        probabilities = {role: output.probabilities for role, output
                         in checker_probabilities(cfg, task, source, tracker, cfg.needed_checkers("score")).items()}
        weights = _weight_table(cfg, task, probabilities)
        weights.kept = keep_examples(task.splits["train"], probabilities, weights, cfg.checkers, task.label_names)[0]
        if PartialState().is_main_process:
            description = _describe(cfg, task, "Checkers' weights, before any training,", probabilities)
            write_weight_report(out, weights, description, _filter_note(cfg.checkers, weights, "would keep"),
                                tracker.run)
        return out / REPORT_FILE


def _load_model(cfg: RunConfig, task: TaskData, source: ModelSource) -> tuple:
    """The tokenizer and the classifier to train; the new head is drawn from the run's seed."""
    model_args = cfg.model
    set_seed(cfg.training.seed)
    tokenizer = load_tokenizer(source, model_args.use_fast_tokenizer)
    if cfg.data.max_seq_length > tokenizer.model_max_length:
        logger.warning("max_seq_length %d is more than the model reads; texts are cut at its %d tokens",
                       cfg.data.max_seq_length, tokenizer.model_max_length)
    model = load_classifier(source, task.label_names, model_args.ignore_mismatched_sizes, cfg.checkers.match_labels_by)
    return tokenizer, model


def _train_and_evaluate(cfg: RunConfig, task: TaskData, train, tokenizer, model, tracker: Tracker,
                        resume: str | None, extra_train_metrics: dict, weights: ExampleWeights | None = None,
                        weights_description: str = "", checkers: dict | None = None) -> dict[str, float]:
    args = cfg.training
    keep = ("label", QUALITY_PROB, DIVERSITY_PROB, EXAMPLE_INDEX, REAL_EXAMPLE)

    def prepare(dataset):
        return encode(dataset, tokenizer, task.text_columns, cfg.data.max_seq_length, cfg.data.pad_to_max_length, keep)

    validation = for_evaluation(prepare(task.splits["validation"])) if "validation" in task.splits else None
    tests = {name: for_evaluation(prepare(task.splits[name])) for name in sorted(task.splits) if name.startswith("test")}
    evaluation = validation
    if args.track_test_each_epoch and validation is not None and "test" in tests:
        evaluation = {"validation": validation, "test": tests["test"]}
        if args.metric_for_best_model is not None:
            args = replace(args, metric_for_best_model=f"validation_{args.metric_for_best_model.removeprefix('eval_')}")
    encoded_train = prepare(train)
    log_cut_inputs(encoded_train, tokenizer, cfg.data.max_seq_length, "training inputs")
    trainer = make_trainer(model, tokenizer, args, encoded_train, evaluation, cfg.data.pad_to_max_length)

    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {**result.metrics, "train_samples": len(train), **extra_train_metrics}
    history = trainer.weight_history.epochs if trainer.weight_history is not None else {}
    if args.real_set_finetune_epochs:
        trainer, tuned = fine_tune(trainer, prepare(task.splits["quality_train"]), args.real_set_finetune_epochs,
                                   args.real_set_finetune_learning_rate, cfg.data.pad_to_max_length)
        metrics |= {"epoch": trainer.state.epoch, "real_set_finetune_samples": len(task.splits["quality_train"]),
                    "real_set_finetune_train_loss": tuned["train_loss"]}
    trainer.save_model()
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    if weights is not None and trainer.is_world_process_zero():
        write_weight_report(Path(args.output_dir), weights.with_history(history), weights_description,
                            _filter_note(cfg.checkers, weights), tracker.run)
    if validation is not None:
        eval_metrics = trainer.evaluate(validation)
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)
        warn_if_near_majority("The model", eval_metrics["eval_accuracy"],
                              majority_accuracy(column_array(task.splits["validation"], "label")),
                              "it has learnt little beyond the class shares. Consider more num_train_epochs, another "
                              "learning_rate, or a look at the training data's labels (the model card counts them).")
    for name, encoded in tests.items():
        test_metrics = trainer.predict(encoded, metric_key_prefix=name).metrics
        trainer.log_metrics(name, test_metrics)
        trainer.save_metrics(name, test_metrics)
        metrics.update(test_metrics)
    tracker.log_summary(metrics)
    write_model_card(trainer, cfg, task, metrics, weights, checkers or {})
    if args.push_to_hub:
        trainer.push_to_hub(commit_message="End of training")
    if cfg.data.save_model:
        tracker.log_artifact(Path(args.output_dir), cfg.data.name or f"model_{dataset_label(cfg, task)}", "model",
                             leave_out=(*EARLIER_CHECKPOINTS, "wandb"))  # the model, not how to resume its training
    return metrics
