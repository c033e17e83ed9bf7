"""Per epoch, the model's P(y|x; θ) and the weight the loss gave each training example (DIMP, Focal).

compute_loss hands over what it has already computed, so recording costs no extra forward pass: the values are
the ones the loss used when the example was seen during that epoch. Records stay on the device until the epoch
ends, are then gathered from all processes, and travel inside checkpoints so that a resumed run loses none.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from accelerate.utils import gather_object
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "weight_history.npz"


class Seen(NamedTuple):
    """One entry per example: its index in the training set, P(y|x; θ) and its loss weight."""

    index: np.ndarray
    model_prob: np.ndarray
    weight: np.ndarray

    @classmethod
    def empty(cls) -> "Seen":
        return cls(np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.float32))

    @classmethod
    def concatenate(cls, parts: list["Seen"]) -> "Seen":
        return cls(*(np.concatenate(column) for column in zip(*parts)))

    def first_of_each(self) -> "Seen":
        """One entry per example, sorted by index. Several processes pad the last batch with repeated examples,
        so an example can be seen twice in an epoch; the first value gathered is kept."""
        _, first = np.unique(self.index, return_index=True)
        return Seen(self.index[first], self.model_prob[first], self.weight[first])


class WeightHistory(TrainerCallback):
    def __init__(self):
        self.epochs: dict[int, Seen] = {}  # epoch (1-based) -> what the loss used in it
        self._pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # this epoch, this process
        self._carried = Seen.empty()  # this epoch, gathered at a checkpoint or loaded from one

    def record(self, index: torch.Tensor, model_prob: torch.Tensor, weight: torch.Tensor) -> None:
        self._pending.append((index.detach(), model_prob.detach(), weight.detach()))

    def _local(self) -> Seen:
        parts = [Seen(i.cpu().numpy().astype(np.int64), p.float().cpu().numpy(), w.float().cpu().numpy())
                 for i, p, w in self._pending]
        return Seen.concatenate([self._carried, *parts])

    def _gather(self, is_main: bool) -> Seen:
        """This epoch's records of every process, on every process (a collective call: all processes make it).
        Afterwards only the main process carries them, so that the next gathering does not repeat them."""
        gathered = Seen.concatenate(gather_object([self._local()])).first_of_each()
        self._pending = []
        self._carried = gathered if is_main else Seen.empty()
        return gathered

    def on_epoch_end(self, args, state, control, **kwargs):
        seen = self._gather(args.process_index == 0)
        if len(seen.index):
            # state.epoch is the number of epochs done; fractional when max_steps stops mid-epoch.
            self.epochs[math.ceil(state.epoch - 1e-9)] = seen
        self._carried = Seen.empty()

    def save(self, folder: Path, is_main: bool) -> None:
        """Write the finished epochs and the current one so far into a checkpoint (collective call)."""
        current = self._gather(is_main)
        if not is_main:
            return
        arrays = {f"epoch{epoch}_{name}": values for epoch, seen in self.epochs.items()
                  for name, values in seen._asdict().items()}
        arrays |= {f"current_{name}": values for name, values in current._asdict().items()}
        np.savez(Path(folder) / CHECKPOINT_FILE, **arrays)

    def load(self, folder: Path, is_main: bool) -> None:
        path = Path(folder) / CHECKPOINT_FILE
        if not path.is_file():
            logger.warning("%s: no %s, so weights.csv will miss the per-epoch weights from before this checkpoint",
                           folder, CHECKPOINT_FILE)
            return
        with np.load(path) as saved:
            columns = {key: saved[key] for key in saved.files}
        fields = Seen._fields
        for key in [k for k in columns if k.startswith("epoch") and k.endswith("_index")]:
            prefix = key[: -len("index")]
            self.epochs[int(prefix[len("epoch"):-1])] = Seen(*(columns[prefix + name] for name in fields))
        if is_main:  # the other processes' share was gathered into the main process when saving
            self._carried = Seen(*(columns[f"current_{name}"] for name in fields))
