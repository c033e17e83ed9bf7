"""Building a WeightedTrainer for a model and its data: the one place Trainers are made."""

from __future__ import annotations

import dataclasses
import logging

from datasets import Dataset
from transformers import DataCollatorWithPadding, default_data_collator
from transformers.integrations import WandbCallback

from config.arguments import WeightedTrainingArguments
from trainer.memory import ReleaseAtEpochEnd
from trainer.metrics import compute_metrics
from trainer.weighted_trainer import SafeWandbCallback, WeightedTrainer

logger = logging.getLogger(__name__)


def without_validation(args: WeightedTrainingArguments) -> WeightedTrainingArguments:
    """Arguments for a run that has no validation split: no per-epoch evaluation, no best-model selection."""
    if args.eval_strategy == "no" and not args.load_best_model_at_end:
        return args
    logger.warning("No validation data: evaluating and selecting the best checkpoint are turned off.")
    return dataclasses.replace(args, eval_strategy="no", load_best_model_at_end=False, metric_for_best_model=None)


def make_trainer(model, tokenizer, args: WeightedTrainingArguments, train: Dataset, validation: Dataset | None,
                 pad_to_max_length: bool = False, trainer_class: type[WeightedTrainer] = WeightedTrainer,
                 **trainer_kwargs) -> WeightedTrainer:
    """`trainer_class` and `trainer_kwargs` let a WeightedTrainer subclass (the benchmarks' authors'-style one) be
    made the same way."""
    if validation is None:
        args = without_validation(args)
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
    return trainer
