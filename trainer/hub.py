"""Publishing the trained model on the Hugging Face hub (push_to_hub): checked before any work, so that a run
that could not push at the end stops at once rather than after training."""

from __future__ import annotations

import logging
from pathlib import Path

from huggingface_hub import HfApi, get_token

from config.arguments import WeightedTrainingArguments
from config.loading import ConfigError
from references.models import hub_reachable

logger = logging.getLogger(__name__)


def check_hub_access(args: WeightedTrainingArguments) -> None:
    """With push_to_hub: a token, a reachable hub, and a token the hub accepts; else a ConfigError naming push_to_hub.
    The push itself is the Trainer's (Trainer.push_to_hub: model, tokenizer and the model card)."""
    if not args.push_to_hub:
        return
    token = args.hub_token or get_token()
    if not token:
        raise ConfigError("push_to_hub: no Hugging Face token; log in with `hf auth login`, or set HF_TOKEN or "
                          "hub_token (or train without push_to_hub and upload output_dir later with `hf upload`)")
    if not hub_reachable():
        raise ConfigError("push_to_hub: the Hugging Face hub is unreachable (no network, or HF_HUB_OFFLINE is set); "
                          "train without push_to_hub and upload output_dir later with `hf upload`")
    try:
        user = HfApi().whoami(token=token)["name"]
    except Exception as err:  # huggingface_hub raises several types for a refused or expired token
        raise ConfigError(f"push_to_hub: the hub did not accept the token ({type(err).__name__}); log in again "
                          "with `hf auth login`") from None
    logger.info("push_to_hub: the model will be pushed to %s as %s at the end of training",
                args.hub_model_id or Path(args.output_dir).resolve().name, user)
