"""A run's task, ready to train on: its splits read, the quality checker's real set held out or read, a validation
split held out of the real set when there is none, the training data subsampled, noise injected, and the real set
joined when asked."""

from __future__ import annotations

import logging
import random
from collections import Counter

import numpy as np

from config.arguments import DataArguments
from config.loading import RunConfig
from data.files import DataError, listed, read_records, resolve_data_path
from data.noise import NOISE_KINDS, NoiseSpec, inject_noise, unrelated_texts
from data.store import column_array, iter_texts, remove_scratch, scratch_folder
from data.sources import collect_sources, quality_held_out_of_train
from data.task import TaskData, build_task, join_real_set, subsample

logger = logging.getLogger(__name__)


def load_task(cfg: RunConfig) -> TaskData:
    """The task, its splits in Arrow files in a new scratch folder in data_work_dir: `task.close()` removes it."""
    scratch = scratch_folder(cfg.data.data_work_dir)
    try:
        return _prepare(cfg, build_task(collect_sources(cfg.data, cfg.checkers), cfg.data.text_columns,
                                        cfg.data.label_column_name, scratch))
    except BaseException:
        remove_scratch(scratch)
        raise


def _prepare(cfg: RunConfig, task: TaskData) -> TaskData:
    seed = cfg.training.data_seed if cfg.training.data_seed is not None else cfg.training.seed
    splits = task.splits
    if quality_held_out_of_train(cfg.data, cfg.checkers):  # out of the training file's examples, not the augmented
        limit = cfg.checkers.quality_checker_max_train_samples or len(splits["train"]) // 10
        held = sorted(random.Random(seed).sample(range(len(splits["train"])), min(limit, len(splits["train"]) - 1)))
        if not held:
            raise DataError("quality_checker_train_file: is the training file, whose one example cannot be both "
                            "trained on and held out for the quality checker")
        rest = np.ones(len(splits["train"]), dtype=bool)
        rest[held] = False
        splits["quality_train"] = splits["train"].select(held)
        task.origins["quality_train"] = task.origins["train"]
        splits["train"] = splits["train"].select(np.flatnonzero(rest))
        logger.info("Quality checker: %d real examples held out of the training data", len(held))
    if "augmented_train" in splits:
        from datasets import concatenate_datasets

        splits["train"] = concatenate_datasets([splits["train"], splits.pop("augmented_train")])
    sampled = {}  # the splits a *_max_train_samples option sampled, by that option
    whole = len(splits["train"])
    splits["train"] = subsample(splits["train"], cfg.data.max_train_samples, seed)
    if len(splits["train"]) < whole:
        sampled["train"] = "max_train_samples"
        logger.info("Training data: a seeded sample of %d of its %d examples (max_train_samples)",
                    len(splits["train"]), whole)
    noise = NoiseSpec(cfg.data.noise_duplicate_ratio, cfg.data.noise_swap_ratio, cfg.data.noise_unrelated_ratio,
                      cfg.data.noise_seed)
    if noise.active:
        unrelated = None
        if cfg.data.noise_unrelated_file:
            path = resolve_data_path(cfg.data.noise_unrelated_file, "noise_unrelated_file")
            unrelated = unrelated_texts(read_records(path), str(path), cfg.data.label_column_name)
        splits["train"] = inject_noise(splits["train"], task.text_columns, task.num_labels, noise, unrelated)
        # each tag present: the untouched examples keep the data's own tags (a generator's name), where it has them
        logger.info("Noise injected: %s", dict(Counter(splits["train"]["noise"]).most_common()))
    hold_out_validation(task, cfg.data.real_validation_fraction, cfg.data.split_seed)
    if "validation" in splits:
        splits["validation"] = subsample(splits["validation"], cfg.data.max_eval_samples)
    for name in [n for n in splits if n.startswith("test")]:
        splits[name] = subsample(splits[name], cfg.data.max_predict_samples)
    if "quality_train" in splits:
        real = len(splits["quality_train"])
        splits["quality_train"] = subsample(splits["quality_train"], cfg.checkers.quality_checker_max_train_samples, seed)
        if len(splits["quality_train"]) < real:
            sampled["quality_train"] = "quality_checker_max_train_samples"
            logger.info("Real set: a seeded sample of %d of its %d examples (quality_checker_max_train_samples)",
                        len(splits["quality_train"]), real)
    check_label_coverage(task, sampled)
    if cfg.data.real_set_in_training:
        splits["train"] = join_real_set(splits["train"], splits["quality_train"])
        weight = cfg.training.real_set_weight
        logger.info("Training on %d real examples too (real_set_in_training), %s", len(splits["quality_train"]),
                    "the loss's own weight" if weight is None else f"weight {weight:g}")
    # the training texts, case and spacing aside, read once for both checks
    folded = [_folded(texts) for texts in iter_texts(splits["train"], task.text_columns)]
    warn_of_evaluated_texts_in_training(task, folded)
    warn_of_texts_with_two_labels(task, folded)
    return task


def _folded(texts: tuple) -> tuple:
    return tuple(" ".join(text.lower().split()) for text in texts)


def _with_copies(dataset, text_columns: list[str], chosen: list[int]) -> list[int]:
    """`chosen` and every other example whose texts, case and spacing aside, are those of a chosen one."""
    keys = [_folded(texts) for texts in iter_texts(dataset, text_columns)]
    wanted = {keys[i] for i in chosen}
    return sorted(set(chosen) | {i for i, key in enumerate(keys) if key in wanted})


INJECTED = frozenset(NOISE_KINDS) - {"original"}  # the kinds of noise inject_noise tags


def warn_of_texts_with_two_labels(task: TaskData, folded: list[tuple]) -> None:
    """Warns when one text (case and spacing aside) is in the training data under two labels or more: an LLM asked
    for each label in turn may write the same text for several, and the loss then pulls the model both ways. The
    examples tagged as injected noise (a swapped copy) are noise by design, and left out. `folded`: the training
    texts, case and spacing aside."""
    train = task.splits["train"]
    tags = column_array(train, "noise") if "noise" in train.column_names else np.full(len(train), "original")
    labels: dict[tuple, set] = {}
    for key, label, tag in zip(folded, column_array(train, "label"), tags):
        if tag not in INJECTED:
            labels.setdefault(key, set()).add(int(label))
    both = {key: found for key, found in labels.items() if len(found) > 1}
    if both:
        key, found = next(iter(both.items()))
        shown = " / ".join(key)
        shown = shown if len(shown) <= 60 else f"{shown[:59]}…"
        logger.warning("The training data holds %d text(s) under more than one label (case and spacing aside), such "
                       "as %r under %s; check how they were made, or let the checkers' weights (weights.csv) or "
                       "filtering tell which to trust", len(both), shown,
                       " and ".join(repr(task.label_names[i]) for i in sorted(found)))


def warn_of_evaluated_texts_in_training(task: TaskData, folded: list[tuple]) -> None:
    """Warns when texts of the validation or a test split are in the training data too (case and spacing aside): an
    LLM may reproduce the examples it was shown or saw in pre-training, and a file may be copied into another. The
    split would then score texts the model trained on. `folded`: the training texts, case and spacing aside."""
    evaluated = {name: {_folded(texts) for texts in iter_texts(task.splits[name], task.text_columns)}
                 for name in task.splits if name == "validation" or name.startswith("test")}
    trained = set(folded)
    for name, keys in evaluated.items():
        found = keys & trained
        if found:
            logger.warning("The %s split: %d of its %d distinct texts are in the training data too (case and spacing "
                           "aside), so it scores texts the model trained on; remove them from the training data, or "
                           "check how it was made", name, len(found), len(keys))


def check_label_coverage(task: TaskData, sampled: dict[str, str]) -> None:
    """Warns of a label the training data or the real set never shows: often a generation run that failed for one
    class, or a label spelt otherwise in one file (each spelling is a label of its own). One the real set never shows
    gets P′ near 0 from the quality checker, so its training examples get weights near 0. The two sets sharing no
    label is an error: the checker would know nothing of the training data's labels; so is a validation or test
    label that neither set shows. `sampled`: the option that sampled a split, which the warning names instead."""
    shown = {}
    for name, kind in (("train", "training"), ("quality_train", "real")):
        if name not in task.splits:
            continue
        split, counts = task.splits[name], task.label_counts(name)
        shown[name] = [task.label_names[i] for i in np.flatnonzero(counts)]
        absent = [task.label_names[i] for i in np.flatnonzero(counts == 0)]
        if absent:
            option = sampled.get(name)
            advice = f"a sample ({option}), which a larger one may change" if option else \
                "check its labels (their spelling, too)"
            logger.warning("%s: no example of label %s among its %d %s examples; %s",
                           task.origins.get(name, f"the {kind} data"), listed(absent), len(split), kind, advice)
    if len(shown) == 2 and not set(shown["train"]) & set(shown["quality_train"]):
        options = [sampled[name] for name in ("train", "quality_train") if name in sampled]
        advice = f"these are samples ({', '.join(options)}): larger ones may share labels" if options else \
            "a label must be spelt the same in every file"
        raise DataError(f"quality_checker_train_file: {task.origins.get('quality_train', 'the real set')}: none of its "
                        f"labels [{listed(shown['quality_train'])}] is one of the training data's "
                        f"[{listed(shown['train'])}]; {advice}")
    learnt = {label for labels in shown.values() for label in labels}
    for name in [n for n in task.splits if n == "validation" or n.startswith("test")]:
        unknown = [task.label_names[i] for i in np.flatnonzero(task.label_counts(name))
                   if task.label_names[i] not in learnt]
        if unknown:
            raise DataError(f"{task.origins.get(name, f'the {name} split')}: label {listed(unknown)} "
                            "is in neither the training data nor the real set, so no model could learn it; expected "
                            f"one of [{listed(sorted(learnt))}] (a label must be spelt the same in every file)")


def hold_out_validation(task: TaskData, fraction: float, seed: int) -> None:
    """Without a validation split, a stratified, seeded `fraction` of the real set becomes one, to pick the best
    epoch: the quality checker trains on the rest only, and real_set_in_training joins the rest only. Each label
    with at least two examples gives at least one, and keeps at least one; the copies of a held-out text (case and
    spacing aside) are held out with it, so that no text is on both sides."""
    splits = task.splits
    default = DataArguments.real_validation_fraction
    if "validation" in splits and "quality_train" in splits and fraction not in (0, default):
        logger.warning("real_validation_fraction %g is not used: the validation split is %s", fraction,
                       task.origins.get("validation", "given"))
    if "validation" in splits or "quality_train" not in splits or not fraction:
        return
    real = splits["quality_train"]
    by_label: dict[int, list[int]] = {}
    for i, label in enumerate(column_array(real, "label").tolist()):
        by_label.setdefault(label, []).append(i)
    rng = random.Random(seed)
    held: list[int] = []
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        if len(members) >= 2:
            held += members[:min(len(members) - 1, max(1, round(fraction * len(members))))]
    if not held:
        logger.warning("No validation split: the real set (%d examples) is too small to hold one out", len(real))
        return
    held = _with_copies(real, task.text_columns, held)
    rest = np.ones(len(real), dtype=bool)
    rest[held] = False
    kept = np.flatnonzero(rest)
    splits["validation"], splits["quality_train"] = real.select(sorted(held)), real.select(kept)
    origin = task.origins.get("quality_train", "the real set")
    task.origins["validation"] = f"{origin} (held-out part)"
    task.validation_split = {"source": origin, "real_validation_fraction": fraction, "split_seed": seed,
                             "validation_examples": len(held), "remaining_real_examples": len(kept)}
    logger.info("No validation file: %d of the %d real examples in %s (real_validation_fraction %g, stratified by "
                "label, split_seed %d) are the validation split; neither the quality checker nor the model trains on "
                "them (the checker's examples come from the other %d)", len(held), len(real), origin, fraction, seed,
                len(kept))
