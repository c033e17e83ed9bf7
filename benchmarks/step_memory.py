"""What the tensors of one training step of the main job's model hold at their peak, by category (PyTorch's memory
profiler): parameters, gradients, optimizer state, and the activations kept for the backward pass."""

from __future__ import annotations

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile
from torch.profiler._memory_profiler import _CATEGORY_TO_INDEX, MemoryProfileTimeline

from references.models import resolve_model
from trainer.modeling import load_classifier

BATCH, LENGTH = 32, 128  # the main job's batch size and its longest batch (it has pairs of 128 tokens)


def _peak_by_category(prof) -> dict[str, float]:
    _, sizes = MemoryProfileTimeline(prof._memory_profile())._coalesce_timeline("cpu")
    sizes = np.array(sizes, dtype=np.float64) / 2**20
    peak = sizes[sizes.sum(axis=1).argmax()]
    names = {index + 1: (category.name.lower() if category is not None else "unknown")
             for category, index in _CATEGORY_TO_INDEX.items()}
    return {"total_mb": round(float(peak.sum()), 1),
            **{f"{names[i]}_mb": round(float(peak[i]), 1) for i in sorted(names) if peak[i]}}


def step_breakdown(model_name: str) -> dict:
    """The peak of a step on a BATCH x LENGTH batch (one pair padded from 100 tokens), in training mode (dropout on);
    the first step (AdamW's state does not exist yet) and a later one."""
    source = resolve_model(model_name, "model_name_or_path")
    torch.manual_seed(0)
    model = load_classifier(source, ["0", "1"])
    model.train()
    ids = torch.randint(model.config.vocab_size, (BATCH, LENGTH))
    mask = torch.ones(BATCH, LENGTH, dtype=torch.long)
    mask[1:, 100:] = 0
    labels = torch.randint(0, 2, (BATCH,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    result = {"batch": BATCH, "length": LENGTH, "model": model_name,
              "parameters": sum(p.numel() for p in model.parameters())}
    for name in ("first_step", "later_step"):
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
            model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        result[name] = _peak_by_category(prof)
    return result
