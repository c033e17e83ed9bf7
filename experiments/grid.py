"""Run the experiment grid (benchmarks x methods x seeds, and the studies) through run.py.

Each cell is one `python run.py` with a config built from experiments/grid.json; its exact config,
all_results.json and training history are kept in results/cells/. Finished cells are skipped, so the grid can
be stopped at any point and resumed later, in another session. Several may run side by side on one machine;
each cell is run by one of them.

    python experiments/grid.py                       # everything still missing
    python experiments/grid.py --benchmarks mrpc_ctrl --seeds 1
    python experiments/grid.py --seeds 6 --dry-run   # the cells it would run, in order; runs nothing
    python experiments/grid.py --studies checker_size
    python experiments/grid.py --no-grid --studies epochs           # CE and DIMP trained longer (validation)
    python experiments/grid.py --no-grid --studies checker_recipe   # quality checkers only (score.py)
    python experiments/grid.py --no-grid --studies unused_real      # irony selected on real tweets no seed drew
    python experiments/grid.py --no-grid --studies generated_size   # 2,000 and 4,000 generated examples, not 800
    python experiments/grid.py --no-grid --studies real_holdout_irony real_holdout_mrpc  # 20 % of 500 held out?
    python experiments/grid.py --no-grid --studies real_set_size    # 250 and 100 real examples, not 500
    python experiments/grid.py --no-grid --studies checker_steps_fpb real_set_checker_steps  # 100 real examples
    python experiments/grid.py --no-grid --studies other_generator  # MRPC pairs of a second generator (SuperGen)
    python experiments/summarize.py                  # tables and plots from what is finished
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import Timeout

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python experiments/grid.py`

from app.cli import Terminated, until_stopped  # noqa: E402
from config.loading import load_config  # noqa: E402
from experiments.selection import final_model_rule, reported_test  # noqa: E402
from experiments.spec import ROOT, check_study, load_spec, selection_rule, with_seed  # noqa: E402
from experiments.study_files import write_study_files, writes_files  # noqa: E402
from trainer.atomic import open_atomic, write_text_atomic  # noqa: E402
from trainer.locks import hold  # noqa: E402

RESULTS = ROOT / "results" / "cells"
WORK = ROOT / "experiments" / "work"
CHECKERS = ROOT / "cache" / "checkers" / "grid"
# cell_config.json is what the grid gave run.py; config.json in the work folder is the saved model's.
KEPT = ("cell_config.json", "resolved_config.json", "all_results.json", "trainer_state.json", "weights.csv",
        "validation_predictions.npz")
# A cell runs run.py (train and test) or score.py (build the quality checker and score the training data only).
SCRIPTS = {"run": "run.py", "score": "score.py"}
TIME_FILE = "cell_time.json"  # wall and CPU seconds of the cell's run.py (or score.py)
FINISHED = {"run": "all_results.json", "score": "quality_checker_recipe.json"}
CHECKER_KEYS = ("checker_", "quality_checker_", "diversity_checker_")
# The keys that change how a quality checker is built (calibration only changes how it scores).
QUALITY_BUILD_KEYS = ("quality_checker_max_train_samples", "checker_num_train_epochs", "checker_learning_rate",
                      "checker_batch_size", "checker_base_model", "quality_checker_warm_start", "quality_checker_folds",
                      "quality_checker_train_file", "real_validation_fraction", "split_seed")
NOISE_KEYS = ("noise_duplicate_ratio", "noise_swap_ratio", "noise_unrelated_ratio", "noise_unrelated_file")


@dataclass(frozen=True)
class Cell:
    benchmark: str
    method: str
    seed: int
    variant: str = ""  # a study's variant, e.g. "real25"
    command: str = "run"

    @property
    def path(self) -> Path:
        method = "checker" if self.command == "score" else self.method
        return Path(self.benchmark) / (f"{method}__{self.variant}" if self.variant else method) / f"seed{self.seed}"

    @property
    def done(self) -> bool:
        return (RESULTS / self.path / FINISHED[self.command]).is_file()


def log_history(result: Path) -> list[dict]:
    """The Trainer's per-epoch log a finished cell kept (empty when it kept none)."""
    state = result / "trainer_state.json"
    return json.loads(state.read_text())["log_history"] if state.is_file() else []


def ce_cell(cell: Cell) -> Cell:
    """The CE cell whose model is an IMP cell's diversity checker."""
    return Cell(cell.benchmark, "ce", cell.seed, cell.variant)


def real_set_only(config: dict) -> dict:
    """The benchmark's quality-checker real set as the whole training data, trained with the checker's recipe: the
    paper's row "CE-Loss (quality checker)". The seeded sample equals the checker's (the same draw from the same
    file), and nothing is injected into it."""
    checker = {key: config[key] for key in config if key.startswith(CHECKER_KEYS) or key == "match_labels_by"}
    config = {key: value for key, value in config.items() if key not in NOISE_KEYS and key not in checker}
    if "split_file" not in config:
        config["train_file"] = checker["quality_checker_train_file"]
    config.update(max_train_samples=checker["quality_checker_max_train_samples"],
                  num_train_epochs=checker["checker_num_train_epochs"], learning_rate=checker["checker_learning_rate"])
    return config


def in_repo(path: Path) -> str:
    """A path of the repository as cell_config.json gives it, relative to the repository's root (run.py runs there),
    so that `python run.py cell_config.json` from a clone writes in that clone, not where the cell once ran."""
    return f"./{path.relative_to(ROOT).as_posix()}" if path.is_relative_to(ROOT) else str(path)


def cell_config(spec: dict, cell: Cell, overrides: dict | None = None) -> dict:
    config = {**spec["protocol"], **spec["benchmarks"][cell.benchmark], **spec["methods"][cell.method], **(overrides or {})}
    config = {key: with_seed(value, cell.seed) for key, value in config.items()}
    if config.pop("train_on", None) == "real_set":
        config = real_set_only(config)
    # A method or variant gets its own quality checker only where it changes how it is built (shared by all that
    # build it alike); otherwise it shares the grid's.
    base = {**spec["protocol"], **spec["benchmarks"][cell.benchmark]}
    build = sorted((key, value) for key, value in config.items() if key in QUALITY_BUILD_KEYS and base.get(key) != value)
    checkers = CHECKERS / cell.benchmark / f"seed{cell.seed}"
    config.update(
        seed=cell.seed,
        output_dir=in_repo(WORK / cell.path),
        overwrite_output_dir=True,
        name=str(cell.path).replace("/", "_"),
    )
    if "quality_checker_train_file" in config:
        # A file names the folder by its stem: a path's slashes would nest it.
        suffix = "".join(f"_{k}-{Path(v).stem if k.endswith('_file') else v}" for k, v in build)
        config["quality_checker_model"] = in_repo(checkers.with_name(checkers.name + suffix) / "quality")
    if config["problem_type"].endswith("_imp"):
        # Q is CE on the same training data with the same protocol: the CE cell's model, or built alike if missing.
        config["diversity_checker_model"] = in_repo(WORK / ce_cell(cell).path)
    elif config.get("quality_checker_warm_start"):
        # CE on the generated data with the protocol's epochs, built once per benchmark and seed.
        config["diversity_checker_model"] = in_repo(checkers / "diversity")
        config["diversity_checker_num_train_epochs"] = config["num_train_epochs"]
    return config


def uses_quality_checker(cell: Cell, config_file: Path) -> bool:
    """CE and Focal cells name their seed's quality checker too (it may already be cached) but never read it."""
    return "quality" in load_config(str(config_file)).needed_checkers(cell.command)


def _same_run(config: dict) -> dict:
    return {key: value for key, value in config.items() if key not in ("output_dir", "name")}


def finished_twin(config: dict) -> Path | None:
    """A finished cell that ran this very config under another name (real_only on two benchmarks sharing their
    real set): training is deterministic here, so its results are this cell's."""
    for other in RESULTS.glob("*/*/seed*/cell_config.json"):
        if _same_run(json.loads(other.read_text())) == _same_run(config) and (other.parent / "all_results.json").is_file():
            return other.parent
    return None


def keep(sources: dict[str, Path], cell: Cell) -> None:
    """Copy `sources` (name in the cell's results -> file) into the cell's results, each file whole or not at all,
    and last the one whose presence marks the cell finished: a grid stopped while copying (Ctrl-C, a full disk)
    leaves a cell that runs again, not one that counts as finished without its history."""
    for name in sorted(sources, key=lambda name: name == FINISHED[cell.command]):
        with sources[name].open("rb") as source, open_atomic(RESULTS / cell.path / name, mode="wb") as target:
            shutil.copyfileobj(source, target)


def copy_twin(cell: Cell, config: dict, twin: Path) -> None:
    result = RESULTS / cell.path
    write_text_atomic(result / "cell_config.json", json.dumps(config, indent=2) + "\n")
    write_text_atomic(result / "twin_of.txt", f"{twin.relative_to(RESULTS)}: the same config, so the same results\n")
    keep({name: twin / name for name in KEPT if (twin / name).is_file() and name != "cell_config.json"}, cell)
    print(f"  same config as {twin.relative_to(RESULTS)}: results copied", flush=True)


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_cell(cell: Cell, config: dict) -> bool:
    twin = finished_twin(config)
    if twin is not None:
        copy_twin(cell, config, twin)
        return True
    work = WORK / cell.path
    work.mkdir(parents=True, exist_ok=True)
    (work / "cell_config.json").write_text(json.dumps(config, indent=2) + "\n")
    started, cpu = time.time(), children_cpu_s()
    command = [sys.executable, str(ROOT / SCRIPTS[cell.command]), str(work / "cell_config.json")]
    with (work / "run.log").open("w") as log:
        code = wait_for(launched(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
    spent = {"wall_s": round(time.time() - started, 1), "cpu_s": round(children_cpu_s() - cpu, 1)}
    if code != 0:
        print(f"  FAILED ({code}) after {spent['wall_s']:.0f} s; see {work / 'run.log'}", flush=True)
        return False
    result = RESULTS / cell.path
    write_text_atomic(result / TIME_FILE, json.dumps(spent) + "\n")  # checker builds included: they run inside run.py
    kept = {name: work / name for name in KEPT + (("weights_report.md",) if cell.command == "score" else ())
            if (work / name).is_file()}
    recipe = ROOT / config.get("quality_checker_model", work / "none") / "checker_recipe.json"
    if recipe.is_file() and uses_quality_checker(cell, work / "cell_config.json"):
        kept["quality_checker_recipe.json"] = recipe  # what it was trained on, its validation accuracy
    keep(kept, cell)
    for checkpoint in work.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    if cell.command == "score":
        checker = json.loads(recipe.read_text())["validation_metrics"].get("eval_accuracy", float("nan"))
        print(f"  done in {spent['wall_s']:.0f} s: quality checker validation accuracy {100 * checker:.1f}")
        return True
    # What effect.csv will report: the epoch the selection rule keeps, not the final (possibly averaged) model.
    rule, final = selection_rule(), json.loads((result / "all_results.json").read_text())
    test = reported_test(log_history(result), final, rule, final_model_rule(config))
    accuracy = f"{test[0]:.1f}" if test else "not tracked"
    print(f"  done in {spent['wall_s']:.0f} s: test accuracy {accuracy} (epoch kept by {rule})", flush=True)
    return True


def launched(command: list[str], **popen) -> subprocess.Popen:
    """The cell's run.py, which gets SIGTERM, and cleans up, when this process dies however it dies: a grid.py
    killed with SIGKILL (or by the out-of-memory killer) left its run.py training on alone, and the next grid.py ran
    that cell beside it. Linux only (prctl); elsewhere such a run.py runs on."""
    return subprocess.Popen(command, preexec_fn=functools.partial(_ends_with, os.getpid()), **popen)


def _ends_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # died before prctl: no signal will come
            os.kill(os.getpid(), signal.SIGTERM)


def wait_for(run: subprocess.Popen) -> int:
    """The cell's exit status. A grid that is stopped stops its cell, which then cleans up as a run stopped alone
    does: Ctrl-C reaches it from the terminal, and a SIGTERM sent to the grid alone (`kill PID`) is passed on.
    subprocess.run would kill it outright, leaving its temporary data, or leave it running on its own."""
    try:
        return run.wait()
    except BaseException as stop:
        if isinstance(stop, Terminated):
            run.terminate()
        run.wait()
        raise


@contextmanager
def claimed(cells: list[Cell]):
    """True while this grid.py holds the cells, False where another one on this machine holds one of them: several
    can work through the same grid side by side, each cell run once."""
    with ExitStack() as held:
        for cell in cells:
            try:
                held.callback(hold(WORK / cell.path.parent / f"{cell.path.name}.lock", timeout=0))
            except Timeout:
                yield False
                return
        yield True


def ce_first(methods) -> list[str]:
    """IMP uses the CE cell's model as its diversity checker, so CE runs first."""
    return sorted(methods, key=lambda m: m != "ce")


def grid_cells(spec: dict, benchmarks, methods, seeds) -> list[tuple[Cell, dict]]:
    # Seed by seed, so that a partial grid already covers every benchmark.
    return [(Cell(b, m, s), {}) for s in seeds for b in benchmarks for m in ce_first(methods)]


def study_cells(spec: dict, names, benchmarks=None, methods=None, seeds=None) -> list[tuple[Cell, dict]]:
    """The studies' cells; `benchmarks`, `methods` and `seeds`, where given, narrow each study to those."""
    # Variant by variant, so that a partial study already compares its first variants on every benchmark.
    cells = []
    for name in names:
        study = spec["studies"][name]
        command = study.get("command", "run")
        for variant, overrides in study["variants"].items():
            for seed in [s for s in study["seeds"] if seeds is None or s in seeds]:
                for benchmark in [b for b in study["benchmarks"] if benchmarks is None or b in benchmarks]:
                    for method in ce_first([m for m in study["methods"] if methods is None or m in methods]):
                        cells.append((Cell(benchmark, method, seed, variant, command),
                                      {**study.get("overrides", {}), **overrides}))
    return cells


def run_all(spec: dict, todo: list[tuple[Cell, dict]]) -> int:
    """Runs each cell, but one that another grid.py runs or has finished meanwhile; the number that failed."""
    failed = 0
    for i, (cell, overrides) in enumerate(todo, start=1):
        config = cell_config(spec, cell, overrides)
        imp = config["problem_type"].endswith("_imp")  # reads (or builds) the CE cell's model: not while it trains
        with claimed([cell, ce_cell(cell)] if imp else [cell]) as mine:
            if not mine or cell.done:
                why = "finished by another grid.py" if mine else "left to another grid.py, which runs it"
                why += " or its CE cell" if imp and not mine else ""
                print(f"[{i}/{len(todo)}] {cell.path}: {why}", flush=True)
                continue
            print(f"[{i}/{len(todo)}] {cell.path}", flush=True)
            failed += not run_cell(cell, config)
    return failed


def seed(text: str) -> int:
    if not text.isdecimal():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    try:
        spec = load_spec()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    narrow = " (of the grid, and of each study given: all of the grid's or the study's by default)"
    parser.add_argument("--benchmarks", nargs="*", choices=list(spec["benchmarks"]), help="the benchmarks" + narrow)
    parser.add_argument("--methods", nargs="*", choices=list(spec["methods"]), help="the methods" + narrow)
    parser.add_argument("--seeds", nargs="*", type=seed, help="the seeds" + narrow)
    parser.add_argument("--studies", nargs="*", default=[], choices=list(spec["studies"]))
    # each with an underscore too, as every option of run.py is spelt
    parser.add_argument("--no-grid", "--no_grid", action="store_true", help="run only the studies")
    parser.add_argument("--dry-run", "--dry_run", action="store_true",
                        help="list the cells still to run, and run or write nothing")
    args = parser.parse_args(argv)
    try:
        for name in args.studies:
            check_study(spec, name)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # None where not given (all); a value given twice runs once
    benchmarks, methods, seeds = (list(dict.fromkeys(given)) if given else None
                                  for given in (args.benchmarks, args.methods, args.seeds))
    cells = [] if args.no_grid else grid_cells(spec, benchmarks or list(spec["benchmarks"]),
                                               methods or list(spec["methods"]), seeds or spec["seeds"])
    cells += study_cells(spec, args.studies, benchmarks, methods, seeds)
    todo = [(cell, overrides) for cell, overrides in cells if not cell.done]

    def work() -> int:
        print(f"{len(cells) - len(todo)} of {len(cells)} cells already finished; {len(todo)} to run", flush=True)
        if args.dry_run:
            for cell, _ in todo:
                print(cell.path)
            return 0
        for name in args.studies:  # a study reading derived data writes it first (the same file every time)
            if writes_files(spec["studies"][name]):
                write_study_files(spec, name)
        return 1 if run_all(spec, todo) else 0

    return until_stopped(work, "grid.py")


if __name__ == "__main__":
    raise SystemExit(main())
