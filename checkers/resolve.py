"""Finding a checker named in the config, building it first when it does not exist yet."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from references.models import ModelSource, is_local_path, resolve_model
from references.wandb_refs import ArtifactError, local_artifact_dir, looks_like_artifact_ref, parse_artifact_ref
from checkers.build import CheckerRecipe, recipe_differs

logger = logging.getLogger(__name__)


def find_or_build(
    reference: str,
    field: str,
    recipe: CheckerRecipe | None,
    build: Callable[[Path, CheckerRecipe], None],
    allow_pickle: bool = False,
    rebuild_stale: bool = False,
) -> ModelSource:
    """A W&B reference or local path that does not exist yet is built from `recipe` (when there is one) and cached
    where the next run looks for it; a hub id is always loaded from the hub. A cached checker trained otherwise than
    `recipe` says is reused with a warning, or with `rebuild_stale` (the run's own default cache) built again."""
    stale = []
    if looks_like_artifact_ref(reference):
        folder = local_artifact_dir(parse_artifact_ref(reference, field))
        downloaded = folder.is_dir() and any(folder.iterdir())
        try:
            return resolve_model(reference, field, allow_pickle=allow_pickle)
        except ArtifactError:
            if recipe is None or downloaded:  # a damaged artifact is reported, never built over
                raise
    elif is_local_path(reference):
        folder = Path(reference).expanduser()
        if folder.exists():
            stale = recipe_differs(folder, recipe) if recipe else []
            if not (stale and rebuild_stale):
                if stale:
                    logger.warning("%s: the cached checker in %s was trained with other %s; delete the folder to "
                                   "rebuild it", field, folder, ", ".join(stale))
                logger.info("%s: reusing the checker cached in %s", field, folder)
                return resolve_model(str(folder), field, allow_pickle=allow_pickle)
        elif recipe is None:
            raise ArtifactError(f"{field}: checker folder {folder} not found (set quality_checker_train_file "
                                "to train a quality checker there)")
    else:
        return resolve_model(reference, field, allow_pickle=allow_pickle)
    why = f"holds a checker trained with other {', '.join(stale)}" if stale else "does not exist yet"
    (logger.warning if stale else logger.info)("%s: %s %s; training the %s checker (CE on %s) and caching it there",
                                               field, folder, why, recipe.role,
                                               recipe.description.get("train_source", "its data"))
    build(folder, recipe)
    return ModelSource(str(folder), field=field)
