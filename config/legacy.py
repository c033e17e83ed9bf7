"""Keys of the authors' configs (transformers 4.46 era) that current transformers renamed or removed."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# Same meaning under a new name.
RENAMED = {
    "evaluation_strategy": "eval_strategy",
    "twomodelloss_wandb_model2": "quality_checker_model",
    "twomodelloss_wandb_model3": "diversity_checker_model",
    "no_cuda": "use_cpu",
    "push_to_hub_model_id": "hub_model_id",
    "push_to_hub_token": "hub_token",
    "torchdynamo": "torch_compile_backend",
    "gradient_checkpointing": "activation_checkpointing",
    "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs",
}

# Removed with no equivalent, or handled differently now (the value is ignored).
DROPPED = {
    "use_auth_token": "use the HF_TOKEN environment variable",
    "overwrite_cache": "data is tokenized in memory on every run",
    "logging_dir": "removed in transformers 5",
    "save_safetensors": "checkpoints are always safetensors",
    "use_mps_device": "removed in transformers 5",
    "jit_mode_eval": "removed in transformers 5",
    "use_ipex": "removed in transformers 5",
    "fp16_opt_level": "removed in transformers 5",
    "half_precision_backend": "removed in transformers 5",
    "fp16_backend": "removed in transformers 5",
    "tpu_num_cores": "removed in transformers 5",
    "tpu_metrics_debug": "removed in transformers 5",
    "past_index": "removed in transformers 5",
    "fsdp_min_num_params": "removed in transformers 5; use fsdp_config",
    "fsdp_transformer_layer_cls_to_wrap": "removed in transformers 5; use fsdp_config",
    "adafactor": "removed in transformers 5; use optim=adafactor",
    "use_legacy_prediction_loop": "removed in transformers 5",
    "push_to_hub_organization": "removed in transformers 5; use hub_model_id",
    "mp_parameters": "removed in transformers 5",
    "ray_scope": "removed in transformers 5",
    "dispatch_batches": "removed in transformers 5; use accelerator_config",
}

# The name changed and so did the value's form: old key -> function(old value) -> {new key: value}.
REWRITTEN = {
    "group_by_length": lambda v: {"train_sampling_strategy": "group_by_length" if _flag("group_by_length", v)
                                  else "random"},
    "per_gpu_train_batch_size": lambda v: {} if v is None else {"per_device_train_batch_size": v},
    "per_gpu_eval_batch_size": lambda v: {} if v is None else {"per_device_eval_batch_size": v},
    "warmup_ratio": lambda v: {} if not v else {"warmup_steps": _ratio("warmup_ratio", v)},
    "include_inputs_for_metrics": lambda v: {"include_for_metrics": ["inputs"]}
    if _flag("include_inputs_for_metrics", v) else {},
    # In transformers 4.x, report_to=null meant "all installed integrations", i.e. W&B in the authors' setup.
    "report_to": lambda v: {"report_to": "wandb" if v is None else v},
    "debug": lambda v: {"debug": v or ""},
}


# Old keys transformers 4.46 read before the new ones, when a config gives both (as the authors' configs do): its
# batch size was `per_gpu_* or per_device_*`, warmup_ratio applied where warmup_steps was 0, a true no_cuda set
# use_cpu, and the other renamed keys replaced their new names' values wherever they were not null (a null one
# gives no new key at all: _new_keys).
OLD_KEY_FIRST = {
    "no_cuda": lambda config: bool(config.get("no_cuda")),
    "warmup_ratio": lambda config: not config.get("warmup_steps"),
    **dict.fromkeys(("per_gpu_train_batch_size", "per_gpu_eval_batch_size", "evaluation_strategy",
                     "push_to_hub_model_id", "push_to_hub_token", "torchdynamo"), lambda config: True),
}


def _flag(key: str, value) -> bool:
    """An old true/false key's value, checked before it is rewritten: "false" would otherwise read as true."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{key}: expected true/false, got {type(value).__name__} {value!r}")
    return bool(value)


def _ratio(key: str, value) -> float:
    """A fraction of the training steps: warmup_steps below 1 means the same."""
    if not isinstance(value, (int, float)) or not 0 <= value < 1:  # true reads as 1: refused too
        raise ValueError(f"{key}: expected a fraction in [0, 1), got {value!r}")
    return float(value)


def translate(config: dict) -> tuple[dict, dict[str, str]]:
    """Return a copy of ``config`` with old keys mapped to current ones, and which old key gave each current key
    (for messages naming the key the config wrote); warn once about dropped keys.

    A key that is both given under its old and its new name keeps the new name's value, but where transformers
    4.46 read the old one first (OLD_KEY_FIRST).
    """
    out: dict = {}
    given_as: dict[str, str] = {}
    dropped, renamed = [], []
    for key, value in config.items():
        if key in DROPPED:
            dropped.append(key)
        elif key in RENAMED or key in REWRITTEN:
            first = _read_first(key, config)
            for new_key, new_value in _new_keys(key, value).items():
                if new_key == key or new_key not in config or first:
                    out[new_key] = new_value
                    if new_key != key:
                        given_as[new_key] = key
            if key in RENAMED and value is not None:
                renamed.append(f"{key} as {RENAMED[key]}")
        elif key not in out or not _set_by_old_key(key, config):
            out[key] = value
            given_as.pop(key, None)
    if renamed:  # so that a later message naming the current key points at the key the config gave
        logger.info("Reading the renamed config keys %s", ", ".join(renamed))
    if dropped:
        logger.warning("Ignoring config keys that no longer exist (see config/legacy.py): %s", ", ".join(dropped))
    return out, given_as


def _set_by_old_key(key: str, config: dict) -> bool:
    """Whether `key`'s value comes from an old key of `config` read first (OLD_KEY_FIRST), whatever the order."""
    return any(_read_first(old, config) and key in _new_keys(old, config[old]) for old in OLD_KEY_FIRST)


def _read_first(old: str, config: dict) -> bool:
    """Whether `config` gives the old key `old` and transformers 4.46 read it before its new name (OLD_KEY_FIRST)."""
    return old in config and old in OLD_KEY_FIRST and OLD_KEY_FIRST[old](config)


def _new_keys(old: str, value) -> dict:
    """The current keys and values the old key `old` gives: none for a renamed key left null, which transformers 4.46
    read as not set."""
    if old in RENAMED:
        return {} if value is None else {RENAMED[old]: value}
    return REWRITTEN[old](value)

