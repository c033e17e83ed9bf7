"""A checker's probability of each example's gold label, computed once, before training."""

from __future__ import annotations

import logging

import numpy as np
import torch
from datasets import Dataset
from tqdm.auto import tqdm

from data.files import listed
from data.store import release_mapped_pages
from references.models import ModelSource
from trainer.modeling import encode, label_order, load_tokenizer, longest_first, named_labels, reads_padding_of

# Batches scored between two release_mapped_pages() calls. Longest-first batches gather rows from all over the token
# file, and each row read maps its neighbours too (the kernel's fault-around): 100 batches mapped the whole file.
RELEASE_EVERY_BATCHES = 10
logger = logging.getLogger(__name__)


class CheckerError(ValueError):
    """A checker that cannot be used for this task; the message shows both sides."""


def task_label_order(config, task_labels: list[str], field: str, match_by: str = "name") -> list[int] | None:
    """The checker's output column of each task label, where the checker names the same labels in another order (a
    hub classifier numbered otherwise); None where its columns are the task's ids. A label space that does not match
    is an error."""
    names = named_labels(config)
    if config.num_labels != len(task_labels):
        shown = f" [{listed(names)}]" if names else ""  # generic LABEL_i names say nothing
        raise CheckerError(f"{field}: the checker has {config.num_labels} labels{shown}, the task has "
                           f"{len(task_labels)} [{listed(task_labels)}]")
    order = label_order(config, task_labels)
    if match_by == "id":
        if order is not None:  # as asked; but the names say the ids mean other labels
            logger.warning("%s: the checker names the task's labels in another order, [%s]; match_labels_by id "
                           "reads its probabilities by id, as the task's [%s]", field, listed(names),
                           listed(task_labels))
        return None
    if order is None and names not in (None, task_labels) and not all(n.isdigit() for n in task_labels):
        raise CheckerError(f"{field}: the checker's labels [{listed(names)}] differ from the task's "
                           f"[{listed(task_labels)}] "
                           "(set match_labels_by to 'id' if they mean the same classes in the same order)")
    return order


def class_probabilities(
    model,
    source: ModelSource,
    dataset: Dataset,
    text_columns: list[str],
    max_length: int,
    batch_size: int = 64,
    field: str = "checker",
) -> np.ndarray:
    """P(c | x_i) of `model` for every example and class, shape [N, C], with the checker's own tokenizer."""
    logits = class_logits(model, source, dataset, text_columns, max_length, batch_size, field)
    return torch.from_numpy(logits).softmax(-1).numpy()


def class_logits(
    model,
    source: ModelSource,
    dataset: Dataset,
    text_columns: list[str],
    max_length: int,
    batch_size: int = 64,
    field: str = "checker",
    progress: tqdm | None = None,
) -> np.ndarray:
    """The logits of `model` for every example and class, shape [N, C], with the checker's own tokenizer.

    Inference mode, on the model's device, and batches sorted by length so that little padding is computed;
    `progress`, a progress bar, advances by each batch's examples.
    """
    tokenizer = load_tokenizer(source)
    reads_padding_of(model, tokenizer)
    encoded = encode(dataset, tokenizer, text_columns, max_length)
    order = longest_first(encoded)
    inputs = encoded.remove_columns([name for name in encoded.column_names if name == "label"])
    logits = np.empty((len(dataset), model.config.num_labels), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for number, start in enumerate(range(0, len(order), batch_size), start=1):
            idx = order[start:start + batch_size]
            batch = tokenizer.pad(inputs[idx.tolist()], return_tensors="pt")
            logits[idx] = model(**batch.to(model.device)).logits.float().cpu().numpy()
            if progress is not None:
                progress.update(len(idx))
            if number % RELEASE_EVERY_BATCHES == 0:  # the batches come from all over the token file
                release_mapped_pages()
    bad = ~np.isfinite(logits).all(axis=1)
    if bad.any():
        raise CheckerError(f"{field}: the checker gave {int(bad.sum())} non-finite outputs "
                           f"(first at training example {int(np.flatnonzero(bad)[0])}); its weights may be corrupt")
    return logits


def at_gold(probabilities: np.ndarray, labels) -> np.ndarray:
    """Each example's probability at its gold label: row i, column labels[i] of an [N, C] array."""
    return probabilities[np.arange(len(probabilities)), np.asarray(labels)]


def spread(probabilities: np.ndarray) -> float:
    """How much a checker's answer depends on the text: the mean total-variation distance of each example's class
    probabilities from their average over the examples. 0 when it gives every text the same probabilities; at most
    1 - 1/C."""
    return float(0.5 * np.abs(probabilities - probabilities.mean(axis=0)).sum(axis=1).mean())
