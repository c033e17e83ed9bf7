"""A few optimizer steps of the WeightedTrainer on toy data, shared by the in-process and torchrun tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch.distributed as dist
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from conftest import toy_records
from config.arguments import WeightedTrainingArguments
from trainer.fitting import make_trainer
from trainer.modeling import encode


def toy_train_set(tokenizer, n: int = 24) -> Dataset:
    records = toy_records(n, seed=5)
    data = Dataset.from_list(records).add_column("quality_prob", [0.2 + 0.7 * (i % 5) / 4 for i in range(n)])
    return encode(data, tokenizer, ["text"], 32, keep_columns=("label", "quality_prob"))


def toy_trainer(model_dir: Path, out: Path, batch_size: int, accumulation: int, extra: dict | None = None,
                problem_type: str = "single_label_classification_dimp", accepts_loss_kwargs: bool | None = None):
    """A trainer for 3 optimizer steps on the toy set; `extra` overrides its arguments. `accepts_loss_kwargs` False
    stands for a classifier whose forward takes no **kwargs (as remote code may): the Trainer then passes
    compute_loss no num_items_in_batch."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    if accepts_loss_kwargs is not None:
        model.accepts_loss_kwargs = accepts_loss_kwargs
    args = WeightedTrainingArguments(**{
        "output_dir": str(out), "problem_type": problem_type, "per_device_train_batch_size": batch_size,
        "gradient_accumulation_steps": accumulation, "learning_rate": 1e-2, "num_train_epochs": 1, "max_steps": 3,
        "train_sampling_strategy": "sequential", "eval_strategy": "no", "save_strategy": "no",
        "load_best_model_at_end": False, "report_to": "none", "disable_tqdm": True, "seed": 0, "use_cpu": True,
        "optim": "sgd", "logging_steps": 1, "logging_strategy": "steps", **(extra or {}),
    })
    return make_trainer(model, tokenizer, args, toy_train_set(tokenizer), None)


def train_steps(*args, **kwargs):
    """The toy trainer (same arguments), trained."""
    trainer = toy_trainer(*args, **kwargs)
    trainer.train()
    return trainer


def end_torchrun_worker() -> None:
    """Destroy the process group, then leave without interpreter teardown. DDP keeps the gloo group, and so its
    worker threads, alive past destroy_process_group; a gloo thread still freeing a gathered tensor's Python object
    when finalization starts dies in the GIL and aborts the process ("terminate called without an active exception")."""
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
