"""Building a WeightedTrainer for a model and its data: the one place Trainers are made."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from datasets import Dataset
from transformers import DataCollatorWithPadding, default_data_collator
from transformers.integrations import WandbCallback

from config.arguments import WeightedTrainingArguments
from config.loading import ConfigError
from trainer.memory import ReleaseAtEpochEnd
from trainer.metrics import compute_metrics
from trainer.selection import ValidationEarlyStopping
from trainer.weighted_trainer import SafeWandbCallback, WeightedTrainer

logger = logging.getLogger(__name__)


def without_validation(args: WeightedTrainingArguments) -> WeightedTrainingArguments:
    """Arguments for a run that has no validation split: no per-epoch evaluation, no best-model selection."""
    if args.early_stopping_patience:
        raise ConfigError("early_stopping_patience: the run has no validation split to watch")
    if args.eval_strategy == "no" and not args.load_best_model_at_end:
        return args
    logger.warning("No validation data: evaluating and selecting the best checkpoint are turned off.")
    return dataclasses.replace(args, eval_strategy="no", load_best_model_at_end=False, metric_for_best_model=None)


# The fine-tuning phase's own output folder, inside the run's: its checkpoints, which a rerun may replace.
FINETUNE_DIR = "real_set_finetune"
# The schedulers that step on metric_for_best_model.
_METRIC_SCHEDULERS = ("reduce_lr_on_plateau", "greedy")


def without_best_tracking(args: WeightedTrainingArguments) -> WeightedTrainingArguments:
    """Arguments for a run that does not reload its best epoch (it keeps the last, or the checkpoint average). Given
    metric_for_best_model, the Trainer would still mark a best checkpoint and, with save_total_limit 1, end by deleting
    every other one, the last epoch's included: the one checkpoint left would hold a model the run did not keep. The
    metric stays where the Trainer reloads, saves or schedules by it."""
    if (args.load_best_model_at_end or args.metric_for_best_model is None or args.save_strategy == "best"
            or args.lr_scheduler_type in _METRIC_SCHEDULERS):
        return args
    return dataclasses.replace(args, metric_for_best_model=None)


def make_trainer(model, tokenizer, args: WeightedTrainingArguments, train: Dataset, validation: Dataset | None,
                 pad_to_max_length: bool = False, trainer_class: type[WeightedTrainer] = WeightedTrainer,
                 **trainer_kwargs) -> WeightedTrainer:
    """`trainer_class` and `trainer_kwargs` let a WeightedTrainer subclass (the benchmarks' authors'-style one) be
    made the same way."""
    args = without_validation(args) if validation is None else without_best_tracking(args)
    collator = default_data_collator if pad_to_max_length else DataCollatorWithPadding(tokenizer)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics,
        **trainer_kwargs,
    )
    if trainer.pop_callback(WandbCallback) is not None:
        trainer.add_callback(SafeWandbCallback())
    trainer.add_callback(ReleaseAtEpochEnd())
    if args.early_stopping_patience:
        trainer.add_callback(ValidationEarlyStopping(args.early_stopping_patience, args.early_stopping_threshold))
    return trainer


def _kept_accuracy(trainer: WeightedTrainer) -> float | None:
    """The validation accuracy of the model a phase keeps: its best epoch's with load_best_model_at_end, else its
    last's; None with average_checkpoints (the average was not evaluated during training) or without evaluations."""
    args, state = trainer.args, trainer.state
    if args.average_checkpoints:
        return None
    best = state.best_global_step if args.load_best_model_at_end else None
    scores = [entry[key] for entry in state.log_history for key in ("eval_accuracy", "eval_validation_accuracy")
              if key in entry and (best is None or entry.get("step") == best)]
    return scores[-1] if scores else None


def fine_tune(trainer: WeightedTrainer, data: Dataset, epochs: float, learning_rate: float | None,
              pad_to_max_length: bool = False) -> tuple[WeightedTrainer, dict]:
    """A second phase: `trainer`'s model trained on `data` (the real set) with CE for `epochs`, evaluated and
    selected among these epochs as the first phase was. Its checkpoints go to output_dir/FINETUNE_DIR; its
    history and state continue the first phase's epochs and steps, and the returned trainer saves into the first
    phase's output_dir. Returns it with the fine-tuning's own train metrics."""
    first = trainer.args
    args = dataclasses.replace(first, problem_type="single_label_classification", num_train_epochs=epochs,
                               learning_rate=learning_rate or first.learning_rate, real_set_finetune_epochs=0.0,
                               output_dir=str(Path(first.output_dir) / FINETUNE_DIR))
    second = make_trainer(trainer.model, trainer.processing_class, args, data, trainer.eval_dataset, pad_to_max_length)
    second.first_phase = trainer.state
    second.validation_predictions = trainer.validation_predictions
    tuned = second.train().metrics
    before, after = _kept_accuracy(trainer), _kept_accuracy(second)
    if before is not None and after is not None and after < before:
        logger.warning("real_set_finetune_epochs: fine-tuning on the real set lowered the kept model's validation "
                       "accuracy from %.4f to %.4f; the model is the fine-tuned one (real_set_finetune_epochs 0 keeps "
                       "the weighted training's)", before, after)
    # From here on the state counts both phases, so that the final evaluations, trainer_state.json and the results
    # files number epochs and steps as the history does.
    steps, state = trainer.state.global_step, second.state
    state.log_history = trainer.state.log_history + [
        {**entry, **({"epoch": entry["epoch"] + second.epoch_offset} if "epoch" in entry else {}),
         **({"step": entry["step"] + steps} if "step" in entry else {})}
        for entry in state.log_history]
    state.epoch += second.epoch_offset
    state.num_train_epochs += second.epoch_offset
    state.global_step += steps
    state.max_steps += steps
    if state.best_global_step:
        state.best_global_step += steps
    second.args.output_dir = first.output_dir
    return second, tuned
