"""Loading tokenizers and classifiers, and turning text into model inputs."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pyarrow.compute as pc
from datasets import Dataset
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

from data.store import arrow_column, release_mapped_pages
from references.models import ModelSource

logger = logging.getLogger(__name__)


def load_tokenizer(source: ModelSource, use_fast: bool = True, revision: str = "main", cache_dir: str | None = None):
    return AutoTokenizer.from_pretrained(
        source.location, use_fast=use_fast, revision=revision, cache_dir=cache_dir,
        local_files_only=source.local_files_only, trust_remote_code=source.trust_remote_code,
    )


def load_classifier(
    source: ModelSource,
    label_names: list[str],
    revision: str = "main",
    cache_dir: str | None = None,
    ignore_mismatched_sizes: bool = False,
    config_source: ModelSource | None = None,
    allow_pickle: bool = False,
):
    config_source = config_source or source
    config = AutoConfig.from_pretrained(
        config_source.location,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=config_source.local_files_only,
        trust_remote_code=config_source.trust_remote_code,
    )
    return AutoModelForSequenceClassification.from_pretrained(
        source.location,
        config=config,
        revision=revision,
        cache_dir=cache_dir,
        ignore_mismatched_sizes=ignore_mismatched_sizes,
        local_files_only=source.local_files_only,
        trust_remote_code=source.trust_remote_code,
        use_safetensors=None if allow_pickle else True,
    )


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

    def tokenize(batch):
        if next(batches) % 50 == 0:  # tokenizing reads every text once: let go of the pages read so far
            release_mapped_pages()
        texts = [batch[c] for c in text_columns]
        return tokenizer(*texts, truncation=True, max_length=max_length,
                         padding="max_length" if pad_to_max_length else False)

    drop = [c for c in dataset.column_names if c not in keep_columns]
    return dataset.map(tokenize, batched=True, remove_columns=drop, desc="Tokenizing")


def longest_first(encoded: Dataset) -> np.ndarray:
    """Indices of `encoded` by decreasing token count (stable), so that batches taken in this order pad little."""
    lengths = pc.list_value_length(arrow_column(encoded, "input_ids")).to_numpy()
    return np.argsort(-lengths.astype(np.int64), kind="stable")


def for_evaluation(encoded: Dataset) -> Dataset:
    """An evaluation split in longest-first order: accuracy and F1 do not depend on the order, padding does."""
    return encoded.select(longest_first(encoded))
