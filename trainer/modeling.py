"""Loading tokenizers and classifiers, and turning text into model inputs."""

from __future__ import annotations

import itertools
import logging
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch
from datasets import Dataset
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

from data.store import arrow_column, release_mapped_pages
from references.models import ModelSource, loading
from references.wandb_refs import ArtifactError

logger = logging.getLogger(__name__)
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


def load_tokenizer(source: ModelSource, use_fast: bool = True):
    with loading(source, "tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(source.location, use_fast=use_fast, **source.loading_options)
    # Without its vocabulary files, transformers builds a tokenizer that knows only the special tokens and turns
    # every word into [UNK]: training would go on, on nothing.
    if len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
        raise ArtifactError(f"{source.field}: the tokenizer in {source.location} has no vocabulary; its files "
                            "(tokenizer.json, or vocab.txt, vocab.json, ... with tokenizer_config.json) are missing")
    if tokenizer.model_max_length > 1_000_000:  # not saved with the tokenizer: texts would outrun the positions
        tokenizer.model_max_length = _position_limit(source) or tokenizer.model_max_length
    if tokenizer.pad_token is None:  # a decoder's (GPT-2, Llama, Qwen): batches of texts of unequal length need one
        if tokenizer.eos_token is None:
            raise ArtifactError(f"{source.field}: the tokenizer in {source.location} has neither a padding token nor "
                                "an end-of-text token to pad with; name one as pad_token in its tokenizer_config.json")
        tokenizer.pad_token = tokenizer.eos_token
        logger.info("%s: the tokenizer of %s has no padding token; its end-of-text token %r pads the batches",
                    source.field, source.location, tokenizer.eos_token)
    return tokenizer


def _position_limit(source: ModelSource) -> int | None:
    """The longest input the model's position embeddings take, less 2: RoBERTa-family models number their positions
    from after the padding id, and 2 tokens fewer costs any other model nothing that matters. None for a model
    without absolute positions (DeBERTa-v3: position_biased_input false), which reads longer texts too."""
    with loading(source, "model config"):
        config = AutoConfig.from_pretrained(source.location, **source.loading_options)
    if getattr(config, "position_biased_input", True) is False:
        return None
    positions = getattr(config, "max_position_embeddings", None)  # GPT-2's n_positions too, by its attribute_map
    return positions - 2 if isinstance(positions, int) and positions > 2 else None


def reads_padding_of(model, tokenizer) -> None:
    """A decoder classifier (GPT-2, Llama, Qwen) classifies a text by its last token that is not padding, so its
    config must name the tokenizer's padding token, which it often lacks (load_tokenizer pads with end-of-text).
    The Trainer sees to it before training; a classifier that only scores (a checker, predict.py's) needs this."""
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id


def label_names_of(config) -> list[str]:
    """A classifier's label names, in id order."""
    return [str(config.id2label[i]) for i in range(config.num_labels)]


def named_labels(config) -> list[str] | None:
    """A classifier's label names, or None where it only has the generic LABEL_i names, or numbers."""
    names = label_names_of(config)
    return None if all(_GENERIC_LABEL.match(n) for n in names) or all(n.isdigit() for n in names) else names


def label_order(config, task_labels: list[str]) -> list[int] | None:
    """Where a classifier names the task's labels in another order (a hub classifier numbered otherwise): its output
    row of each task label. None where its rows are the task's ids, or its labels are not the task's names."""
    names = named_labels(config)
    if names is None or names == task_labels or sorted(names) != sorted(task_labels):
        return None
    return [names.index(label) for label in task_labels]


def load_classifier(
    source: ModelSource,
    label_names: list[str],
    ignore_mismatched_sizes: bool = False,
    match_by: str = "name",
):
    """A classifier of the task's labels, from a base model (its head drawn new) or from a classifier, whose head is
    reordered where it numbers the same labels otherwise (unless `match_by` is "id", as for a checker's
    probabilities: match_labels_by)."""
    with loading(source, "model config"):
        config = AutoConfig.from_pretrained(source.location, **source.loading_options)
    order = label_order(config, label_names) if match_by == "name" else None
    config.id2label = dict(enumerate(label_names))  # num_labels follows
    config.label2id = {name: i for i, name in enumerate(label_names)}
    try:
        with loading(source, "model"), _load_report_held() as held:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                source.location,
                config=config,
                ignore_mismatched_sizes=ignore_mismatched_sizes,
                output_loading_info=True,
                **source.loading_options,
                **source.weights_options,
            )
    except ArtifactError as err:
        if "ignore_mismatched_sizes" not in str(err):  # transformers' message when a weight's shape differs
            raise
        raise ArtifactError(f"{source.field}: the weights in {source.location} do not fit a classifier of the task's "
                            f"{len(label_names)} labels (a classification head of another size); set "
                            "ignore_mismatched_sizes true to train a new head") from err
    base = f"{model.base_model_prefix}."
    if info["unexpected_keys"] or info["mismatched_keys"] or any(k.startswith(base) for k in info["missing_keys"]):
        held.release()
    # Only a head drawn new has nothing to reorder: one read with base weights missing (a pooler) is the classifier's.
    if order is not None and all(k.startswith(base) for k in info["missing_keys"]):
        _reorder_head(model, order)
        logger.info("%s: %s numbers the labels otherwise; its classification head is reordered to the task's %s",
                    source.field, source.location, label_names)
    return model


def _reorder_head(model, order: list[int]) -> None:
    """The head's output rows (the weights beside the base model with one row per label) in `order`."""
    base = f"{model.base_model_prefix}."
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if not name.startswith(base) and weight.shape[0] == len(order):
                weight.copy_(weight[order])


def load_trained_classifier(source: ModelSource, what: str = "model"):
    """A classifier saved with its head (a checker, or a run's output_dir), as it is. A model without one (a base
    model such as MiniLM) is refused: transformers would draw the head at random, and its labels would mean nothing."""
    with loading(source, what), _load_report_held() as held:
        model, info = AutoModelForSequenceClassification.from_pretrained(source.location, output_loading_info=True,
                                                                         **source.loading_options,
                                                                         **source.weights_options)
    if info["missing_keys"]:
        raise ArtifactError(f"{source.field}: {source.location} is not a trained classifier: its weights lack "
                            f"{', '.join(sorted(info['missing_keys'])[:4])}; give a classifier fine-tuned on the task "
                            "(a run's output_dir or a checker folder)")
    if info["unexpected_keys"] or info["mismatched_keys"]:
        held.release()
    return model


class _HeldReports(logging.Filter):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if "LOAD REPORT" in record.getMessage():
            self.records.append(record)
            return False
        return True

    def release(self) -> None:
        for record in self.records:
            logging.getLogger(record.name).handle(record)


@contextmanager
def _load_report_held():
    """Hold back transformers' LOAD REPORT while a classifier loads: it lists the new classification head, which
    fine-tuning always adds, on every run. `release()` shows it after all, for anything beyond that head (a missing
    or mismatched weight of the base model, an unexpected one)."""
    loader = logging.getLogger("transformers.modeling_utils")
    held = _HeldReports()
    loader.addFilter(held)
    try:
        yield held
    finally:
        loader.removeFilter(held)


def checkpoint_mismatch(model, folder: Path) -> str | None:
    """How the weights in a checkpoint folder differ in shape from `model`'s (another run's checkpoint), or None."""
    path = folder / "model.safetensors"
    if not path.is_file():  # sharded: transformers reports a mismatch itself
        return None
    own = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    with safe_open(str(path), "pt") as saved:
        names = list(saved.keys())
        for name in names:
            shape = tuple(saved.get_slice(name).get_shape())
            if name in own and own[name] != shape:
                return f"its {name} has shape {list(shape)}, this run's model {list(own[name])}"
    if not set(names) & set(own):
        return f"none of its weights belong to this run's model ({type(model).__name__})"
    return None


def encode(
    dataset: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    text_columns: list[str],
    max_length: int,
    pad_to_max_length: bool = False,
    keep_columns: tuple[str, ...] = ("label",),
) -> Dataset:
    """Tokenize; without pad_to_max_length, batches are padded later to their longest input."""
    max_length = min(max_length, tokenizer.model_max_length)
    batches = itertools.count(1)
    separator = pair_separator(tokenizer, text_columns)

    def tokenize(batch):
        if next(batches) % 50 == 0:  # tokenizing reads every text once: let go of the pages read so far
            release_mapped_pages()
        texts = [batch[c] for c in text_columns]
        if separator:  # at the head of the second text, where truncating the longer text from its end keeps it
            texts[1] = [separator + t for t in texts[1]]
        return tokenizer(*texts, truncation=True, max_length=max_length,
                         padding="max_length" if pad_to_max_length else False)

    drop = [c for c in dataset.column_names if c not in keep_columns]
    return dataset.map(tokenize, batched=True, remove_columns=drop, desc="Tokenizing")


def log_cut_inputs(encoded: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int, what: str) -> None:
    """Say how many of `what` reach the token limit `encode` cut them at; warn when a tenth or more do, since the
    model then never reads the ends of many texts."""
    limit = min(max_length, tokenizer.model_max_length)
    lengths = pc.list_value_length(arrow_column(encoded, "input_ids")).to_numpy()
    if len(lengths) and "attention_mask" in encoded.column_names and (lengths == limit).all():
        # padded to the limit (pad_to_max_length): the tokens that are not padding
        mask = pc.list_flatten(arrow_column(encoded, "attention_mask")).to_numpy()
        lengths = mask.reshape(len(lengths), limit).sum(axis=1)
    reached = int((lengths >= limit).sum())
    if not reached:
        return
    many = reached * 10 >= len(lengths)
    advice = f"; a larger max_seq_length (the model reads up to {tokenizer.model_max_length}) keeps more of them" \
        if many and limit < tokenizer.model_max_length else ""
    (logger.warning if many else logger.info)("%d of %d %s reach max_seq_length (%d tokens), where longer ones are "
                                              "cut%s", reached, len(lengths), what, limit, advice)


def pair_separator(tokenizer: PreTrainedTokenizerBase, text_columns: list[str]) -> str:
    """What goes between a pair's two texts: nothing for a single text, or where the tokenizer marks the boundary
    itself (BERT's [SEP]); its separator or end-of-text token where it would join them end to end, as a decoder's
    does (GPT-2, Qwen: 'the cat sat.The dog ran.')."""
    marks_it = tokenizer.num_special_tokens_to_add(pair=True) > tokenizer.num_special_tokens_to_add(pair=False)
    if len(text_columns) != 2 or marks_it:
        return ""
    return tokenizer.sep_token or tokenizer.eos_token or ""


def longest_first(encoded: Dataset) -> np.ndarray:
    """Indices of `encoded` by decreasing token count (stable), so that batches taken in this order pad little."""
    lengths = pc.list_value_length(arrow_column(encoded, "input_ids")).to_numpy()
    return np.argsort(-lengths.astype(np.int64), kind="stable")


def for_evaluation(encoded: Dataset) -> Dataset:
    """An evaluation split in longest-first order: accuracy and F1 do not depend on the order, padding does."""
    return encoded.select(longest_first(encoded))
