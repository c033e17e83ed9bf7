"""Choosing the model a run ends with: early stopping, checkpoint averaging, and a record of every evaluation's
validation probabilities so that selection rules can be compared afterwards on held-out halves of the validation
split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import EarlyStoppingCallback, TrainerCallback

from trainer.atomic import as_umask_allows, open_atomic

AVERAGE_FILE = "checkpoint_average.safetensors"
PREDICTIONS_FILE = "validation_predictions.npz"


class ValidationEarlyStopping(EarlyStoppingCallback):
    """The Trainer's early stopping, counting only the evaluations that hold the watched metric: with
    track_test_each_epoch the test split is evaluated too, and must neither count nor warn."""

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        watched = args.metric_for_best_model
        if (watched if watched.startswith("eval_") else f"eval_{watched}") in metrics:
            super().on_evaluate(args, state, control, metrics, **kwargs)


class CheckpointAverage(TrainerCallback):
    """The running sum of the model's floating-point weights at the end of every epoch; `apply` loads their mean.
    The sum travels inside checkpoints, so a resumed run averages the same epochs as an uninterrupted one."""

    def __init__(self):
        self.total: dict[str, torch.Tensor] = {}
        self.count = 0

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                value = value.detach().float().cpu()
                self.total[name] = self.total[name] + value if name in self.total else value.clone()
        self.count += 1

    def apply(self, model) -> None:
        if not self.count:
            return
        current = model.state_dict()
        model.load_state_dict({name: (total / self.count).to(current[name].dtype)
                               for name, total in self.total.items()}, strict=False)

    def save(self, folder: Path) -> None:
        if self.count:
            save_file(self.total, str(Path(folder) / AVERAGE_FILE), metadata={"count": str(self.count)})
            as_umask_allows(folder)

    def load(self, folder: Path) -> None:
        path = Path(folder) / AVERAGE_FILE
        if path.is_file():
            from safetensors import safe_open

            with safe_open(str(path), "pt") as saved:
                self.count = int(saved.metadata()["count"])
            self.total = load_file(str(path))


class ValidationPredictions:
    """Each evaluation's class probabilities of the validation split, by name (`epoch1`, ..., `final`), written to
    output_dir/validation_predictions.npz after every evaluation. Rows are in the evaluation split's order."""

    def __init__(self, path: Path, resume: bool):
        self.path = Path(path)
        self.arrays: dict[str, np.ndarray] = {}
        if resume and self.path.is_file():
            with np.load(self.path) as saved:
                self.arrays = {key: saved[key] for key in saved.files}

    def record(self, name: str, logits: np.ndarray, labels: np.ndarray) -> None:
        logits = torch.as_tensor(logits[0] if isinstance(logits, tuple) else logits).float()
        self.arrays[name] = logits.softmax(-1).numpy()
        self.arrays["labels"] = np.asarray(labels)
        with open_atomic(self.path, mode="wb") as f:
            np.savez(f, **self.arrays)
