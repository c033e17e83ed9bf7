"""Where a run's splits come from: local files, a hub dataset, or a W&B dataset artifact."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Iterator

from references.models import offline_while_hub_unreachable
from references.wandb_refs import resolve_artifact
from data.files import LABELS_FILE, SUFFIXES, DataError, format_suffix, resolve_data_path
from data.task import LABEL, SplitSource, split_from_file
from config.arguments import CheckerArguments, DataArguments

logger = logging.getLogger(__name__)

# Split name -> substrings that identify its file in a W&B dataset artifact (as the authors' code does).
_ARTIFACT_FILE_HINTS = {"train": ("train",), "validation": ("dev", "valid"), "test": ("test",)}


def _artifact_file(folder: Path, split: str, explicit: str | None, field: str) -> Path | None:
    if explicit:
        path = (folder / explicit).resolve()
        if folder.resolve() not in path.parents or not path.is_file():
            raise DataError(f"{field}: {explicit!r} is not a file inside the artifact folder {folder}")
        return path
    hints = _ARTIFACT_FILE_HINTS[split]
    matches = sorted(p for p in folder.iterdir() if format_suffix(p) in SUFFIXES and any(h in p.name for h in hints))
    return matches[0] if matches else None


def _from_wandb(data: DataArguments) -> dict[str, Path]:
    folder = resolve_artifact(data.wandb_dataset, "wandb_dataset")
    files = {}
    for split, explicit in (("train", data.train_file), ("validation", data.validation_file), ("test", data.test_file)):
        found = _artifact_file(folder, split, explicit, f"{split}_file")
        if found is not None:
            files[split] = found
    if "train" not in files:
        raise DataError(f"wandb_dataset: no training file (name containing 'train') in {folder}")
    return files


def _from_hub(data: DataArguments) -> list[SplitSource]:
    import datasets

    try:
        with offline_while_hub_unreachable():
            loaded = datasets.load_dataset(data.dataset_name, data.dataset_config_name)
    except Exception as err:  # offline, unknown name, ...: `datasets` raises many types
        config = f" (dataset_config_name {data.dataset_config_name!r})" if data.dataset_config_name else ""
        raise DataError(f"dataset_name: could not load {data.dataset_name!r}{config}: {err}") from None
    sources = []
    for split in ("train", "validation", "test"):
        if split not in loaded:
            continue
        part = loaded[split]
        # A hub split whose labels are hidden (GLUE's test splits) marks every one -1: nothing to evaluate.
        if split != "train" and data.label_column_name in part.column_names \
                and part.unique(data.label_column_name) == [-1]:
            logger.warning("dataset_name: %s[%s] holds no labels (every one is -1, the hub's mark of a hidden label), "
                           "so it is not evaluated", data.dataset_name, split)
            continue
        feature = part.features.get(data.label_column_name)
        names = list(feature.names) if hasattr(feature, "names") else None
        sources.append(SplitSource(split, lambda part=part: _rows(part), f"{data.dataset_name}[{split}]", names, "row"))
    return sources


def _rows(dataset) -> Iterator[tuple[int, dict]]:
    """A hub dataset's records, numbered from 1, read a batch at a time."""
    number = 0
    for batch in dataset.iter(batch_size=1000):
        for values in zip(*batch.values()):
            number += 1
            yield number, dict(zip(batch, values))


def collect_sources(data: DataArguments, checkers: CheckerArguments) -> list[SplitSource]:
    """The run's splits, train first; plus the quality checker's real data as extra splits."""
    if data.reads_wandb_dataset:  # RunConfig.check: one source is set
        files = _from_wandb(data)
        sources = [split_from_file(split, path) for split, path in files.items()]
    elif data.split_file:
        path = resolve_data_path(data.split_file, "split_file")
        sources = split_one_file(path, data.split_fractions, data.split_seed, data.label_column_name)
    elif data.dataset_name:
        sources = _from_hub(data)
    else:
        sources = [
            split_from_file(split, resolve_data_path(path, f"{split}_file"))
            for split, path in (("train", data.train_file), ("validation", data.validation_file), ("test", data.test_file))
            if path
        ]
    sources += _augmented(data)
    sources += _quality_checker_sources(data, checkers)
    _check_training_apart_from_evaluation(data, sources)
    return sources


# The option naming each split's file, where it is not `<split>_file`.
_OPTION = {"quality_train": "quality_checker_train_file", "quality_validation": "quality_checker_validation_file"}


def _check_training_apart_from_evaluation(data: DataArguments, sources: list[SplitSource]) -> None:
    """Nothing learns from a file the model is evaluated on: the model trains on neither the validation nor a test
    split, nor on the real set when the validation split is held out of it (real_set_in_training trains on the rest
    of the real set only); the quality checker trains on neither split either (its best epoch is chosen on the
    validation split, and real_set_in_training would join it), and never picks its epoch on a test split."""
    def where(source: SplitSource) -> str:
        return str(Path(source.origin).resolve())  # a split of one file keeps its "[split]" suffix: not the same

    # where each evaluated file is, what it is, and what to do instead
    tests = {where(s): (f"the {s.name} split", "") for s in sources if s.name.startswith("test")}
    validation = [where(s) for s in sources if s.name == "validation"]
    evaluated = {**tests, **{key: ("the validation split", "") for key in validation}}
    real = next((s for s in sources if s.name == "quality_train"), None)
    held_out = {}
    if real is not None and "validation" not in {s.name for s in sources} and data.real_validation_fraction:
        held_out[where(real)] = ("the real set (quality_checker_train_file), whose held-out part is the validation "
                                 "split", " (real_set_in_training trains on the rest of the real set)")
    real_as_validation = {key: ("the validation split", " (leave validation_file out: a part of the real set is then "
                                                        "held out as the validation split)") for key in validation}
    forbidden = {"train": {**evaluated, **held_out}, "augmented_train": {**evaluated, **held_out},
                 "quality_train": {**tests, **real_as_validation}, "quality_validation": tests}
    for source in sources:
        found = forbidden.get(source.name, {}).get(where(source))
        if found is not None:
            what, instead = found
            raise DataError(f"{_OPTION.get(source.name, f'{source.name}_file')}: {source.origin} is {what}; "
                            f"nothing may learn from what the model is evaluated on{instead}")


def _augmented(data: DataArguments) -> list[SplitSource]:
    extra = []
    if data.augmented_train_file:
        extra.append(split_from_file("augmented_train", resolve_data_path(data.augmented_train_file, "augmented_train_file")))
    if data.wandb_augmented_dataset:
        folder = resolve_artifact(data.wandb_augmented_dataset, "wandb_augmented_dataset")
        found = _artifact_file(folder, "train", None, "wandb_augmented_dataset")
        if found is None:
            raise DataError(f"wandb_augmented_dataset: no training file in {folder}")
        extra.append(split_from_file("augmented_train", found))
    if data.wandb_generalization_dataset:
        folder = resolve_artifact(data.wandb_generalization_dataset, "wandb_generalization_dataset")
        files = sorted(p for p in folder.iterdir() if format_suffix(p) in SUFFIXES and p.name != LABELS_FILE)
        for i, path in enumerate(files, start=1):  # a labels.json beside them names their labels
            extra.append(split_from_file(f"test_{i}", path))
    return extra


def split_one_file(path: Path, fractions: list[float], seed: int, label_column: str = LABEL) -> list[SplitSource]:
    """A deterministic stratified split: each label's records are shuffled with `seed` and cut by `fractions`."""
    whole = split_from_file("all", path)
    by_label: dict = {}
    for offset, (_, record) in enumerate(whole.records()):
        by_label.setdefault(str(record.get(label_column)).strip(), []).append(offset)
    parts: dict[str, list] = {"train": [], "validation": [], "test": []}
    rng = random.Random(seed)
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        cut_train = round(fractions[0] * len(group))
        cut_validation = cut_train + round(fractions[1] * len(group))
        parts["train"] += group[:cut_train]
        parts["validation"] += group[cut_train:cut_validation]
        parts["test"] += group[cut_validation:]
    if not parts["train"]:
        count = sum(len(group) for group in by_label.values())
        raise DataError(f"split_ratios: {fractions} leaves no training examples of {path} ({count} records)")
    return [SplitSource(name, whole.records, f"{path}[{name}]", whole.label_names, whole.unit, whole, rows)
            for name, rows in parts.items() if rows]


def quality_held_out_of_train(data: DataArguments, checkers: CheckerArguments) -> bool:
    """True when the quality checker's real set is the training file itself: its examples leave the training data."""
    if not checkers.quality_checker_train_file:
        return False
    quality = resolve_data_path(checkers.quality_checker_train_file, "quality_checker_train_file").resolve()
    # with wandb_dataset, train_file names a file inside the artifact, no data file of its own
    own = [p for p in (None if data.reads_wandb_dataset else data.train_file, data.split_file) if p]
    return any(resolve_data_path(p, "train_file").resolve() == quality for p in own)


def _quality_checker_sources(data: DataArguments, checkers: CheckerArguments) -> list[SplitSource]:
    if not checkers.quality_checker_train_file:
        return []
    extra = [] if quality_held_out_of_train(data, checkers) else [split_from_file("quality_train", resolve_data_path(
        checkers.quality_checker_train_file, "quality_checker_train_file"))]  # else held out of it: data.prepare
    if checkers.quality_checker_validation_file:
        extra.append(split_from_file("quality_validation", resolve_data_path(
            checkers.quality_checker_validation_file, "quality_checker_validation_file")))
    return extra
