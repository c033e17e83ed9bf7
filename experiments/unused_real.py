"""Write the real examples no seed's real set holds, as a second validation split for a grid study.

A study in experiments/grid.json whose variant sets `validation_file` to a path under experiments/work/ gets that
file from here, and grid.py writes it before running the study's cells: the benchmark's quality-checker real file
less the seeded sample each of the study's seeds draws from it (the examples its checker and its real-set models
train on). So the study selects and scores on real data that no model of those seeds saw and that is neither the
benchmark's validation split nor its test split.

    python experiments/unused_real.py --study unused_real
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python experiments/unused_real.py`
from datasets import Dataset  # noqa: E402

from data.files import read_records, resolve_data_path  # noqa: E402
from data.task import subsample  # noqa: E402
from experiments.spec import ROOT, load_spec  # noqa: E402
from trainer.atomic import write_text_atomic  # noqa: E402

DERIVED = "experiments/work/"  # where a study's derived validation files go (ignored by git)


def _derived(variant: dict) -> bool:
    return str(variant.get("validation_file", "")).startswith(DERIVED)


def writes_validation_file(study: dict) -> bool:
    """Whether a grid.json study validates on a file this script writes."""
    return any(_derived(variant) for variant in study["variants"].values())


def unused_records(records: list[dict], limit: int, seeds: list[int]) -> list[dict]:
    """The records none of the seeds' samples of `limit` holds, in file order (the draw run.py makes, by position)."""
    positions = Dataset.from_dict({"position": list(range(len(records)))})
    drawn = {p for seed in seeds for p in subsample(positions, limit, seed)["position"]}
    return [record for position, record in enumerate(records) if position not in drawn]


def write_study_files(spec: dict, study: str) -> list[Path]:
    """Each derived validation file of the study, whole or not at all (the same content every time)."""
    settings = spec["studies"][study]
    real_sets = {(config["quality_checker_train_file"], config["quality_checker_max_train_samples"])
                 for config in ({**spec["protocol"], **spec["benchmarks"][b]} for b in settings["benchmarks"])}
    if len(real_sets) != 1:
        raise SystemExit(f"{study}: one validation_file for benchmarks with different real sets")
    (real_file, limit), = real_sets
    records = read_records(resolve_data_path(real_file, "quality_checker_train_file"))
    kept = unused_records(records, limit, settings["seeds"])
    written = []
    for variant in (v for v in settings["variants"].values() if _derived(v)):
        target = ROOT / variant["validation_file"]  # atomic: a cell reading the file never sees half of it
        write_text_atomic(target, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in kept))
        print(f"{variant['validation_file']}: {len(kept)} of the {len(records)} examples of {real_file} "
              f"(seeds {settings['seeds']} draw the others)")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="unused_real", help="the grid.json study whose validation files to write")
    write_study_files(load_spec(), parser.parse_args(argv).study)


if __name__ == "__main__":
    main()
