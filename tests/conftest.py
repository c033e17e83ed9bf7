"""Shared fixtures: a tiny random BERT with a tokenizer built on the fly, and toy data with known labels."""

from __future__ import annotations

import csv
import json
import logging
import os
import random
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if "PYTEST_XDIST_WORKER" in os.environ:  # pytest.ini's workers share the cores: one thread each, none oversubscribed
    os.environ.setdefault("OMP_NUM_THREADS", "1")

POSITIVE = ["good", "great", "fine", "nice", "happy", "bright"]
NEGATIVE = ["bad", "awful", "poor", "sad", "grim", "dull"]
FILLER = ["the", "a", "movie", "day", "food", "was", "really", "quite", "so", "and", "it", "this"]


def toy_records(n: int, seed: int, pairs: bool = False) -> list[dict]:
    """Sentences whose label is known: 1 if a positive word occurs, else 0."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        label = i % 2
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label else NEGATIVE)]
        rng.shuffle(words)
        record = {"text": " ".join(words), "label": label}
        if pairs:
            record["text_pair"] = " ".join(rng.sample(FILLER, 3))
        records.append(record)
    return records


def byte_level_tokenizer():
    """A GPT-2-style tokenizer: byte-level BPE that adds no tokens of its own, with <|endoftext|> as end of text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator([r["text"] for r in toy_records(40, seed=3)], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run_with(config: dict, tmp_path: Path, **changes) -> dict:
    """A run of `config` with `changes`, from a config file as run.py reads it; its metrics."""
    from app.pipeline import run
    from config.loading import load_config

    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, **changes}))
    return run(load_config(str(path)))


def weights_rows(out: Path) -> list[dict]:
    """The rows of a run's weights.csv."""
    with (out / "weights.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def hub_snapshot(cache: Path, repo_id: str) -> Path:
    """Where `repo_id`'s files go in the hub cache `cache`, laid out as huggingface_hub lays it out (the snapshot its
    main branch points to), so that the hub id loads offline once they are there."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc")
    return repo / "snapshots" / "abc"


def encoder_without_head(model_dir: Path, folder: Path) -> Path:
    """The model of `model_dir` (the tiny BERT) without its classification head, with its tokenizer, saved in
    `folder` as a pretrained encoder is published: a run that loads it draws a new head."""
    from transformers import BertConfig, BertModel

    BertModel(BertConfig.from_pretrained(model_dir)).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(model_dir / name, folder)
    return folder


def write_long_texts(path: Path, n: int = 30_000) -> Path:
    """A jsonl file of n long texts (about 25 MB for 30,000): big enough to see its pages in RSS."""
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"text": f"{i} " + "word " * 150, "label": i % 2}) + "\n")
    return path


def file_backed_mb() -> float:
    """This process's resident pages of mapped files (Linux's RssFile), in MB."""
    line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("RssFile"))
    return int(line.split()[1]) / 1024


@pytest.fixture(scope="session")
def toy_data_root(tmp_path_factory) -> Path:
    """A data root laid out like ../shared/data: toy/{train,validation,test,real}.jsonl and labels.json."""
    root = tmp_path_factory.mktemp("data")
    write_jsonl(root / "toy" / "train.jsonl", toy_records(64, seed=0))
    write_jsonl(root / "toy" / "validation.jsonl", toy_records(24, seed=1))
    write_jsonl(root / "toy" / "test.jsonl", toy_records(24, seed=2))
    write_jsonl(root / "toy" / "real.jsonl", toy_records(32, seed=3))
    (root / "toy" / "labels.json").write_text(json.dumps({"0": "negative", "1": "positive"}))
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer random BERT (no dropout, so runs are comparable step by step) and a WordPiece tokenizer over the
    toy vocabulary, both the same in every session: a WordPiece trainer breaks ties differently from process to
    process, so a trained vocabulary, and every tiny run's numbers with it, would change from one test session to
    the next."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    words = sorted(set(POSITIVE + NEGATIVE + FILLER + "one two three four five six seven eight".split()))
    characters = sorted(set("".join(words)))
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters, *(f"##{c}" for c in characters),
                  *(word for word in words if len(word) > 1)]
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocabulary)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)
    fast.save_pretrained(folder)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=37, max_position_embeddings=64, num_labels=2,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture
def data_root_env(toy_data_root, monkeypatch) -> Path:
    monkeypatch.setenv("DIMP_DATA_ROOT", str(toy_data_root))
    return toy_data_root


@pytest.fixture
def tiny_config(tiny_model_dir, data_root_env, tmp_path) -> dict:
    """A complete run config for the tiny model on the toy data."""
    return {
        "model_name_or_path": str(tiny_model_dir),
        "train_file": "toy/train.jsonl",
        "validation_file": "toy/validation.jsonl",
        "test_file": "toy/test.jsonl",
        "output_dir": str(tmp_path / "out"),
        "num_train_epochs": 2,
        "per_device_train_batch_size": 8,
        "learning_rate": 1e-3,
        "max_seq_length": 32,
        "report_to": "none",
        "disable_tqdm": True,
        "save_strategy": "no",
        "load_best_model_at_end": False,
        "quality_checker_train_file": "toy/real.jsonl",
        "quality_checker_model": str(tmp_path / "checkers" / "quality"),
        "diversity_checker_model": str(tmp_path / "checkers" / "diversity"),
        "checker_num_train_epochs": 1,
        "checker_learning_rate": 1e-3,
    }


@pytest.fixture
def wandb_artifacts_without_key(tmp_path, monkeypatch) -> Path:
    """W&B artifacts looked for in tmp_path/artifacts, with no W&B API key to download one: none in WANDB_API_KEY
    nor in ~/.netrc (HOME an empty folder, for Python's netrc; NETRC a missing file, for the wandb client)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)  # the W&B server's, nor in a settings file of the user's
    monkeypatch.delenv("WANDB_CONFIG_DIR", raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))  # nor in a workspace's settings file: none in tmp_path/wandb
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(home / ".netrc"))
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


@pytest.fixture
def transformers_records():
    """Every record transformers' loggers emit (their own handler does not propagate to pytest's)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    library = logging.getLogger("transformers")
    library.addHandler(handler)
    yield records
    library.removeHandler(handler)


@pytest.fixture
def savefig_fails_after_writing(monkeypatch):
    """matplotlib writes the whole plot, then the disk fills: a plot saved in place would be left half-replaced."""
    import errno

    from matplotlib.figure import Figure

    save = Figure.savefig

    def fails_after_writing(fig, *args, **kwargs):
        save(fig, *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Figure, "savefig", fails_after_writing)
