"""Settings recorded beside a result (a checker's checker_recipe.json, a run's resolved_config.json), compared with
those of a later run that would reuse or continue it."""

from __future__ import annotations

import json
from typing import Collection, Iterable


def differences(recorded: dict, now: dict, keys: Iterable[str], named_only: Collection[str] = ()) -> list[str]:
    """Each of `keys` whose value differs, with both values as the JSON files write them: `key (recorded; this run
    now)`. A key in `named_only` (a digest of data) is named alone."""
    return [key if key in named_only else
            f"{key} ({json.dumps(recorded.get(key), default=str)}; this run {json.dumps(now.get(key), default=str)})"
            for key in keys if recorded.get(key) != now.get(key)]
