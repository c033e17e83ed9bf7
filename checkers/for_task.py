"""The checkers a run needs, found or built, and their class probabilities of its training data."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from accelerate import PartialState
from tqdm.auto import tqdm

from checkers.build import CheckerRecipe, build_checker, recorded_recipe, training_recipe
from checkers.calibration import fit_temperature, softmax
from checkers.resolve import find_or_build
from checkers.scoring import CheckerError, class_logits, spread, task_label_order
from config.loading import ConfigError, RunConfig, missing_checker
from config.recommended import recipe_suffix
from data.files import SHOWN_LABELS, as_configured, listed
from data.store import column_array, content_digest
from data.task import REAL_EXAMPLE, TaskData, generated_part
from references.models import ModelSource, is_local_path, resolve_model, short_name
from references.wandb_refs import looks_like_artifact_ref
from trainer.memory import release_freed_memory
from trainer.modeling import label_names_of, load_tokenizer, load_trained_classifier, pair_separator
from trainer.progress import library_bars_off
from trainer.tracking import Tracker

logger = logging.getLogger(__name__)
# Below this spread a quality checker answers nearly every text alike. On the training data of the grid's DIMP cells
# (results/cells/*/dimp*/weights.csv, binary benchmarks) the checkers of 500 real examples spread 0.05-0.43 (0.051:
# MRPC's seed 1, which results/README.md calls flat), those of 50 to 125 real examples 0.004-0.043.
FLAT_SPREAD = 0.05
# What trains a quality checker further, for the warnings about one that few optimizer steps left short.
TRAIN_FURTHER = "more checker_num_train_epochs, a higher checker_learning_rate, or more real examples"


@dataclass
class CheckerOutput:
    """One role's checker (or, cross-fitted, its fold checkers) and its probabilities of the training data."""

    probabilities: np.ndarray  # [N, C]
    sources: list[ModelSource]
    temperature: float | None = None  # fitted when checker_calibration asks for it
    # each source's RECIPE_FILE as it was when used: the model card's account, whatever later runs rebuild there
    recipes: list[dict | None] = field(init=False)

    def __post_init__(self):
        self.recipes = [recorded_recipe(Path(source.location)) for source in self.sources]


def fitted_temperatures(outputs: dict[str, CheckerOutput]) -> dict[str, float]:
    """The calibrated checkers' temperatures, for the run's train metrics."""
    return {f"{role}_checker_temperature": out.temperature for role, out in outputs.items()
            if out.temperature is not None}


def dataset_label(cfg: RunConfig, task: TaskData, split: str = "train") -> str:
    """A short name for the data a split comes from: the hub or W&B dataset, else its file's folder."""
    if cfg.data.dataset_name:
        return short_name(cfg.data.dataset_name)
    if cfg.data.wandb_dataset:
        return short_name(cfg.data.wandb_dataset)
    return short_name(str(Path(task.origins.get(split, task.origins["train"])).parent))


def checker_validation(task: TaskData):
    """Real held-out data to pick a checker's best epoch and, unless cross-fitted, to calibrate it."""
    return task.splits.get("quality_validation", task.splits.get("validation"))


def recipes(cfg: RunConfig, task: TaskData) -> dict[str, CheckerRecipe | None]:
    def trained(role: str) -> dict:
        return {"seed": cfg.training.seed, **training_recipe(role, cfg.checkers, cfg.data.max_seq_length)}

    quality = None
    if "quality_train" in task.splits:
        quality = CheckerRecipe("quality", task.splits["quality_train"], checker_validation(task), {
            "train_source": cfg.checkers.quality_checker_train_file,
            "train_examples": len(task.splits["quality_train"]),
            **trained("quality"),
        })
    generated = generated_part(task.splits["train"])
    diversity = CheckerRecipe("diversity", generated, task.splits.get("validation"), {
        "train_source": as_configured(task.origins["train"]),  # as the quality checker's: the cache survives a move
        "train_examples": len(generated),
        **trained("diversity"),
    })
    return {"quality": quality, "diversity": diversity}


def fold_indices(labels, folds: int, seed: int) -> list[np.ndarray]:
    """`folds` disjoint index sets covering every example, each label spread evenly over them (seeded)."""
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    by_label: dict = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    offset = 0
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        for j, index in enumerate(members):
            parts[(offset + j) % folds].append(index)
        offset += len(members)
    return [np.array(sorted(part), dtype=np.int64) for part in parts]


class _Checkers:
    """Finding, building and scoring with the checkers of one run."""

    def __init__(self, cfg: RunConfig, task: TaskData, model_source: ModelSource, tracker: Tracker):
        self.cfg, self.task, self.tracker = cfg, task, tracker
        self.base = resolve_model(cfg.checkers.checker_base_model, "checker_base_model",
                                  allow_pickle=cfg.model.allow_pickle_checkpoints, cache_dir=cfg.model.cache_dir) \
            if cfg.checkers.checker_base_model else model_source
        self.recipes = recipes(cfg, task)
        # W&B artifact names: the data a checker trains on (a real set's file, for the quality checker) and the model
        model = short_name(cfg.model.model_name_or_path)
        real_file = task.origins.get("quality_train", cfg.checkers.quality_checker_train_file)
        real = short_name(str(Path(real_file).parent)) if real_file else dataset_label(cfg, task)
        self.artifacts = {"quality": f"quality-checker_{real}_{model}" + recipe_suffix("quality", cfg.checkers),
                          "diversity": f"diversity-checker_{dataset_label(cfg, task)}_{model}"
                          + recipe_suffix("diversity", cfg.checkers)}

    def find(self, role: str, reference: str, recipe: CheckerRecipe | None, base: ModelSource,
             artifact: str) -> ModelSource:
        def build(folder, recipe):
            build_checker(folder, recipe, base, self.task.label_names, self.task.text_columns, self.cfg.checkers,
                          self.cfg.training, self.cfg.data.max_seq_length, self.cfg.model.ignore_mismatched_sizes)
            release_freed_memory()  # the build's Trainer, model and optimizer state, before the next phase
            self.tracker.log_artifact(folder, artifact, "model")

        def digest(data) -> str | None:
            return content_digest(data, self.task.text_columns, self.task.label_names) if data is not None else None

        # Beside the file's name and the examples' count: what the examples hold, the validation split that picks the
        # checker's epoch, the model the checker starts from and, for a decoder's pairs, what joins their texts (a
        # checker cached before the separator came in read them run together).
        if recipe is not None:
            columns = self.task.text_columns
            separator = pair_separator(load_tokenizer(base), columns) if len(columns) == 2 else ""
            recipe = replace(recipe, description={
                **recipe.description, "train_data": digest(recipe.train), "validation_data": digest(recipe.validation),
                "base_model": base.name, **({"pair_separator": separator} if separator else {}),
                **({"base_revision": base.revision} if base.revision not in (None, "main") else {})})
        found = find_or_build(reference, f"{role}_checker_model", recipe, build,
                              self.cfg.model.allow_pickle_checkpoints, rebuild_stale=role in self.cfg.default_checkers,
                              cache_dir=self.cfg.model.cache_dir)
        return replace(found, trust_remote_code=self.cfg.model.trust_remote_code)

    def logits(self, source: ModelSource, field: str, datasets: list) -> list[np.ndarray]:
        """The checker's logits of each dataset, a column per task label in the task's order."""
        checker = load_trained_classifier(source, "checker")
        try:
            order = task_label_order(checker.config, self.task.label_names, field, self.cfg.checkers.match_labels_by)
        except CheckerError as err:
            if recorded_recipe(Path(source.location)) is None:  # not one this project built: nothing to build again
                raise
            raise CheckerError(f"{err}; it was built here for other labels: delete {source.location} to build it "
                               "for these") from None
        if order is not None:
            logger.info("%s: the checker numbers the labels %s; its probabilities are matched to the task's %s by "
                        "name", field, label_names_of(checker.config), self.task.label_names)
        batch = max(self.cfg.checkers.checker_batch_size, 64)
        count, started = sum(len(data) for data in datasets), time.perf_counter()
        # One bar over every text it scores; each dataset's own "Tokenizing" bar would cut into it.
        shown = not self.cfg.training.disable_tqdm and PartialState().is_local_main_process
        with tqdm(total=count, unit="text", desc=f"Scoring with the {field.removesuffix('_model').replace('_', ' ')}",
                  disable=not shown) as progress, library_bars_off():
            logits = [class_logits(checker, source, data, self.task.text_columns, self.cfg.data.max_seq_length,
                                   batch, field, progress) for data in datasets]
        logger.info("%s: scored %d texts in %.1f s", field, count, time.perf_counter() - started)
        return logits if order is None else [columns[:, order] for columns in logits]

    def temperature(self, logits: np.ndarray, labels, role: str, held_out: str) -> float | None:
        if self.cfg.checkers.checker_calibration != "temperature":
            return None
        value = fit_temperature(logits, np.asarray(labels))
        logger.info("%s checker: temperature %.3f, fitted on %d real examples (%s)", role, value, len(logits), held_out)
        return value

    def single(self, role: str, reference: str, base: ModelSource) -> CheckerOutput:
        field = f"{role}_checker_model"
        folds = _fold_checkers(reference)
        if folds and not (Path(reference).expanduser() / "config.json").exists():
            raise ConfigError(f"{field}: {reference} holds cross-fitted checkers ({', '.join(folds)}), not one; set "
                              f"quality_checker_folds {len(folds)} to read them, or name another folder")
        held_out = checker_validation(self.task)
        calibrate = self.cfg.checkers.checker_calibration == "temperature"
        if calibrate and held_out is None:  # before a checker is built for nothing
            raise ConfigError("checker_calibration: temperature scaling needs a validation split to fit on")
        source = self.find(role, reference, self.recipes[role], base, self.artifacts[role])
        train_logits, *held_logits = self.logits(source, field, [self.task.splits["train"]]
                                                 + ([held_out] if calibrate else []))
        temperature = self.temperature(held_logits[0], held_out["label"], role, "the validation split") \
            if calibrate else None
        return CheckerOutput(softmax(train_logits, temperature or 1.0), [source], temperature)

    def cross_fitted(self, reference: str, base: ModelSource) -> CheckerOutput:
        """One quality checker per fold of the real set, each trained on the other folds."""
        real, train, recipe = self.task.splits["quality_train"], self.task.splits["train"], self.recipes["quality"]
        if len(real) < 2 * self.cfg.checkers.quality_checker_folds:
            raise ConfigError(f"quality_checker_folds: {self.cfg.checkers.quality_checker_folds} folds need at least "
                              f"two real examples each; the real set has {len(real)}")
        if _fold_checkers(reference) is not None and (Path(reference).expanduser() / "config.json").exists():
            logger.warning("quality_checker_model: %s holds one quality checker, which quality_checker_folds %d does "
                           "not read: each fold's checker is read or built in its fold<i> folder", reference,
                           self.cfg.checkers.quality_checker_folds)
        folds = fold_indices(real["label"], self.cfg.checkers.quality_checker_folds, self.cfg.training.seed)
        self._warn_of_lone_examples(real["label"])
        out_of_fold = np.empty((len(real), self.task.num_labels), dtype=np.float32)
        train_logits, sources = [], []
        for i, held in enumerate(folds, start=1):
            rest = np.setdiff1d(np.arange(len(real)), held)
            fold_recipe = replace(recipe, train=real.select(rest), description={
                **recipe.description, "train_examples": len(rest), "fold": f"{i}/{len(folds)}"})
            source = self.find("quality", f"{reference.rstrip('/')}/fold{i}", fold_recipe, base,
                               f"{self.artifacts['quality']}_fold{i}")
            on_train, on_held = self.logits(source, "quality_checker_model", [train, real.select(held)])
            train_logits.append(on_train)
            out_of_fold[held] = on_held
            sources.append(source)
        temperature = self.temperature(out_of_fold, real["label"], "quality", "each fold by the checker that did not "
                                       "train on it")
        probabilities = np.mean([softmax(logits, temperature or 1.0) for logits in train_logits], axis=0)
        if REAL_EXAMPLE in train.column_names:  # the real set, joined at the end of the training data in its order
            rows = np.flatnonzero(column_array(train, REAL_EXAMPLE).astype(bool))
            probabilities[rows] = softmax(out_of_fold, temperature or 1.0)
        return CheckerOutput(probabilities, sources, temperature)

    def _warn_of_lone_examples(self, labels: list[int]) -> None:
        """A label's only real example is held out of the one fold checker that scores it: that checker never saw
        the label, so the example's P′ (its weight where the real set joins training, and the temperature fit) says
        nothing of its quality."""
        counts = np.bincount(labels, minlength=self.task.num_labels)
        lone = [self.task.label_names[i] for i in np.flatnonzero(counts == 1)]
        if lone:
            logger.warning("quality_checker_folds: label %s has a single real example, scored by the fold checker "
                           "that never saw the label; add real examples of it, or use one checker "
                           "(quality_checker_folds 1)", listed(lone))


def _fold_checkers(reference: str) -> list[str] | None:
    """The cross-fitted checkers (fold1, fold2, ...) a local checker folder holds; None for a hub id, an artifact or a
    folder that does not exist."""
    folder = Path(reference).expanduser()
    if looks_like_artifact_ref(reference) or not is_local_path(reference) or not folder.is_dir():
        return None
    return sorted(p.name for p in folder.glob("fold*") if (p / "config.json").exists())


def checker_probabilities(cfg: RunConfig, task: TaskData, model_source: ModelSource, tracker: Tracker,
                          needed: dict[str, str]) -> dict[str, CheckerOutput]:
    """Each needed checker by role, with its class probabilities of every training example, shape [N, C].
    `needed` maps each role to the option that needs it (see RunConfig.needed_checkers)."""
    checkers = _Checkers(cfg, task, model_source, tracker)
    outputs: dict[str, CheckerOutput] = {}
    for role in sorted(needed, key=lambda r: r != "diversity"):  # the quality checker may start from the diversity one
        field = f"{role}_checker_model"
        reference = getattr(cfg.checkers, field)
        if reference is None:
            raise missing_checker(role, needed[role])
        base = checkers.base
        if role == "quality" and cfg.checkers.quality_checker_warm_start and checkers.recipes["quality"]:
            base = outputs["diversity"].sources[0]
            checkers.recipes["quality"] = replace(checkers.recipes["quality"], description={
                **checkers.recipes["quality"].description, "warm_start": base.location})
        if role == "quality" and cfg.checkers.quality_checker_folds > 1:
            outputs[role] = checkers.cross_fitted(reference, base)
        else:
            outputs[role] = checkers.single(role, reference, base)
    if "quality" in outputs:
        warn_if_flat(outputs["quality"].probabilities)
        warn_if_a_class_goes_unanswered(outputs["quality"].probabilities, task.label_counts("train"), task.label_names)
    return outputs


def warn_if_flat(probabilities: np.ndarray) -> None:
    # P' near the same for every example makes DIMP's weight about P'/P(y|x), IMP's about P'/Q times one number: the
    # weights then say what the model or Q makes of an example, and nothing of what the real data does.
    value = spread(probabilities)
    if value < FLAT_SPREAD:
        logger.warning("The quality checker gives nearly every training example the same class probabilities (they "
                       "move %.3f from their mean, on average; below %.2f): its P' will tell the examples apart "
                       "hardly at all. A checker trained for few optimizer steps stays near the class shares; consider "
                       "%s.", value, FLAT_SPREAD, TRAIN_FURTHER)


def warn_if_a_class_goes_unanswered(probabilities: np.ndarray, labelled: np.ndarray, names: list[str]) -> None:
    """`labelled`: how many of the examples carry each label (TaskData.label_counts)."""
    # A checker that never answers a class gives every example of it a low P', right label or wrong: the weights
    # then shrink the class as a whole, which no spread of the probabilities shows.
    answered = np.bincount(probabilities.argmax(axis=1), minlength=len(names))
    unanswered = np.flatnonzero((answered == 0) & (labelled > 0))
    if not len(unanswered):
        return
    # One warning for them all: a flat checker of 150 classes would otherwise write 149.
    listed = [f"{names[label]!r} ({labelled[label]} labelled so)" for label in unanswered[:SHOWN_LABELS]]
    if len(unanswered) > SHOWN_LABELS:
        listed.append(f"{len(unanswered) - SHOWN_LABELS} more labels")
    named = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"
    whose, classes, it = ("that label's examples down as a class", "the class", "it") if len(unanswered) == 1 \
        else ("those labels' examples down class by class", "these classes", "them")
    logger.warning("The quality checker answers %s for none of the %d training examples: its P' weighs %s, whatever "
                   "their quality. A checker trained for few optimizer steps may not have learnt %s yet; consider %s "
                   "of %s.", named, len(probabilities), whose, classes, TRAIN_FURTHER, it)
