"""experiments/grid.json, read by the grid and by the scripts that derive data for it or summarize it."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.selection import RULES

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "experiments" / "grid.json"


STUDY_KEYS = ("benchmarks", "methods", "seeds", "variants", "command", "overrides")


def load_spec() -> dict:
    """experiments/grid.json: the benchmarks, methods, seeds, studies and selection rule."""
    spec = json.loads(SPEC.read_text())
    for name, study in spec.get("studies", {}).items():
        # A misplaced key (a top-level one pasted into a study) would otherwise be silently ignored.
        unknown = sorted(set(study) - set(STUDY_KEYS))
        if unknown:
            raise ValueError(f"{SPEC}: study {name!r} has unknown key {unknown[0]!r}; expected {', '.join(STUDY_KEYS)}")
    return spec


def check_study(spec: dict, name: str) -> None:
    """What the grid reads of a study, checked before any cell runs: a mistake would otherwise stop it partway."""
    study, where = spec["studies"][name], f"{SPEC}: study {name!r}"
    for key in ("benchmarks", "methods", "seeds", "variants"):
        if key not in study:
            raise ValueError(f"{where} has no {key!r}")
    for key in ("benchmarks", "methods"):
        unknown = [value for value in study[key] if value not in spec[key]]
        if unknown:
            raise ValueError(f"{where}: {key} {unknown[0]!r} is not in grid.json's {key} ({', '.join(spec[key])})")
    bad = [seed for seed in study["seeds"] if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0)]
    if bad:
        raise ValueError(f"{where}: seed {bad[0]!r}; expected integers >= 0")
    if not isinstance(study["variants"], dict) or not study["variants"]:
        raise ValueError(f"{where}: variants: expected an object of variant name -> settings")


def selection_rule() -> str:
    """The rule every cell's reported model is chosen by (grid.json "selection"), on the validation split."""
    rule = load_spec().get("selection", "accuracy")
    if rule not in RULES:
        raise ValueError(f"{SPEC}: \"selection\" is {rule!r}; expected one of {', '.join(RULES)}")
    return rule


def with_seed(value, seed: int):
    """A study's value "{seed}" is the cell's seed, and a text holding it names it (one file per seed)."""
    if value == "{seed}":
        return seed
    return value.replace("{seed}", str(seed)) if isinstance(value, str) else value
