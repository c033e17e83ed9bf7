"""The shipped MRPC configs run as a user runs them, their test metrics side by side in results/shipped.json.

    python experiments/shipped.py                          # every run below that results/shipped.json lacks
    python experiments/shipped.py --runs recommended dimp  # some, run again

Either way the table of them in the README's Run section is written again from results/shipped.json.

Besides the configs as shipped: the same data with the real set added to the training data (CE), and CE on the real
set alone with the quality checker's recipe (the same 500 pairs, 5 epochs at 6e-5): the two things a user could do
instead of weighting. Those two keep their last epoch, as the recommended config and the grid do; the paper's configs
keep the epoch of best validation accuracy, as the authors' do. The test split only reports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python experiments/shipped.py`

from app.cli import until_stopped  # noqa: E402
from experiments.grid import children_cpu_s, launched, wait_for  # noqa: E402
from experiments.spec import ROOT  # noqa: E402
from trainer.atomic import write_json_atomic, write_text_atomic  # noqa: E402

OUTPUT = ROOT / "results" / "shipped.json"
README = ROOT / "README.md"
WORK = ROOT / "experiments" / "work" / "shipped"
# The README's table lists them in this order.
RUNS = {
    "recommended": ("configs/config_recommended.json", {}),
    "real_plus_synthetic": ("configs/config_baseline.json", {"real_set_in_training": "true",
                                                             "load_best_model_at_end": "false"}),
    "real_only": ("configs/config_baseline.json", {"train_file": "mrpc/train.jsonl", "max_train_samples": "500",
                                                   "num_train_epochs": "5", "quality_checker_train_file": "null",
                                                   "load_best_model_at_end": "false"}),
    "ce": ("configs/config_baseline.json", {}),
    "focal": ("configs/config_focal.json", {}),
    "imp": ("configs/config_IMP.json", {}),
    "dimp": ("configs/config_DIMP.json", {}),
    "dimp_no_diversity": ("configs/config_DIMP_no_diversity.json", {}),
}
DESCRIPTIONS = {  # their row in the README's table
    "recommended": "**recommended**: DIMP with the real set joined",
    "real_plus_synthetic": "CE on real + generated", "real_only": "CE on the real set alone",
    "ce": "CE", "focal": "Focal, γ = 1", "imp": "IMP", "dimp": "DIMP", "dimp_no_diversity": "DIMP w/o diversity checker",
}


def run(name: str) -> dict:
    config, overrides = RUNS[name]
    out = WORK / name
    command = [sys.executable, str(ROOT / "run.py"), config, "--output_dir", str(out), "--overwrite_output_dir",
               "true", "--report_to", "none", *(x for key, value in overrides.items() for x in (f"--{key}", value))]
    started, cpu = time.time(), children_cpu_s()
    code = wait_for(launched(command, cwd=ROOT))  # stopped, it stops run.py and waits for its cleanup
    if code != 0:
        raise SystemExit(f"{name}: run.py failed ({code}), as it says above; results/shipped.json keeps the others")
    metrics = json.loads((out / "all_results.json").read_text())
    return {"command": " ".join(["python", "run.py", *command[2:]]).replace(str(ROOT) + "/", ""),
            **{key: metrics[key] for key in ("eval_accuracy", "eval_f1", "test_accuracy", "test_f1")},
            "wall_s": round(time.time() - started, 1),
            "cpu_s": round(children_cpu_s() - cpu, 1)}


def readme_table(done: dict) -> str:
    """The README's table of the shipped runs, in RUNS's order: how to run each, and its MRPC numbers."""
    rows = ["| run | method | test accuracy | test macro-F1 | validation accuracy |", "| --- | --- | ---: | ---: | ---: |"]
    for name, (config, overrides) in RUNS.items():
        if name in done:
            how = " ".join([Path(config).name, *(f"--{key} {value}" for key, value in overrides.items())])
            rows.append(f"| `{how}` | {DESCRIPTIONS[name]} | " + " | ".join(
                f"{100 * done[name][key]:.1f}" for key in ("test_accuracy", "test_f1", "eval_accuracy")) + " |")
    return "\n".join(rows)


def write_readme_table(done: dict) -> None:
    """Replace what lies between the README's SHIPPED markers."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index("<!-- SHIPPED -->\n") + len("<!-- SHIPPED -->\n"), text.index("<!-- /SHIPPED -->")
    updated = text[:start] + readme_table(done) + "\n" + text[end:]
    if updated != text:
        write_text_atomic(README, updated)  # the hand-written rest is never lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="*", choices=list(RUNS), help="run these again (default: those missing)")
    args = parser.parse_args(argv)

    def work() -> None:
        done = json.loads(OUTPUT.read_text()) if OUTPUT.is_file() else {}
        for name in args.runs or [name for name in RUNS if name not in done]:
            result = run(name)
            done = {**(json.loads(OUTPUT.read_text()) if OUTPUT.is_file() else {}), name: result}  # kept as each ends
            write_json_atomic(OUTPUT, dict(sorted(done.items())))
            print(f"{name}: test accuracy {100 * result['test_accuracy']:.1f}, macro-F1 {100 * result['test_f1']:.1f}",
                  flush=True)
        write_readme_table(done)

    return until_stopped(work, "shipped.py")


if __name__ == "__main__":
    raise SystemExit(main())
