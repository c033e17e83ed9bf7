"""Write a study's derived real-data files: a second validation split, or a user's small real set.

A study in experiments/grid.json may name a file under experiments/work/ (ignored by git); grid.py writes it here
before running the study's cells, from the benchmark's quality-checker real file:
- a variant's `validation_file`: that file less the seeded sample each of the study's seeds draws from it (the
  examples its checker and its real-set models train on). So the study selects and scores on real data that no model
  of those seeds saw and that is neither the benchmark's validation split nor its test split.
- a `quality_checker_train_file` (in the study's overrides or a variant) whose name holds `{seed}`: for each of the
  study's seeds, the sample that seed draws, as its own file: the few hundred real examples a user brings, with
  nothing else to validate on.

    python experiments/study_files.py --study unused_real
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python experiments/study_files.py`
from datasets import Dataset  # noqa: E402

from data.files import read_records, resolve_data_path  # noqa: E402
from data.task import subsample  # noqa: E402
from experiments.spec import ROOT, load_spec, with_seed  # noqa: E402
from trainer.atomic import write_text_atomic  # noqa: E402

DERIVED = "experiments/work/"  # where a study's derived files go (ignored by git)
DERIVED_KEYS = ("validation_file", "quality_checker_train_file")


def _derived_files(study: dict, key: str) -> list[str]:
    settings = [study.get("overrides", {}), *study["variants"].values()]
    return sorted({str(s[key]) for s in settings if str(s.get(key, "")).startswith(DERIVED)})


def writes_validation_file(study: dict) -> bool:
    """Whether a grid.json study validates on a file this script writes."""
    return bool(_derived_files(study, "validation_file"))


def writes_real_set(study: dict) -> bool:
    """Whether a grid.json study trains its checker on a real set this script writes."""
    return bool(_derived_files(study, "quality_checker_train_file"))


def writes_files(study: dict) -> bool:
    """Whether a grid.json study reads any file this script writes."""
    return any(_derived_files(study, key) for key in DERIVED_KEYS)


def _drawn_positions(count: int, limit: int, seed: int) -> set[int]:
    """The positions of the records run.py's seeded sample of `limit` draws from `count` records."""
    positions = Dataset.from_dict({"position": list(range(count))})
    return set(subsample(positions, limit, seed)["position"])


def unused_records(records: list[dict], limit: int, seeds: list[int]) -> list[dict]:
    """The records none of the seeds' samples of `limit` holds, in file order (the draw run.py makes, by position)."""
    drawn = set().union(*(_drawn_positions(len(records), limit, seed) for seed in seeds))
    return [record for position, record in enumerate(records) if position not in drawn]


def drawn_records(records: list[dict], limit: int, seed: int) -> list[dict]:
    """The records seed's sample of `limit` holds, in file order: the real set that seed's checker trains on."""
    drawn = _drawn_positions(len(records), limit, seed)
    return [record for position, record in enumerate(records) if position in drawn]


def write_study_files(spec: dict, study: str) -> list[Path]:
    """Each derived file of the study, whole or not at all (the same content every time)."""
    settings = spec["studies"][study]
    real_sets = {(config["quality_checker_train_file"], config["quality_checker_max_train_samples"])
                 for config in ({**spec["protocol"], **spec["benchmarks"][b]} for b in settings["benchmarks"])}
    if len(real_sets) != 1:
        raise SystemExit(f"{study}: one derived file for benchmarks with different real sets")
    (real_file, limit), = real_sets
    records = read_records(resolve_data_path(real_file, "quality_checker_train_file"))
    files = {path: (unused_records(records, limit, settings["seeds"]), f"(seeds {settings['seeds']} draw the others)")
             for path in _derived_files(settings, "validation_file")}
    for template in _derived_files(settings, "quality_checker_train_file"):
        files |= {with_seed(template, seed): (drawn_records(records, limit, seed), f"(seed {seed}'s draw)")
                  for seed in settings["seeds"]}
    for path, (kept, how) in files.items():
        target = ROOT / path  # atomic: a cell reading the file never sees half of it
        write_text_atomic(target, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in kept))
        print(f"{path}: {len(kept)} of the {len(records)} examples of {real_file} {how}")
    return [ROOT / path for path in files]


def main(argv: list[str] | None = None) -> None:
    spec = load_spec()
    deriving = [name for name, study in spec["studies"].items() if writes_files(study)]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="unused_real", choices=deriving,
                        help="the grid.json study whose derived files to write (those that derive any)")
    write_study_files(spec, parser.parse_args(argv).study)


if __name__ == "__main__":
    main()
