"""Finding a checker named in the config, building it first when it does not exist yet."""

from __future__ import annotations

import logging
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable

from accelerate import PartialState
from filelock import Timeout

from references.models import ModelSource, is_local_path, resolve_model
from references.wandb_refs import ArtifactError, local_artifact_dir, looks_like_artifact_ref, parse_artifact_ref
from checkers.build import RECIPE_FILE, CheckerRecipe, recipe_differs
from trainer.atomic import unwritable
from trainer.locks import hold

logger = logging.getLogger(__name__)


def find_or_build(
    reference: str,
    field: str,
    recipe: CheckerRecipe | None,
    build: Callable[[Path, CheckerRecipe], None],
    allow_pickle: bool = False,
    rebuild_stale: bool = False,
    cache_dir: str | None = None,
) -> ModelSource:
    """A W&B reference or local path that does not exist yet is built from `recipe` (when there is one) and cached
    where the next run looks for it; a hub id is always loaded from the hub. A cached checker trained otherwise than
    `recipe` says is reused with a warning, or with `rebuild_stale` (the run's own default cache) built again; a hub
    id's files are cached in `cache_dir`."""
    if looks_like_artifact_ref(reference):
        folder = local_artifact_dir(parse_artifact_ref(reference, field))
    elif is_local_path(reference):
        folder = Path(reference).expanduser()
    else:
        try:
            return resolve_model(reference, field, allow_pickle=allow_pickle, cache_dir=cache_dir)
        except ArtifactError as err:
            if recipe is None:
                raise
            # `checkers/quality` reads as a hub id: a user who meant a folder to build the checker in is told how.
            raise ArtifactError(f"{err}; a checker is built in a new folder only when its path starts with ./, ../, "
                                f"/ or ~ (./{reference})") from err
    with _one_job_at_a_time(folder, field) if recipe is not None else nullcontext():
        return _cached_or_built(reference, folder, field, recipe, build, allow_pickle, rebuild_stale)


@contextmanager
def _one_job_at_a_time(folder: Path, field: str):
    """Two runs started together would each build the checker into the same folder, deleting each other's half-built
    one; so a job finds or builds it holding a lock beside it, and one that waited finds what the other built.
    Under torchrun the main process holds it for the whole job."""
    state = PartialState()
    problem = unwritable(folder.parent)  # checked by every process, so that under torchrun all of them stop
    if problem and not folder.is_dir():
        raise ArtifactError(f"{field}: cannot build the checker in {folder}: {problem}")
    release = None
    if state.is_main_process and not problem:  # a checker on a read-only share is read as it is, without a lock
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock_file = folder.with_name(folder.name + ".lock")
        try:
            release = hold(lock_file, timeout=0)
        except Timeout:
            logger.info("%s: another run is finding or building the checker in %s; waiting for it", field, folder)
            release = hold(lock_file)
    try:
        state.wait_for_everyone()
        yield
    finally:
        if release is not None:
            release()


def _cached_or_built(reference: str, folder: Path, field: str, recipe: CheckerRecipe | None,
                     build: Callable[[Path, CheckerRecipe], None], allow_pickle: bool,
                     rebuild_stale: bool) -> ModelSource:
    """The checker `reference` names, found in `folder` (its local folder, or its W&B artifact's download folder)
    or built there."""
    stale, missing = [], None
    if looks_like_artifact_ref(reference):
        downloaded = folder.is_dir() and any(folder.iterdir())
        try:
            return resolve_model(reference, field, allow_pickle=allow_pickle)
        except ArtifactError as err:
            if recipe is None or downloaded:  # a damaged artifact is reported, never built over
                raise
            missing = err
    elif folder.exists() and not (recipe and folder.is_dir() and not any(folder.iterdir())):  # made for the checker
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
    data = recipe.description.get("train_source", "its data")
    if missing is not None:  # later runs read what is built here as that artifact: said louder than a new folder
        logger.warning("%s; training the %s checker (CE on %s) and caching it there, where later runs take it for "
                       "that artifact (its %s says it was built here)", str(missing).split(". ")[0], recipe.role, data,
                       RECIPE_FILE)
    else:
        why = f"holds a checker trained with other {', '.join(stale)}" if stale else \
            "is empty" if folder.exists() else "does not exist yet"
        (logger.warning if stale else logger.info)("%s: %s %s; training the %s checker (CE on %s) and caching it "
                                                   "there", field, folder, why, recipe.role, data)
    build(folder, recipe)
    return ModelSource(str(folder), field=field)
