"""experiments/grid.json, read by the grid and by the scripts that derive data for it or summarize it."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "experiments" / "grid.json"


def load_spec() -> dict:
    """experiments/grid.json: the benchmarks, methods, seeds, studies and selection rule."""
    return json.loads(SPEC.read_text())


def selection_rule() -> str:
    """The rule every cell's reported model is chosen by (grid.json "selection"), on the validation split."""
    return load_spec().get("selection", "accuracy")
