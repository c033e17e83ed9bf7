"""The experiment grid: every cell's config is valid, IMP's diversity checker is the CE cell, and the summary
tables and CSV come out of finished cells."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from config.loading import load_config
from experiments import cells as cell_results
from experiments import grid, markdown, noise_tables, real_set_tables, selection, shipped, summarize


@pytest.fixture(scope="module")
def spec():
    return grid.load_spec()


def test_every_cell_config_parses(spec, tmp_path):
    cells = grid.grid_cells(spec, list(spec["benchmarks"]), list(spec["methods"]), spec["seeds"])
    cells += grid.study_cells(spec, list(spec["studies"]))
    assert len(cells) == (5 * 9 * 3 + 5 * 8 + 5 * 2 + 5 * 5 + 4 * 3 + 4 * 3 + 2 * 2 * 2 * 3 + 5 * 3 + 2 * 2 + 3 * 3
                          + 2 * 3 + 2 * 2 + 3 * 2 * 2 + 2 * 2 * 3 + 2 * 3 * 3 * 2 + 2 * 3 + 3 * 3 + 3 * 5)
    for cell, overrides in cells:
        path = tmp_path / "c.json"
        path.write_text(json.dumps(grid.cell_config(spec, cell, overrides)))
        cfg = load_config(str(path))
        assert cfg.training.seed == cell.seed


@pytest.fixture
def fake_grid(tmp_path, monkeypatch):
    """The grid in tmp_path, each cell run by a stand-in for run.py that, like it, saves a model config.json beside
    its results in the work folder."""
    script = tmp_path / "fake_run.py"
    script.write_text("import json, pathlib, sys\n"
                      "work = pathlib.Path(sys.argv[1]).parent\n"
                      "(work / 'config.json').write_text(json.dumps({'architectures': ['Bert']}))\n"
                      "(work / 'all_results.json').write_text(json.dumps({'test_accuracy': 0.5, 'test_f1': 0.5}))\n"
                      "history = [{'eval_validation_accuracy': 0.8, 'eval_validation_loss': 0.4},\n"
                      "           {'eval_test_accuracy': 0.7, 'eval_test_f1': 0.6},\n"
                      "           {'eval_validation_accuracy': 0.6, 'eval_validation_loss': 0.5},\n"
                      "           {'eval_test_accuracy': 0.9, 'eval_test_f1': 0.9}]\n"
                      "(work / 'trainer_state.json').write_text(json.dumps({'log_history': history}))\n"
                      "(work / 'checkpoint-8').mkdir(exist_ok=True)\n"
                      "(work / 'weights_report.md').write_text('# Training-example weights\\n')\n"
                      "sum(i * i for i in range(3_000_000))\n")  # some CPU time to record
    monkeypatch.setattr(grid, "SCRIPTS", {"run": str(script)})
    monkeypatch.setattr(grid, "WORK", tmp_path / "work")
    monkeypatch.setattr(grid, "RESULTS", tmp_path / "cells")
    monkeypatch.setattr(grid, "CHECKERS", tmp_path / "checkers")
    monkeypatch.setattr(grid, "selection_rule", lambda: "accuracy")  # epoch 1, neither the last nor the final model


def test_a_finished_cell_keeps_the_config_it_was_run_with(tmp_path, fake_grid, capsys):
    checker = tmp_path / "checker"
    checker.mkdir()
    (checker / "checker_recipe.json").write_text(json.dumps({"train_examples": 500}))
    for method, problem_type in (("ce", "single_label_classification"), ("dimp", "single_label_classification_dimp")):
        config = {"seed": 3, "problem_type": problem_type, "quality_checker_model": str(checker),
                  "train_file": "toy/train.jsonl"}
        cell = grid.Cell("bench", method, 3)
        assert grid.run_cell(cell, config)
        kept = tmp_path / "cells" / cell.path
        assert json.loads((kept / "cell_config.json").read_text()) == config
        assert not (kept / "config.json").exists() and cell.done
        assert not (tmp_path / "work" / cell.path / "checkpoint-8").exists()  # 90 MB a cell, never read again
        spent = json.loads((kept / grid.TIME_FILE).read_text())
        assert 0.05 < spent["cpu_s"] <= spent["wall_s"] + 0.1  # its own CPU time, not every earlier child's too
        # Only a cell that reads the quality checker records its recipe: CE names the cached checker, never loads it.
        assert (kept / "quality_checker_recipe.json").is_file() == (method == "dimp")
        # The progress line quotes what effect.csv reports (the epoch validation keeps), not the final model.
        assert "test accuracy 70.0 (epoch kept by accuracy)" in capsys.readouterr().out


def test_a_score_cell_keeps_its_weights_report_and_the_checkers_recipe(tmp_path, fake_grid, monkeypatch, capsys):
    monkeypatch.setitem(grid.SCRIPTS, "score", grid.SCRIPTS["run"])
    checker = tmp_path / "checker"
    checker.mkdir()
    recipe = {"train_examples": 500, "validation_metrics": {"eval_accuracy": 0.75}}
    (checker / "checker_recipe.json").write_text(json.dumps(recipe))
    cell = grid.Cell("bench", "dimp", 3, "r1", "score")
    assert grid.run_cell(cell, {"seed": 3, "problem_type": "single_label_classification_dimp",
                                "quality_checker_model": str(checker), "train_file": "toy/train.jsonl"})
    kept = tmp_path / "cells" / cell.path
    assert cell.done and json.loads((kept / "quality_checker_recipe.json").read_text()) == recipe
    assert (kept / "weights_report.md").read_text() == "# Training-example weights\n"
    assert "quality checker validation accuracy 75.0" in capsys.readouterr().out


def test_a_grid_stopped_while_keeping_a_cell_s_results_runs_the_cell_again(tmp_path, fake_grid, monkeypatch):
    """A full disk (or Ctrl-C) while the results are copied: the cell does not count as finished without its
    history, and no file is left half-written."""
    written, whole = [], grid.open_atomic

    def disk_fills_at_the_history(path, *args, **kwargs):
        written.append(path.name)
        if path.name == "trainer_state.json":
            raise OSError(28, "No space left on device")
        return whole(path, *args, **kwargs)

    cell = grid.Cell("bench", "ce", 1)
    with monkeypatch.context() as full:
        full.setattr(grid, "open_atomic", disk_fills_at_the_history)
        with pytest.raises(OSError, match="No space left"):
            grid.run_cell(cell, {"seed": 1})
    assert not cell.done and "all_results.json" not in written
    assert not list((tmp_path / "cells").rglob("*.tmp"))
    assert grid.run_cell(cell, {"seed": 1}) and cell.done
    assert json.loads((tmp_path / "cells" / cell.path / "trainer_state.json").read_text())["log_history"]


def test_a_cell_that_runs_a_finished_cells_very_config_copies_its_results(tmp_path, fake_grid, capsys):
    """real_only on two benchmarks that share their real set: one run, the same results under both names."""
    first, second = grid.Cell("irony_gpt", "real_only", 1), grid.Cell("noisy_irony", "real_only", 1)
    config = {"seed": 1, "train_file": "irony/real.jsonl"}
    assert grid.run_cell(first, {**config, "output_dir": "a", "name": "a"})
    assert grid.run_cell(second, {**config, "output_dir": "b", "name": "b"}) and second.done
    ran, copied = (tmp_path / "cells" / cell.path for cell in (first, second))
    assert "same config as irony_gpt/real_only/seed1: results copied" in capsys.readouterr().out
    assert (copied / "twin_of.txt").read_text().startswith("irony_gpt/real_only/seed1: the same config")
    assert json.loads((copied / "cell_config.json").read_text())["output_dir"] == "b"  # its own config
    assert all((copied / name).read_bytes() == (ran / name).read_bytes()
               for name in ("all_results.json", "trainer_state.json"))
    assert not (tmp_path / "work" / second.path).exists()  # nothing ran


def test_a_failed_cell_keeps_nothing_and_is_run_again_next_time(spec, tmp_path, fake_grid, monkeypatch, capsys):
    script = tmp_path / "failing_run.py"  # writes its results, then fails as run.py does on bad input
    script.write_text("import pathlib, sys\n"
                      "(pathlib.Path(sys.argv[1]).parent / 'all_results.json').write_text('{}')\n"
                      "sys.exit(2)\n")
    monkeypatch.setattr(grid, "SCRIPTS", {"run": str(script)})
    cell = grid.Cell("mrpc_ctrl", "ce", 1)
    assert grid.run_all(spec, [(cell, {})]) == 1  # the number of cells that failed
    assert not cell.done and not (tmp_path / "cells").exists()
    assert "FAILED (2)" in capsys.readouterr().out


def test_the_grid_says_what_is_left_to_run_and_exits_non_zero_when_a_cell_failed(fake_grid, monkeypatch, capsys):
    """A script or scheduler driving the grid reads its exit status."""
    finished = grid.Cell("mrpc_ctrl", "ce", 1)
    (grid.RESULTS / finished.path).mkdir(parents=True)
    (grid.RESULTS / finished.path / "all_results.json").write_text("{}")
    argv = ["--benchmarks", "mrpc_ctrl", "--methods", "ce", "--seeds", "1", "2"]
    with monkeypatch.context() as failing:
        failing.setattr(grid, "SCRIPTS", {"run": "no_such_run.py"})
        assert grid.main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith("1 of 2 cells already finished; 1 to run\n[1/1] mrpc_ctrl/ce/seed2\n") and "FAILED" in out
    assert grid.main(argv) == 0 and grid.Cell("mrpc_ctrl", "ce", 2).done


def grid_process(tmp_path, script: Path, seeds: list[str], **popen) -> subprocess.Popen:
    """`python experiments/grid.py` for mrpc_ctrl's CE cells of `seeds`, in tmp_path, each cell run by `script`."""
    driver = (f"import sys; sys.path.insert(0, {str(grid.ROOT)!r})\n"
              "from experiments import grid\n"
              f"grid.SCRIPTS, grid.WORK = {{'run': {str(script)!r}}}, grid.Path({str(tmp_path / 'work')!r})\n"
              f"grid.RESULTS = grid.Path({str(tmp_path / 'cells')!r})\n"
              f"sys.exit(grid.main(['--benchmarks', 'mrpc_ctrl', '--methods', 'ce', '--seeds', *{seeds!r}]))\n")
    return subprocess.Popen([sys.executable, "-c", driver], stderr=subprocess.PIPE, text=True, **popen)


def shipped_process(tmp_path, script: Path, **popen) -> subprocess.Popen:
    """`python experiments/shipped.py --runs ce` in tmp_path, with `script` (named run.py there) as run.py."""
    driver = (f"import sys; sys.path.insert(0, {str(grid.ROOT)!r})\n"
              "from experiments import shipped\n"
              f"shipped.ROOT = shipped.Path({str(script.parent)!r})\n"
              "shipped.WORK, shipped.OUTPUT = shipped.ROOT / 'work', shipped.ROOT / 'shipped.json'\n"
              "sys.exit(shipped.main(['--runs', 'ce']))\n")
    return subprocess.Popen([sys.executable, "-c", driver], stderr=subprocess.PIPE, text=True, **popen)


def _cell_started(tmp_path, driver: str, script: Path, seen: Path, **popen) -> tuple[subprocess.Popen, int]:
    """grid.py or shipped.py running `script` as its run.py, once that has written 'started <pid>' to `seen`; and
    that pid."""
    process = (grid_process(tmp_path, script, ["1"], **popen) if driver == "grid"
               else shipped_process(tmp_path, script, **popen))
    deadline = time.time() + 120
    while not (seen.is_file() and seen.read_text().startswith("started")) and time.time() < deadline:
        time.sleep(0.2)
    return process, int(seen.read_text().split()[1])


@pytest.mark.parametrize("driver", ["grid", "shipped"])
@pytest.mark.parametrize("stop, to_group, status, line", [
    (signal.SIGTERM, False, 128 + signal.SIGTERM, "terminated"),  # `kill PID` of the script alone
    (signal.SIGINT, True, 130, "interrupted"),  # Ctrl-C: the terminal signals the script and its run.py
])
def test_a_stopped_grid_or_shipped_py_stops_the_run_py_it_runs_and_waits_for_its_cleanup(tmp_path, stop, to_group,
                                                                                       status, line, driver):
    """The run.py it runs then cleans up as a run stopped alone does. The grid used to die on the spot at a SIGTERM,
    leaving the cell training on its own, and to kill the cell outright 0.25 s after Ctrl-C; so did shipped.py."""
    seen = tmp_path / "seen"
    script = tmp_path / "run.py"
    script.write_text("import os, pathlib, signal, sys, time\n"
                      f"seen = pathlib.Path({str(seen)!r})\n"
                      "def stop(signum, frame):\n"
                      "    time.sleep(1)  # a cleanup that takes a while\n"
                      "    seen.write_text(f'cleaned up after {signum}')\n"
                      "    sys.exit(1)\n"
                      "signal.signal(signal.SIGTERM, stop)\n"
                      "signal.signal(signal.SIGINT, stop)\n"
                      "seen.write_text(f'started {os.getpid()}')\n"
                      "time.sleep(120)\n")
    process, cell = _cell_started(tmp_path, driver, script, seen, stdout=subprocess.DEVNULL, start_new_session=True,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        os.killpg(process.pid, stop) if to_group else process.send_signal(stop)
        assert process.wait(timeout=60) == status
        assert process.stderr.read().splitlines()[-1] == line
        assert seen.read_text() == f"cleaned up after {int(stop)}"
    finally:
        if seen.read_text().startswith("started"):
            os.kill(cell, signal.SIGKILL)


@pytest.mark.parametrize("driver", ["grid", "shipped"])
def test_a_grid_or_shipped_py_killed_outright_takes_its_run_py_down_with_it(tmp_path, driver):
    """SIGKILL (or the out-of-memory killer) gives the script no chance to stop its run.py, which trained on alone;
    the next grid.py then ran the same cell beside it."""
    seen = tmp_path / "seen"
    script = tmp_path / "run.py"
    script.write_text("import os, pathlib, signal, sys, time\n"
                      f"seen = pathlib.Path({str(seen)!r})\n"
                      "signal.signal(signal.SIGTERM, lambda *a: (seen.write_text('cleaned up'), sys.exit(1)))\n"
                      "seen.write_text(f'started {os.getpid()}')\n"
                      "time.sleep(120)\n")
    process, cell = _cell_started(tmp_path, driver, script, seen, stdout=subprocess.DEVNULL)
    try:
        process.kill()
        process.wait(timeout=60)
        deadline = time.time() + 60
        while seen.read_text() != "cleaned up" and time.time() < deadline:
            time.sleep(0.2)
        assert seen.read_text() == "cleaned up"
    finally:
        if seen.read_text().startswith("started"):
            os.kill(cell, signal.SIGKILL)


def test_a_grid_whose_output_reader_has_gone_stops_in_one_line(tmp_path):
    """`python experiments/grid.py | head -1`: one line and status 141, as run.py gives, not a traceback. (It stops
    at its next line: before the cell, or after it where that line had gone into the pipe already.)"""
    script = tmp_path / "fake_run.py"
    script.write_text("import json, pathlib, sys\n"
                      "(pathlib.Path(sys.argv[1]).parent / 'all_results.json').write_text(json.dumps({}))\n")
    process = grid_process(tmp_path, script, ["1", "2"], stdout=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE, stderr[-2000:]
    assert stderr.splitlines()[-1].startswith("error: stdout was closed (the program reading it, such as head or a "
                                              "pager, exited), so grid.py stopped")
    assert "Traceback" not in stderr


def test_grids_side_by_side_run_each_cell_once(tmp_path, fake_grid, spec, capsys):
    """A cell that another grid.py holds is left to it, and so is an IMP cell whose CE cell, its diversity checker,
    is being trained by another; a cell finished meanwhile is not run again."""
    todo = [(grid.Cell("mrpc_ctrl", method, 1), {}) for method in ("ce", "imp", "dimp")]
    finished = grid.RESULTS / "mrpc_ctrl" / "focal" / "seed1" / "all_results.json"
    finished.parent.mkdir(parents=True)
    finished.write_text("{}")
    other = FileLock(str(grid.WORK / "mrpc_ctrl" / "ce" / "seed1.lock"))
    with other:
        assert grid.run_all(spec, todo + [(grid.Cell("mrpc_ctrl", "focal", 1), {})]) == 0
    out = capsys.readouterr().out
    assert "mrpc_ctrl/ce/seed1: left to another grid.py, which runs it\n" in out
    assert "mrpc_ctrl/imp/seed1: left to another grid.py, which runs it or its CE cell\n" in out
    assert "mrpc_ctrl/focal/seed1: finished by another grid.py\n" in out
    assert [cell.method for cell, _ in todo if cell.done] == ["dimp"]
    assert grid.run_all(spec, todo) == 0  # once the other is done
    assert all(cell.done for cell, _ in todo)
    assert not list(grid.WORK.rglob("*.lock"))


def test_checker_recipe_study_only_scores_and_is_kept_apart(spec):
    cells = grid.study_cells(spec, ["checker_recipe"])
    assert {cell.command for cell, _ in cells} == {"score"}
    cell, overrides = cells[0]
    assert cell.path.parts[1].startswith("checker__") and grid.FINISHED[cell.command] != "all_results.json"
    assert grid.cell_config(spec, cell, overrides)["checker_num_train_epochs"] == overrides["checker_num_train_epochs"]


def test_a_study_variant_has_its_own_checkers_only_where_it_changes_them(spec):
    grid_checker = grid.cell_config(spec, grid.Cell("noisy_mrpc", "dimp", 1))["quality_checker_model"]
    assert grid_checker == "./cache/checkers/grid/noisy_mrpc/seed1/quality"  # the seed's own, unsuffixed
    (longer, overrides), = [c for c in grid.study_cells(spec, ["epochs"]) if c[0].path.parts[:2] == ("noisy_mrpc", "dimp__e6")]
    config = grid.cell_config(spec, longer, overrides)
    assert config["quality_checker_model"] == grid_checker and config["num_train_epochs"] == 6
    (smaller, overrides), *_ = grid.study_cells(spec, ["checker_size"])
    assert grid.cell_config(spec, smaller, overrides)["quality_checker_model"] != grid.cell_config(
        spec, grid.Cell(smaller.benchmark, "dimp", smaller.seed))["quality_checker_model"]
    # variant by variant over the benchmarks, CE before DIMP on each
    assert [(c.variant, c.benchmark, c.method) for c, _ in grid.study_cells(spec, ["epochs"])][:3] == [
        ("e3", "noisy_mrpc", "ce"), ("e3", "noisy_mrpc", "dimp"), ("e3", "noisy_fpb", "ce")]


def test_real_only_trains_on_the_checkers_real_set_with_its_recipe_and_no_noise(spec):
    alone = grid.cell_config(spec, grid.Cell("noisy_irony", "real_only", 1))
    dimp = grid.cell_config(spec, grid.Cell("noisy_irony", "dimp", 1))
    assert any(key in dimp for key in grid.NOISE_KEYS) and not any(key in alone for key in grid.NOISE_KEYS)
    recipe = ("quality_checker_train_file", "quality_checker_max_train_samples", "checker_num_train_epochs",
              "checker_learning_rate")
    assert [alone[key] for key in ("train_file", "max_train_samples", "num_train_epochs", "learning_rate")] == \
        [dimp[key] for key in recipe]
    other = {"checker_learning_rate": 3e-4, "checker_num_train_epochs": 2}  # the grid's equal the protocol's
    assert [grid.cell_config(spec, grid.Cell("noisy_irony", "real_only", 1), other)[key]
            for key in ("learning_rate", "num_train_epochs")] == [3e-4, 2]
    # irony_gpt's real_only is the same run, whose results it takes
    assert grid._same_run(alone) == grid._same_run(grid.cell_config(spec, grid.Cell("irony_gpt", "real_only", 1)))


def test_a_cells_config_runs_again_inside_the_clone_it_is_run_from(spec):
    """Paths relative to the repository's root, where run.py runs the cell: `python run.py cell_config.json` from a
    clone writes and builds there, not in the folder the grid once ran in."""
    config = grid.cell_config(spec, grid.Cell("mrpc_ctrl", "imp", 1))
    assert [config[key] for key in ("output_dir", "quality_checker_model", "diversity_checker_model")] == [
        "./experiments/work/mrpc_ctrl/imp/seed1", "./cache/checkers/grid/mrpc_ctrl/seed1/quality",
        "./experiments/work/mrpc_ctrl/ce/seed1"]
    committed = [json.loads(path.read_text()) for path in grid.RESULTS.glob("*/*/seed*/cell_config.json")]
    assert committed and not [c for c in committed for key in ("output_dir", "quality_checker_model",
                                                               "diversity_checker_model")
                              if not c.get(key, "./").startswith("./")]


def test_ce_runs_before_imp_and_is_its_diversity_checker(spec):
    cells = [c for c, _ in grid.grid_cells(spec, ["mrpc_ctrl"], ["imp", "ce"], [1])]
    assert [c.method for c in cells] == ["ce", "imp"]
    config = grid.cell_config(spec, cells[1])
    assert config["diversity_checker_model"] == "./experiments/work/mrpc_ctrl/ce/seed1"
    # a warm-started quality checker starts from CE on the generated data, trained as the grid's CE cells are
    warm = grid.cell_config(spec, grid.Cell("mrpc_ctrl", "dimp", 1, "join_warm"), {"quality_checker_warm_start": True})
    assert warm["diversity_checker_num_train_epochs"] == spec["protocol"]["num_train_epochs"]
    # seed by seed, so that a grid stopped partway has covered every benchmark
    order = [(c.seed, c.benchmark) for c, _ in grid.grid_cells(spec, ["mrpc_ctrl", "noisy_fpb"], ["ce"], [1, 2])]
    assert order == [(1, "mrpc_ctrl"), (1, "noisy_fpb"), (2, "mrpc_ctrl"), (2, "noisy_fpb")]


def test_summary_from_finished_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(summarize, "RESULTS", tmp_path)
    monkeypatch.setattr(cell_results, "CELLS", tmp_path / "cells")
    # Cells that tracked no per-epoch test F1: only the epoch the run itself kept (the best) reports a test result.
    monkeypatch.setattr(cell_results, "selection_rule", lambda: "accuracy")
    for method, accuracies, validation in (("ce", (0.70, 0.72), (0.58, 0.60, 0.55)),
                                           ("dimp", (0.75, 0.77), (0.62, 0.61, 0.60))):
        for seed, accuracy in enumerate(accuracies, start=1):
            cell = tmp_path / "cells" / "bench" / method / f"seed{seed}"
            cell.mkdir(parents=True)
            (cell / "all_results.json").write_text(json.dumps({"test_accuracy": accuracy, "test_f1": accuracy - 0.1}))
            history = [{"epoch": e, "eval_test_accuracy": accuracy - 0.01 * (3 - e),
                        "eval_validation_accuracy": validation[e - 1]} for e in (1, 2, 3)]
            (cell / "trainer_state.json").write_text(json.dumps({"log_history": history}))
            if method == "dimp":
                (cell / grid.TIME_FILE).write_text(json.dumps({"cpu_s": 360 * seed, "wall_s": 200 * seed}))
    (tmp_path / "README.md").write_text("# R\n<!-- TABLE -->\nSTALE\n<!-- /TABLE -->\ntail\n")
    summarize.main([])
    rows = list(csv.DictReader((tmp_path / "effect.csv").open()))
    assert len(rows) == 4 and rows[0].keys() == {"benchmark", "method", "seed", "test_accuracy", "test_f1"}
    readme = (tmp_path / "README.md").read_text()
    assert "| bench | CE | 71.0 ± 1.4 (n=2) |" in readme and "| bench | DIMP | 76.0 ± 1.4 (n=2) |" in readme
    assert readme.split("###")[0].count("| bench |") == 2  # no row for a method that never ran
    assert "STALE" not in readme and readme.endswith("tail\n")
    assert (tmp_path / "dynamics_bench.png").is_file()
    gains = readme.split("### Gain over CE")[1:]
    assert "| bench | – | – | – | – | – | +5.0 ± 0.0 (n=2) | – |" in gains[0]  # DIMP minus CE, seed by seed
    assert "| all | 2 | 0.30 | 0.17 | 9.0 |" in readme and "2 earlier cells did not record their time" in readme
    assert gains[1].startswith(" on the validation split")  # the kept (best) epochs' validation accuracies
    assert "| bench | – | – | – | – | – | +2.0 ± 0.0 (n=2) | – |" in gains[1]


def test_the_dynamics_plot_draws_the_grid_s_cells_of_each_method_not_a_study_s(tmp_path, monkeypatch):
    monkeypatch.setattr(summarize, "RESULTS", tmp_path)
    axes, subplots = [], summarize.plt.subplots

    def recording(**kwargs):
        fig, ax = subplots(**kwargs)
        axes.append(ax)
        return fig, ax
    monkeypatch.setattr(summarize.plt, "subplots", recording)

    def row(seed, variant, curve):
        return {"benchmark": "b", "method": "ce", "seed": seed, "variant": variant,
                "history": [{"eval_test_accuracy": a} for a in curve]}
    rows = [row(1, "", [0.5, 0.6]), row(2, "", [0.7, 0.8, 0.9]), row(1, "lr3e-5", [0.1, 0.1])]
    assert summarize.plot_dynamics(rows) == ["dynamics_b.png"] and (tmp_path / "dynamics_b.png").is_file()
    line, = axes[0].lines
    # The grid's two seeds, over the epochs both have.
    assert line.get_label() == "CE (n=2)" and list(line.get_ydata()) == pytest.approx([60.0, 70.0])


def test_the_committed_tables_are_what_summarize_writes_from_the_committed_cells(tmp_path, monkeypatch):
    """results/README.md's generated tables and effect.csv come from the cells beside them: a change to a table's
    code, or a cell committed without summarizing again, shows here."""
    for name in ("README.md", "recommended.json"):
        (tmp_path / name).write_bytes((summarize.RESULTS / name).read_bytes())
    monkeypatch.setattr(summarize, "RESULTS", tmp_path)
    summarize.main([])
    for name in ("README.md", "effect.csv"):
        assert (tmp_path / name).read_text() == (cell_results.RESULTS / name).read_text(), name


def test_noise_reaction_reads_imp_static_and_dimp_last_epoch_weights_and_draws_their_means(tmp_path, monkeypatch):
    rows = []
    for method, header, values in (("imp", "static_weight", ("0.9", "0.2")),
                                   ("dimp", "weight_epoch1,weight_epoch2", ("0.5,1.1", "0.5,0.1"))):
        cell = tmp_path / method
        cell.mkdir()
        (cell / "weights.csv").write_text(f"index,noise,{header}\n0,original,{values[0]}\n1,swap,{values[1]}\n")
        rows.append({"benchmark": "noisy", "method": method, "variant": "", "dir": cell})
    by_method = {m: noise_tables.noise_records(rows, m) for m in ("imp", "dimp")}
    by = noise_tables.weights_per_noise_kind(by_method)
    assert by[("noisy", "imp")] == {"original": [0.9], "swap": [0.2]}
    assert by[("noisy", "dimp")] == {"original": [1.1], "swap": [0.1]}
    bars, bar = [], noise_tables.plt.Axes.bar
    monkeypatch.setattr(noise_tables.plt.Axes, "bar", lambda ax, x, height, *args, **kwargs: bars.append(height)
                        or bar(ax, x, height, *args, **kwargs))
    assert noise_tables.plot_noise_reaction(by_method, tmp_path) == ["noise_reaction.png"]
    # DIMP's bars, then IMP's, over original, duplicate, swap, unrelated: a kind the data lacks at 0
    assert bars == [[1.1, 0, 0.1, 0], [0.9, 0, 0.2, 0]]


def test_noise_table_pools_seeds_and_reads_each_methods_columns(tmp_path):
    rows = []
    common = "index,noise,label_name,quality_label,quality_prob"
    for seed, agree in ((1, "b"), (2, "a")):
        imp, dimp = tmp_path / f"imp{seed}", tmp_path / f"dimp{seed}"
        imp.mkdir(), dimp.mkdir()
        (imp / "weights.csv").write_text(f"{common},diversity_prob,static_weight\n"
                                         f"0,original,a,a,0.8,0.5,1.6\n1,swap,b,{agree},0.2,0.4,0.5\n")
        # Epoch 10 is the last one: the columns sort by number, not as text.
        (dimp / "weights.csv").write_text(f"{common},model_prob_epoch2,weight_epoch2,model_prob_epoch10,weight_epoch10\n"
                                          f"0,original,a,a,0.8,0.1,8.0,0.9,0.9\n1,swap,b,{agree},0.2,0.1,2.0,0.4,0.5\n")
        rows += [{"benchmark": "noisy", "method": m, "variant": "", "dir": d} for m, d in (("imp", imp), ("dimp", dimp))]
    table = noise_tables.noise_table({m: noise_tables.noise_records(rows, m) for m in ("imp", "dimp")})
    assert "| noisy | original | 2 | 0.800 | 100 % | 0.500 | 1.600 | 0.900 | 0.900 |" in table
    assert "| noisy | swap | 2 | 0.200 | 50 % | 0.400 | 0.500 | 0.400 | 0.500 |" in table
    assert "duplicate" not in table


def test_separation_table_scores_each_weight_on_clean_against_swapped_labels(tmp_path):
    cell = tmp_path / "cell"
    cell.mkdir()
    # P' ranks the clean examples first; the first epoch's weight half does; the last epoch's prefers the swapped ones.
    (cell / "weights.csv").write_text("index,noise,quality_prob,weight_epoch1,weight_epoch2\n"
                                      "0,original,0.9,2.0,0.5\n1,original,0.8,0.1,0.5\n"
                                      "2,swap,0.2,1.0,1.5\n3,swap,0.1,1.0,1.5\n4,real,1.0,1.0,1.0\n")
    rows = [{"benchmark": "noisy", "method": "dimp_plus_real", "variant": "", "dir": cell}]
    table = noise_tables.separation_table({"dimp_plus_real": noise_tables.noise_records(rows, "dimp_plus_real")})
    assert "| noisy | DIMP with the real set joined (w = 1) | 2, 2 | 1.00 | 0.50 | 0.00 | 20 % |" in table


def test_checker_size_table_sets_each_checker_size_beside_ce_and_the_whole_set(tmp_path, spec):
    benchmark, seed = spec["studies"]["checker_size"]["benchmarks"][0], spec["studies"]["checker_size"]["seeds"][0]
    rows = []
    for method, variant, size, accuracy in (("dimp", "", 500, 0.65), ("ce", "", None, 0.60), ("dimp", "real10", 50, 0.55)):
        cell = tmp_path / f"{method}{variant}"
        cell.mkdir()
        if size:
            (cell / "quality_checker_recipe.json").write_text(json.dumps(
                {"train_examples": size, "validation_metrics": {"eval_accuracy": accuracy}}))
        rows.append({"benchmark": benchmark, "method": method, "variant": variant, "seed": seed, "dir": cell,
                     "study": "checker_size" if variant else "", "averaged": False,
                     "test": (100 * (accuracy + 0.1), 100 * accuracy),
                     "history": [{"eval_validation_accuracy": accuracy - 0.1}, {"eval_validation_accuracy": accuracy}]})
    rows.append({**rows[0], "benchmark": "other"})
    # The whole set's checker gave P'(gold) 0.9 and 0.7 to two examples of two classes: a spread of 0.3. The
    # smaller one's cell kept no weights.csv.
    (tmp_path / "dimp" / "weights.csv").write_text("index,label,quality_prob\n0,0,0.9\n1,1,0.7\n")
    lines = summarize.study_table(rows).splitlines()[2:]
    assert lines == [f"| {benchmark} | {seed} | CE | none | – | – | 60.0 | 70.0 |",
                     f"| {benchmark} | {seed} | DIMP | 50 | 55.0 | – | 55.0 | 65.0 |",
                     f"| {benchmark} | {seed} | DIMP | 500 | 65.0 | 0.300 | 65.0 | 75.0 |"]


def test_validation_table_orders_by_setting_and_keeps_the_epoch_the_rule_keeps(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"studies": {"longer": {"benchmarks": ["noisy"], "methods": ["ce"], "seeds": [1],
                                                       "variants": {"e2": {"num_train_epochs": 2}}}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)

    def row(variant, epochs, accuracies, method="ce"):
        cell = tmp_path / f"{method}{variant}"
        cell.mkdir()
        # The resolved config holds every setting as the parser typed it (epochs are floats).
        (cell / "resolved_config.json").write_text(json.dumps({"num_train_epochs": float(epochs)}))
        history = [{"eval_validation_accuracy": a, "eval_validation_f1": a - 0.1} for a in accuracies]
        return {"benchmark": "noisy", "method": method, "seed": 1, "variant": variant,
                "study": "longer" if variant else "", "history": history, "dir": cell}
    rows = [row("e12", 12, [0.5] * 12), row("e4", 4, (0.6, 0.8, 0.75, 0.7)), row("e2", 2, (0.6, 0.7)),
            row("", 3, (0.5, 0.6, 0.55)), row("", 3, (0.5,), "dimp")]
    lines = summarize.validation_table(rows, "longer").splitlines()
    assert lines[0].startswith("| benchmark | method | seed | num_train_epochs | validation accuracy per epoch |")
    assert lines[2] == "| noisy | CE | 1 | 2 | 60.0 70.0 | 50.0 60.0 | 70.0 (epoch 2) |"
    assert lines[3] == "| noisy | CE | 1 | 4 | 60.0 80.0 75.0 70.0 | 50.0 70.0 65.0 60.0 | 80.0 (epoch 2) |"
    assert len(lines) == 5 and lines[4].startswith("| noisy | CE | 1 | 12 |")
    spec.write_text(json.dumps({**json.loads(spec.read_text()), "selection": "last"}))
    assert summarize.validation_table(rows, "longer").splitlines()[3].endswith("| 70.0 (epoch 4) |")
    # Beside the grid's own cells of the study's methods only: the grid's CE, not its DIMP.
    beside = summarize.validation_table(rows, "longer", grid_beside=True).splitlines()
    assert len(beside) == 6 and "| noisy | CE | 1 | 3 (grid) | 50.0 60.0 55.0 |" in "\n".join(beside)


def test_validation_table_reads_runs_that_did_not_track_the_test_and_names_the_default_first(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    variants = {"plain": {}, "t": {"checker_calibration": "temperature"}}
    spec.write_text(json.dumps({"studies": {"calib": {"benchmarks": ["b"], "methods": ["imp"], "seeds": [1],
                                                      "variants": variants}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    rows = []
    for variant, config in reversed(variants.items()):
        cell = tmp_path / variant
        cell.mkdir()
        (cell / "resolved_config.json").write_text(json.dumps({"checker_calibration": "none", **config}))
        # Without test tracking the Trainer names the validation metrics eval_accuracy, eval_f1.
        history = [{"eval_accuracy": 0.6, "eval_f1": 0.5}, {"eval_accuracy": 0.7 if config else 0.65, "eval_f1": 0.6}]
        rows.append({"benchmark": "b", "method": "imp", "seed": 1, "variant": variant, "study": "calib",
                     "history": history, "dir": cell})
    lines = summarize.validation_table(rows, "calib").splitlines()[2:]
    assert lines == ["| b | IMP | 1 | none | 60.0 65.0 | 50.0 60.0 | 65.0 (epoch 2) |",
                     "| b | IMP | 1 | temperature | 60.0 70.0 | 50.0 60.0 | 70.0 (epoch 2) |"]


def test_validation_table_sets_a_null_setting_before_the_numbers(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    variants = {"w2": {"real_set_weight": 2.0}, "w05": {"real_set_weight": 0.5}, "plain": {"real_set_weight": None}}
    spec.write_text(json.dumps({"studies": {"w": {"benchmarks": ["b"], "methods": ["dimp"], "seeds": [1],
                                                  "variants": variants}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    rows = []
    for variant, config in variants.items():
        (tmp_path / variant).mkdir()
        (tmp_path / variant / "resolved_config.json").write_text(json.dumps(config))
        rows.append({"benchmark": "b", "method": "dimp", "seed": 1, "variant": variant, "study": "w",
                     "history": [{"eval_accuracy": 0.5, "eval_f1": 0.5}], "dir": tmp_path / variant})
    settings = [line.split(" | ")[3] for line in summarize.validation_table(rows, "w").splitlines()[2:]]
    assert settings == ["None", "0.5", "2"]


def test_checker_recipe_table_shows_the_curve_and_the_class_balance(tmp_path, monkeypatch):
    monkeypatch.setattr(summarize, "CELLS", tmp_path)
    cell = tmp_path / "bench" / "checker__e5" / "seed1"
    cell.mkdir(parents=True)
    recipe = {"validation_history": [{"epoch": 1.0, "accuracy": 0.6}, {"epoch": 2.0, "accuracy": 0.7}],
              "validation_metrics": {"eval_accuracy": 0.7, "epoch": 2.0}, "validation_majority_accuracy": 0.65}
    (cell / "quality_checker_recipe.json").write_text(json.dumps(recipe))
    (cell / "weights.csv").write_text("index,label_name,quality_prob\n0,a,0.2\n1,a,0.4\n2,b,0.9\n")
    assert "| bench | e5 | 1 | 60.0 70.0 | 70.0 (epoch 2) | 65.0 | a 0.30, b 0.90 |" in summarize.checker_recipe_table()
    unscored = tmp_path / "bench" / "checker__e5" / "seed2"  # a checker built, its weights.csv not yet written
    unscored.mkdir()
    (unscored / "quality_checker_recipe.json").write_text(json.dumps(recipe))
    assert "| bench | e5 | 2 | 60.0 70.0 | 70.0 (epoch 2) | 65.0 |  |" in summarize.checker_recipe_table()


def _predictions(correct_by_epoch: dict[str, list[bool]], confidence: dict[str, float]) -> dict:
    """Two-class validation probabilities: each epoch right (as sure as `confidence` says) or narrowly wrong."""
    labels = np.zeros(len(next(iter(correct_by_epoch.values()))), dtype=int)
    arrays = {}
    for name, correct in correct_by_epoch.items():
        p = np.where(correct, confidence[name], 0.45)
        arrays[name] = np.stack([p, 1 - p], axis=1)
    return arrays, labels


def test_the_grids_results_are_its_own_cells_that_report_a_test():
    rows = [{"method": "ce", "variant": "", "test": (70.0, 60.0)}, {"method": "ce", "variant": "lr3e-5",
            "test": (71.0, 61.0)}, {"method": "dimp", "variant": "", "test": None}]
    assert cell_results.grid_results(rows) == rows[:1]  # a study's variant, and a cell without a test, are not


def test_each_selection_rule_keeps_what_it_says():
    predictions, labels = _predictions(
        {"epoch1": [True] * 6 + [False] * 2, "epoch2": [True] * 7 + [False], "epoch3": [True] * 5 + [False] * 3,
         "final": [True] * 8},
        {"epoch1": 0.99, "epoch2": 0.55, "epoch3": 0.9, "final": 0.6})
    rows = np.arange(8)
    assert selection.choose("accuracy", predictions, labels, rows, averaged=True) == "epoch2"
    assert selection.choose("loss", predictions, labels, rows, averaged=True) == "epoch1"  # sure where right,
    # narrowly wrong elsewhere
    assert selection.choose("last", predictions, labels, rows, averaged=True) == "epoch3"
    assert selection.choose("average", predictions, labels, rows, averaged=True) == "final"
    assert selection.choose("average", predictions, labels, rows, averaged=False) is None
    # ties go to the earlier epoch, as the Trainer's do
    assert [selection.pick_epoch(rule, [0.7, 0.8, 0.8], [0.6, 0.5, 0.5]) for rule in ("accuracy", "loss")] == [1, 1]
    # a loss curve that misses an epoch cannot choose one
    assert selection.pick_epoch("loss", [0.7, 0.8, 0.9], [0.5, 0.4]) is None
    # a gold probability of 0 counts as a large loss, not an infinite one that ties every such epoch
    sure = {"epoch1": np.array([[0.6, 0.4]] * 7 + [[0.0, 1.0]]), "epoch2": np.array([[1.0, 0.0]] * 7 + [[0.0, 1.0]])}
    assert selection.choose("loss", sure, labels, rows, averaged=False) == "epoch2"
    # epochs in their order, not their names' (epoch10 after epoch9)
    names = [f"epoch{n}" for n in range(1, 12)]
    eleven, _ = _predictions({name: [name == "epoch10"] * 8 for name in names}, dict.fromkeys(names, 0.9))
    assert selection.choose("last", eleven, labels, rows, averaged=False) == "epoch11"
    assert selection.choose("accuracy", eleven, labels, rows, averaged=False) == "epoch10"


def test_a_rule_is_scored_on_the_half_it_did_not_select_on():
    # epoch1 is right on the first half only, epoch2 on the second half only: selecting by accuracy on one half
    # always keeps the epoch that is wrong on the other.
    first, second = selection.halves(10)
    right1, right2 = np.zeros(10, bool), np.zeros(10, bool)
    right1[first], right2[second] = True, True
    predictions, labels = _predictions({"epoch1": right1, "epoch2": right2}, {"epoch1": 0.9, "epoch2": 0.9})
    assert selection.held_out_half_accuracy(predictions, labels, "accuracy", averaged=False) == 0.0
    assert selection.held_out_half_accuracy(predictions, labels, "loss", averaged=False) == 0.0  # the loss too
    assert selection.held_out_half_accuracy(predictions, labels, "last", averaged=False) == 50.0
    assert selection.held_out_half_accuracy(predictions, labels, "average", averaged=False) is None


def _two_members(labels):
    """The first says class 0 everywhere, unsure; the second is sure where it is right (class 1) and unsure where it
    is wrong: alone each is right on half of the examples, averaged on all. The second's first epoch is wrong
    everywhere, so it has to be kept at its own best epoch."""
    unsure_zero = np.tile([0.6, 0.4], (len(labels), 1)).astype(np.float32)
    sure_one = np.where(labels[:, None] == 1, [0.1, 0.9], [0.45, 0.55]).astype(np.float32)
    wrong = np.eye(2, dtype=np.float32)[1 - labels]
    return {"epoch1": unsure_zero}, {"epoch1": wrong, "epoch2": sure_one}


def test_an_ensemble_averages_its_members_each_at_its_own_kept_epoch():
    labels = np.array([0, 1] * 5)
    unsure, sure = _two_members(labels)
    assert selection.held_out_half_ensemble_accuracy([unsure], labels, "accuracy") == 50.0
    assert selection.held_out_half_ensemble_accuracy([sure], labels, "accuracy") == 50.0
    assert selection.held_out_half_ensemble_accuracy([unsure, sure], labels, "accuracy") == 100.0
    # A third epoch, wrong everywhere: the last-epoch rule keeps it, the accuracy rule does not.
    worse = {**sure, "epoch3": sure["epoch1"]}
    assert selection.held_out_half_ensemble_accuracy([unsure, worse], labels, "accuracy") == 100.0
    assert selection.held_out_half_ensemble_accuracy([unsure, worse], labels, "last") == 0.0


def test_the_averaging_table_pairs_each_model_with_the_real_set_alone_of_its_seed(tmp_path):
    labels = np.array([0, 1] * 5)
    unsure, sure = _two_members(labels)
    rows = []
    for method, seed, saved in [("real_only", 1, unsure), ("real_plus_synthetic", 1, sure),
                                ("dimp_plus_real", 1, sure), ("dimp_plus_real", 2, sure)]:
        rows.append({"benchmark": "b", "method": method, "variant": "", "seed": seed, "predictions": (saved, labels)})
    rows.append({"benchmark": "b", "method": "real_only", "variant": "", "seed": 2, "predictions": None})
    lines = real_set_tables.checker_ensemble_table(rows, "dimp_plus_real").splitlines()
    # Seed 2 has no real-set-alone model to average with (its run kept no predictions), so it is left out of both rows.
    averaged = ", averaged with CE on the real set alone | 100.0 | 100.0 |"
    assert lines[2:] == ["| CE on real + generated | 50.0 | 50.0 |", "| CE on real + generated" + averaged,
                         "| DIMP with the real set joined (w = 1) | 50.0 | 50.0 |",
                         "| DIMP with the real set joined (w = 1)" + averaged]
    assert real_set_tables.checker_ensemble_table(rows[-1:], "dimp_plus_real") == "No finished cells to average yet."


def test_the_real_set_study_table_compares_each_variant_with_baselines_of_its_own_seeds(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"studies": {"one": {"seeds": [1]}, "two": {"seeds": [1, 2]}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    monkeypatch.setattr(real_set_tables, "REAL_SET_STUDIES", ("one", "two"))
    labels = np.array([0, 1] * 5)

    def cell(method, variant, study, seed, right):
        return {"benchmark": "b", "method": method, "variant": variant, "study": study, "seed": seed,
                "predictions": ({"epoch1": np.eye(2)[labels if right else 1 - labels]}, labels), "averaged": False}
    rows = [cell("real_only", "", "", seed, seed == 1) for seed in (1, 2, 3)]
    rows += [cell("dimp", "x", "one", 1, True), cell("real_plus_synthetic", "y", "two", 1, False)]
    alone, y = cell_results.METHOD_NAMES["real_only"], cell_results.METHOD_NAMES["real_plus_synthetic"] + " y"
    # Seed 1 holds both studies; seeds 1-2 only the second, and only its finished seed 1 until seed 2 finishes.
    assert real_set_tables.real_set_study_table(rows).split("\n\n") == [
        "Seed 1 (those every variant finished):",
        f"| variant | b | mean |\n| --- | ---: | ---: |\n| {y} | 0.0 | 0.0 |\n| {alone} | 100.0 | 100.0 |\n"
        "| DIMP x | 100.0 | 100.0 |",
        "Seeds 1, 2 (those every variant finished; so far 1):",
        f"| variant | b | mean |\n| --- | ---: | ---: |\n| {y} | 0.0 | 0.0 |\n| {alone} | 100.0 | 100.0 |"]
    rows.append(cell("real_plus_synthetic", "y", "two", 2, True))
    label, table = real_set_tables.real_set_study_table(rows).split("\n\n")[-2:]
    assert label == "Seeds 1, 2 (those every variant finished):"
    assert table.splitlines()[2:] == [f"| {y} | 50.0 | 50.0 |", f"| {alone} | 50.0 | 50.0 |"]
    # A baseline's missing seed leaves the variants' seeds as they are.
    rows = [row for row in rows if (row["method"], row["seed"]) != ("real_only", 2)]
    label, table = real_set_tables.real_set_study_table(rows).split("\n\n")[-2:]
    assert label == "Seeds 1, 2 (those every variant finished):"
    assert table.splitlines()[2:] == [f"| {y} | 50.0 | 50.0 |", f"| {alone} | 100.0 | 100.0 |"]


def test_the_second_validation_table_sets_the_study_s_split_beside_the_grid_s_own(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"studies": {"u": {"benchmarks": ["b", "c"], "methods": ["ce", "real_only"],
                                                  "seeds": [1]}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)

    def cell(method, study, curve, benchmark="b", seed=1, test=50.0, predicted=None):
        # Validation predictions, one epoch per entry of `predicted`: the predicted labels of labels [0, 0, 1, 1].
        labels = np.array([0, 0, 1, 1])
        predictions = None if predicted is None else (
            {f"epoch{e + 1}": np.eye(2)[np.array(p)] for e, p in enumerate(predicted)}, labels)
        return {"benchmark": benchmark, "method": method, "variant": "v" if study else "", "study": study,
                "seed": seed, "history": [{"epoch": e + 1, "eval_accuracy": a} for e, a in enumerate(curve)],
                "test": (test, test), "predictions": predictions, "averaged": False}
    rows = [cell("ce", "", [0.5, 0.6], test=60.0), cell("ce", "u", [0.4, 0.3]),
            cell("real_only", "", [0.7], test=70.0, predicted=[[0, 1, 1, 1]]),
            cell("real_only", "u", [0.6, 0.8], predicted=[[1, 1, 1, 1], [0, 0, 0, 1]]),
            cell("real_only", "", [0.1], seed=2), cell("ce", "", [0.1], benchmark="o"), cell("dimp", "", [0.1]),
            cell("ce", "", [0.5], benchmark="c"), cell("ce", "u", [], benchmark="c")]
    # The kept (best) epoch of each, its recall per class from its predictions (none saved: "–"); seed 2, the other
    # benchmark and DIMP are not the study's; on c, the study's run has no validation accuracy to show.
    assert real_set_tables.second_validation_table(rows, ["u"]).splitlines()[2:] == [
        "| b | CE on the real set alone (quality checker) | 1 | 70.0 | 80.0 | 70.0 | 0 50.0 → 100.0, 1 100.0 → 50.0 |",
        "| b | CE | 1 | 60.0 | 40.0 | 60.0 | – |"]


@pytest.mark.parametrize("study, key, unit, sizes", [
    ("generated_size", "max_train_samples", "generated", (800, 2000, 4000)),
    ("real_set_size", "quality_checker_max_train_samples", "real", (500, 250, 100))])
def test_the_size_table_pairs_each_size_by_seed_and_leaves_out_a_size_still_running(tmp_path, monkeypatch, study, key,
                                                                                     unit, sizes):
    grid_size, first, second = sizes
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"protocol": {key: grid_size}, "studies": {study: {
        "benchmarks": ["b"], "methods": ["real_plus_synthetic", "dimp_plus_real"], "seeds": [1, 2],
        "variants": {"first": {key: first}, "second": {key: second}}}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    labels = np.array([0, 1] * 5)

    def cell(method, variant, seed, right, study=study):
        return {"benchmark": "b", "method": method, "variant": variant, "study": study if variant else "",
                "seed": seed, "predictions": ({"epoch1": np.eye(2)[labels if right else 1 - labels]}, labels),
                "averaged": False}
    # Seed 1: the recommended method is right only at the first variant's size. Seed 2 lacks the grid's own
    # recommended cell, so it is left out. The second variant is still running: one cell has finished, and a
    # variant named alike in another study is not this one's.
    rows = [cell("real_plus_synthetic", "", 1, True), cell("dimp_plus_real", "", 1, True),
            cell("real_plus_synthetic", "first", 1, False), cell("dimp_plus_real", "first", 1, True),
            cell("real_plus_synthetic", "", 2, False),
            cell("real_plus_synthetic", "first", 2, False), cell("dimp_plus_real", "first", 2, True),
            cell("real_plus_synthetic", "second", 1, True), cell("dimp_plus_real", "second", 1, True, "other")]
    seeds, table, pooled, running = real_set_tables.size_table(rows, "dimp_plus_real", study, key, unit).split("\n\n")
    ce, dimp = cell_results.METHOD_NAMES["real_plus_synthetic"], cell_results.METHOD_NAMES["dimp_plus_real"]
    assert seeds == "Seeds: b 1."
    assert table.splitlines()[0] == f"| method, {unit} examples | b | mean |"
    assert table.splitlines()[2:] == [
        f"| {ce}, {grid_size} {unit} | 100.0 | 100.0 |", f"| {dimp}, {grid_size} {unit} | 100.0 | 100.0 |",
        f"| {dimp} − {ce}, {grid_size} {unit} | 0.0 | 0.0 |",
        f"| {ce}, {first} {unit} | 0.0 | 0.0 |", f"| {dimp}, {first} {unit} | 100.0 | 100.0 |",
        f"| {dimp} − {ce}, {first} {unit} | 100.0 | 100.0 |"]
    assert pooled == ("The margin paired by benchmark and seed (mean ± standard error): "
                      f"{grid_size} {unit} +0.00 (1 pairs); {first} {unit} +100.00 (1 pairs).")
    assert running == f"Not finished yet: {second} {unit} (1 of 4 cells)."


def test_the_size_table_shows_the_study_s_other_methods_and_waits_for_them(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"protocol": {"quality_checker_max_train_samples": 500}, "studies": {"real_set_size": {
        "benchmarks": ["b"], "methods": ["real_plus_synthetic", "dimp_plus_real", "real_only"], "seeds": [1],
        "variants": {"real250": {"quality_checker_max_train_samples": 250}}}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    labels = np.array([0, 1] * 5)

    def cell(method, variant, right=True):
        return {"benchmark": "b", "method": method, "variant": variant, "study": "real_set_size" if variant else "",
                "seed": 1, "predictions": ({"epoch1": np.eye(2)[labels if right else 1 - labels]}, labels),
                "averaged": False}
    rows = [cell(m, v) for v in ("", "real250") for m in ("real_plus_synthetic", "dimp_plus_real")]
    rows.append(cell("real_only", "", right=False))
    table = real_set_tables.size_table(rows, "dimp_plus_real", "real_set_size",
                                       "quality_checker_max_train_samples", "real")
    alone = cell_results.METHOD_NAMES["real_only"]
    assert f"| {alone}, 500 real | 0.0 | 0.0 |" in table.splitlines()
    assert table.endswith("Not finished yet: 250 real (2 of 3 cells).")
    rows.append(cell("real_only", "real250"))
    table = real_set_tables.size_table(rows, "dimp_plus_real", "real_set_size",
                                       "quality_checker_max_train_samples", "real")
    assert f"| {alone}, 250 real | 100.0 | 100.0 |" in table.splitlines() and "Not finished" not in table


def test_a_paired_margin_is_given_with_the_standard_error_of_its_mean():
    assert markdown.mean_se([1.0, 3.0]) == "+2.00 ± 1.00"  # standard deviation 1.41, over the root of 2 pairs
    assert markdown.mean_se([-0.5]) == "-0.50"  # one pair has no standard error: "± 0.00" read as a measured zero
    assert markdown.mean_std([41.0]) == "41.0 (n=1)" and markdown.mean_std([1.0, 3.0]) == "2.0 ± 1.4 (n=2)"


@pytest.mark.parametrize("rule, ce", [("accuracy", "65.0 → 65.0"), ("last", "60.0 → 65.0")])
def test_the_validation_test_table_sets_each_method_s_kept_validation_accuracy_beside_its_test(monkeypatch, rule, ce):
    monkeypatch.setattr(cell_results, "selection_rule", lambda: rule)

    def row(method, seed, curve, test):
        return {"benchmark": "b", "method": method, "variant": "", "seed": seed, "test": (test, test),
                "history": [{"epoch": e + 1, "eval_accuracy": a} for e, a in enumerate(curve)]}
    rows = [row("ce", 1, [0.5, 0.6], 70.0), row("ce", 2, [0.7, 0.6], 60.0), row("dimp", 1, [0.8], 90.0),
            row("dimp", 2, [], 50.0)]  # a run without a validation split: nothing to set beside its test
    assert summarize.validation_test_table(rows).splitlines()[2:] == [f"| CE | {ce} |", "| DIMP | 80.0 → 90.0 |"]


def test_a_gain_over_ce_pairs_each_seed_with_ce_of_that_seed_and_leaves_out_cells_without_a_score():
    def row(method, seed, accuracy):
        return {"benchmark": "b", "method": method, "variant": "", "seed": seed,
                "test": None if accuracy is None else (accuracy, accuracy)}
    rows = [row("ce", 1, 70.0), row("dimp", 1, 75.0), row("dimp", 2, 90.0)]  # seed 2's CE has not run
    assert "| b | – | – | – | – | – | +5.0 (n=1) | – |" in summarize.gain_table(rows)
    rows.append(row("ce", 2, None))  # nor reported a test
    assert "| b | – | – | – | – | – | +5.0 (n=1) | – |" in summarize.gain_table(rows)


def test_the_selection_table_holds_the_cells_every_rule_scores(tmp_path):
    right, wrong = np.ones(10, bool), np.zeros(10, bool)
    averaged, labels = _predictions({"epoch1": wrong, "epoch2": right, "final": right},
                                    {"epoch1": 0.9, "epoch2": 0.9, "final": 0.9})
    single = {key: averaged[key] for key in ("epoch1", "epoch2")}  # no checkpoint average to score
    rows = [{"benchmark": "b", "dir": tmp_path / name, "predictions": (predictions, labels), "averaged": name == "a"}
            for name, predictions in (("a", averaged), ("s", single))]
    lines = summarize.selection_table(rows).splitlines()
    assert lines[2].startswith("| b | 1 | 100.00 |") and lines[3].startswith("| all | 1 |")
    assert summarize.selection_table(rows[1:]) == "No finished cell keeps its validation predictions yet."


def test_the_compute_table_says_so_when_no_cell_recorded_its_time(tmp_path):
    assert summarize.compute_table([{"benchmark": "b", "dir": tmp_path}]) == "No cell has recorded its time yet."


def test_a_study_key_the_grid_does_not_read_and_an_unknown_rule_are_refused(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    spec.write_text(json.dumps({"studies": {"s": {"seeds": [1], "selection": "last"}}}))
    with pytest.raises(ValueError, match="study 's' has unknown key 'selection'"):
        summarize.load_spec()
    spec.write_text(json.dumps({"selection": "best", "studies": {}}))
    with pytest.raises(ValueError, match='"selection" is \'best\'; expected one of accuracy, loss, last, average'):
        summarize.selection_rule()


def test_the_class_balance_table_reweights_validation_recall_to_the_test_split_s_class_shares(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "labels.json").write_text(json.dumps({"0": "no", "1": "yes"}))
    for name, labels in (("validation", [0, 0, 1, 1]), ("test", [0, 0, 0, 1])):
        (data / f"{name}.jsonl").write_text("".join(json.dumps({"text": "t", "label": y}) + "\n" for y in labels))
    monkeypatch.setenv("DIMP_DATA_ROOT", str(data))
    spec = tmp_path / "grid.json"
    files = {"validation_file": "validation.jsonl", "test_file": "test.jsonl"}
    spec.write_text(json.dumps({"benchmarks": {"b": files, "c": files}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    labels = np.array([0, 0, 1, 1])

    def cell(method, seed, predicted, weights=None, benchmark="b"):
        path = tmp_path / benchmark / method / f"seed{seed}"
        path.mkdir(parents=True)
        if weights:
            with (path / "weights.csv").open("w") as f:
                f.write("label,weight_epoch1,weight_epoch2\n" + "".join(f"{y},9,{w}\n" for y, w in weights))
        # Epoch 2 gets every example wrong, so the rule keeps epoch 1, whose predictions are given.
        predictions = {"epoch1": np.eye(2)[predicted], "epoch2": np.eye(2)[1 - labels]}
        return {"benchmark": benchmark, "method": method, "variant": "", "seed": seed, "dir": path,
                "averaged": False, "predictions": (predictions, labels)}
    rows = [cell("real_only", 1, [0, 0, 1, 1]), cell("real_plus_synthetic", 1, [0, 0, 0, 1]),
            cell("best", 1, [0, 1, 1, 1], weights=[(0, 1.0), (1, 3.0)]), cell("best", 2, [0, 1, 1, 1]),
            cell("real_only", 1, [0, 0, 1, 1], benchmark="c")]
    title = "b (no 50 → 75 %, yes 50 → 25 %)"
    # Only seed 1 has all three methods, and only on b. "real_plus_synthetic": recall 100 % and 50 %, so 75 % on
    # validation's shares and 0.75 * 100 + 0.25 * 50 = 87.5 % on the test split's; the weighted one holds 75 % of its
    # weight on "yes".
    assert real_set_tables.class_balance_table(rows, "best").splitlines()[2:] == [
        f"| {title} | {cell_results.METHOD_NAMES['real_only']} | 1 | no 100.0, yes 100.0 | 100.0 | 100.0 | – |",
        f"| {title} | {cell_results.METHOD_NAMES['real_plus_synthetic']} | 1 | no 100.0, yes 50.0 | 75.0 | 87.5 "
        "| – |",
        f"| {title} | best | 1 | no 50.0, yes 100.0 | 75.0 | 62.5 | no 25 %, yes 75 % |"]
    (data / "labels.json").unlink()  # without label names, the label ids
    assert real_set_tables.class_balance_table(rows, "best").splitlines()[2].startswith(
        "| b (0 50 → 75 %, 1 50 → 25 %) | CE on the real set alone (quality checker) | 1 | 0 100.0, 1 100.0 |")
    rows[0]["predictions"] = (rows[0]["predictions"][0], np.array([0, 1, 1, 1]))  # not the validation file's labels
    with pytest.raises(ValueError, match="validation labels do not count as validation.jsonl's do"):
        real_set_tables.class_balance_table(rows, "best")


def test_the_recall_per_class_is_of_the_epoch_the_rule_keeps():
    labels = np.array([0, 0, 1, 1])
    predictions = {"epoch1": np.eye(2)[[0, 1, 1, 1]], "epoch2": np.eye(2)[[0, 0, 0, 1]]}
    row = {"predictions": (predictions, labels), "averaged": False}
    assert cell_results.kept_recall(row, "last").tolist() == [1.0, 0.5]
    assert cell_results.kept_recall(row, "accuracy").tolist() == [0.5, 1.0]  # a tie: the earlier epoch
    assert cell_results.kept_recall(row, "average") is None  # no checkpoint average in this cell
    assert cell_results.kept_recall({**row, "predictions": None}, "last") is None


def test_the_reported_test_follows_the_rule():
    history = [{"epoch": e, "eval_validation_accuracy": a, "eval_validation_loss": loss, "eval_test_accuracy": t,
                "eval_test_f1": t - 0.1} for e, a, loss, t in ((1, 0.7, 0.5, 0.60), (2, 0.8, 0.6, 0.65), (3, 0.75, 0.7, 0.7))]
    final = {"test_accuracy": 0.66, "test_f1": 0.55}
    assert selection.reported_test(history, final, "accuracy", "average") == pytest.approx((65.0, 55.0))
    assert selection.reported_test(history, final, "loss", "average") == pytest.approx((60.0, 50.0))
    assert selection.reported_test(history, final, "last", "average") == pytest.approx((70.0, 60.0))
    assert selection.reported_test(history, final, "average", "average") == pytest.approx((66.0, 55.0))
    assert selection.reported_test(history, final, "average", "accuracy") is None
    assert [selection.kept_epoch(history, rule) for rule in selection.RULES] == [1, 0, 2, None]
    # a test tracked in some epochs only is not matched to the epochs by position: only the run's own model reports
    partial = history[:2] + [{k: v for k, v in history[2].items() if not k.startswith("eval_test_")}]
    assert selection.reported_test(partial, final, "accuracy", "accuracy") == pytest.approx((66.0, 55.0))
    assert selection.reported_test(partial, final, "last", "accuracy") is None
    # a loss missing from an epoch's log: the loss rule keeps no epoch, and its run's own final test is no answer
    lossless = [{k: v for k, v in history[0].items() if k != "eval_validation_loss"}] + history[1:]
    assert selection.reported_test(lossless, final, "loss", "loss") is None


@pytest.mark.parametrize("config, run_rule", [
    ({"average_checkpoints": True, "load_best_model_at_end": True}, "average"),
    ({}, "accuracy"),  # the run's defaults: reload the best epoch by accuracy
    ({"metric_for_best_model": "eval_loss"}, "loss"), ({"metric_for_best_model": None}, "loss"),  # as the Trainer
    ({"metric_for_best_model": "f1"}, None), ({"load_best_model_at_end": False}, "last")])
def test_without_per_epoch_test_tracking_only_the_model_the_run_kept_reports_a_test(config, run_rule):
    # Best validation accuracy at epoch 2, lowest loss at epoch 1; the final test is of the model the run kept.
    history = [{"epoch": e, "eval_accuracy": a, "eval_loss": loss} for e, a, loss in ((1, 0.7, 0.5), (2, 0.8, 0.6),
                                                                                   (3, 0.75, 0.7))]
    final = {"test_accuracy": 0.66, "test_f1": 0.55}
    assert selection.final_model_rule(config) == run_rule
    reported = {rule: selection.reported_test(history, final, rule, run_rule) for rule in selection.RULES}
    assert reported == {rule: pytest.approx((66.0, 55.0)) if rule == run_rule else None for rule in selection.RULES}


@pytest.mark.parametrize("run_rule", ["last", "accuracy", "average"])
def test_a_run_without_a_validation_split_reports_its_test_under_a_rule_that_needs_none(run_rule):
    history = [{"epoch": e, "loss": 0.5} for e in (1, 2, 3)]  # trained, never validated
    final = {"test_accuracy": 0.66, "test_f1": 0.55}
    reported = {rule: selection.reported_test(history, final, rule, run_rule) for rule in selection.RULES}
    # The last epoch and the checkpoint average need no validation to be chosen; the best epoch does.
    assert reported == {rule: pytest.approx((66.0, 55.0)) if rule == run_rule != "accuracy" else None
                        for rule in selection.RULES}


def test_bar_table_pairs_seeds_and_says_whether_each_bar_is_met():
    def row(method, seed, accuracy, benchmark="b"):
        return {"benchmark": benchmark, "method": method, "variant": "", "seed": seed, "test": (accuracy, accuracy)}
    rows = [row("best", 1, 75.0), row("best", 2, 77.0), row("ce", 1, 72.0), row("ce", 2, 73.0),
            row("real_only", 1, 70.0), row("real_plus_synthetic", 1, 74.04), row("real_plus_synthetic", 3, 50.0),
            row("best", 1, 73.5, "c"), row("ce", 1, 71.5, "c"), row("ce", 1, 60.0, "without the method")]
    table = real_set_tables.bar_table(rows, "best").splitlines()
    assert [line.split(" | ")[0] for line in table[2:]] == ["| b", "| c"]  # only where the method ran
    assert table[3].startswith("| c | +2.00 (n=1) met |")  # a gain of exactly the bar meets it
    line = table[2]
    # 0.96 rounds to the bar at one decimal; the table shows the second one and says "not met". Two seeds give a
    # 95 % interval of 3.5 ± 12.71 * 0.5 (t with one degree of freedom); one seed gives none.
    assert line == ("| b | +3.50 ± 0.71 (n=2) met; 95 % CI -2.85 to +9.85 | +5.00 (n=1) met "
                    "| +0.96 (n=1) not met |")


def test_a_mean_over_the_benchmarks_needs_every_benchmark():
    entries = {("y", "a"): [80.0], ("x", "a"): [70.0, 72.0], ("x", "b"): [60.0]}  # the columns sorted by name
    assert markdown.benchmark_means_table("method", ["a", "b"], entries).splitlines() == [
        "| method | x | y | mean |", "| --- | ---: | ---: | ---: |",
        "| a | 71.0 | 80.0 | 75.5 |", "| b | 60.0 | – | – |"]


def test_a_variant_named_alike_in_two_studies_belongs_to_the_study_of_its_method_and_benchmark(tmp_path,
                                                                                                 monkeypatch):
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"studies": {
        "a": {"benchmarks": ["x"], "methods": ["dimp"], "variants": {"plain": {}}},
        "b": {"benchmarks": ["x"], "methods": ["imp"], "variants": {"plain": {}}},
        "c": {"benchmarks": ["y"], "methods": ["dimp"], "variants": {"plain": {}}}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    monkeypatch.setattr(cell_results, "CELLS", tmp_path / "cells")
    for bench, method in (("x", "dimp"), ("x", "imp"), ("x", "ce"), ("y", "dimp"), ("y", "imp")):
        cell = tmp_path / "cells" / bench / f"{method}__plain" / "seed1"
        cell.mkdir(parents=True)
        (cell / "all_results.json").write_text("{}")
    assert {(r["benchmark"], r["method"]): r["study"] for r in cell_results.finished_cells()} == {
        ("x", "dimp"): "a", ("x", "imp"): "b", ("x", "ce"): "", ("y", "dimp"): "c", ("y", "imp"): ""}


@pytest.mark.parametrize("name", list(shipped.RUNS))
def test_each_shipped_run_parses_and_the_real_only_run_trains_on_the_checkers_real_set(name, monkeypatch):
    monkeypatch.chdir(shipped.ROOT)
    config, overrides = shipped.RUNS[name]
    cfg = load_config(config, [x for key, value in overrides.items() for x in (f"--{key}", value)])
    if name == "real_only":
        checker = load_config("configs/config_baseline.json").checkers
        assert (cfg.data.train_file, cfg.data.max_train_samples) == (checker.quality_checker_train_file,
                                                                     checker.quality_checker_max_train_samples)
        assert (cfg.training.num_train_epochs, cfg.training.learning_rate) == (checker.checker_num_train_epochs,
                                                                               checker.checker_learning_rate)
    assert cfg.data.real_set_in_training == (name in ("real_plus_synthetic", "recommended"))
    # The recommendation and the two things a user could do instead keep the epoch the grid's rule keeps (the last);
    # the paper's configs keep the authors' best one.
    assert summarize.selection_rule() == "last"
    paper = {"ce", "focal", "imp", "dimp", "dimp_no_diversity"}
    assert cfg.training.load_best_model_at_end == (name in paper)


def test_the_readme_table_of_shipped_runs_is_written_from_results_shipped_json(tmp_path, monkeypatch):
    done = json.loads(shipped.OUTPUT.read_text())
    table = shipped.readme_table(done)
    assert f"<!-- SHIPPED -->\n{table}\n<!-- /SHIPPED -->" in shipped.README.read_text(encoding="utf-8")
    assert table.count("\n") == 1 + len(shipped.RUNS)  # every shipped run has its row
    # Rewriting touches only what lies between the markers.
    readme = tmp_path / "README.md"
    readme.write_text("# R\n<!-- SHIPPED -->\nstale\n<!-- /SHIPPED -->\ntail\n", encoding="utf-8")
    monkeypatch.setattr(shipped, "README", readme)
    shipped.write_readme_table({"ce": done["ce"]})
    assert readme.read_text(encoding="utf-8") == (
        "# R\n<!-- SHIPPED -->\n" + shipped.readme_table({"ce": done["ce"]}) + "\n<!-- /SHIPPED -->\ntail\n")
    assert "| `config_baseline.json` | CE | 67.2 | 44.4 | 69.1 |" in readme.read_text(encoding="utf-8")


def test_shipped_runs_what_results_shipped_json_lacks_or_what_runs_names(tmp_path, monkeypatch):
    work = tmp_path / "experiments" / "work" / "shipped"
    readme = tmp_path / "README.md"
    readme.write_text("<!-- SHIPPED -->\n<!-- /SHIPPED -->\n", encoding="utf-8")
    for name, value in (("ROOT", tmp_path), ("WORK", work), ("OUTPUT", tmp_path / "shipped.json"), ("README", readme),
                        ("RUNS", {name: shipped.RUNS[name] for name in ("recommended", "ce")})):
        monkeypatch.setattr(shipped, name, value)
    ran = tmp_path / "ran"
    (tmp_path / "run.py").write_text(  # stands in for run.py: its results, and nothing else
        "import json, pathlib, sys\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--output_dir') + 1])\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        f"ran = pathlib.Path({str(ran)!r})\n"
        "names = (ran.read_text().split() if ran.is_file() else []) + [out.name]\n"
        "ran.write_text(' '.join(names))\n"
        "metrics = dict.fromkeys(('eval_accuracy', 'eval_f1', 'test_accuracy', 'test_f1'), 0.1 * len(names))\n"
        "(out / 'all_results.json').write_text(json.dumps(metrics))\n")
    monkeypatch.setattr(shipped, "children_cpu_s", iter([100.0, 130.0, 200.0, 205.0]).__next__)  # before, after
    earlier = {"command": "python run.py configs/config_baseline.json", "test_accuracy": 0.9, "test_f1": 0.9,
               "eval_accuracy": 0.9}
    shipped.OUTPUT.write_text(json.dumps({"ce": earlier}))
    assert shipped.main([]) == 0
    done = json.loads(shipped.OUTPUT.read_text())
    assert ran.read_text() == "recommended" and done["ce"] == earlier  # only what was missing
    assert done["recommended"]["command"] == ("python run.py configs/config_recommended.json --output_dir "
                                              "experiments/work/shipped/recommended --overwrite_output_dir true "
                                              "--report_to none")  # as a user types it in the repository
    assert done["recommended"]["cpu_s"] == 30.0  # its own CPU time, not every earlier child's
    assert shipped.main(["--runs", "ce"]) == 0
    assert ran.read_text() == "recommended ce" and json.loads(shipped.OUTPUT.read_text())["ce"]["test_accuracy"] == 0.2
    assert "| `config_baseline.json` | CE | 20.0 | 20.0 | 20.0 |" in readme.read_text(encoding="utf-8")


def test_shipped_stops_at_a_run_that_failed_and_keeps_the_runs_before_it(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped, "ROOT", tmp_path)
    monkeypatch.setattr(shipped, "WORK", tmp_path / "work")
    monkeypatch.setattr(shipped, "OUTPUT", tmp_path / "shipped.json")
    monkeypatch.setattr(shipped, "README", tmp_path / "README.md")  # never the repository's, whatever happens
    (tmp_path / "run.py").write_text("import sys\nsys.exit(2)\n")  # as run.py ends on bad input
    shipped.OUTPUT.write_text(json.dumps({"ce": {"test_accuracy": 0.9}}))
    with pytest.raises(SystemExit, match=r"^recommended: run.py failed \(2\), as it says above; results/shipped.json "
                                         "keeps the others$"):
        shipped.main(["--runs", "recommended"])
    assert json.loads(shipped.OUTPUT.read_text()) == {"ce": {"test_accuracy": 0.9}}


@pytest.mark.parametrize("script", ["grid.py", "summarize.py", "shipped.py", "study_files.py"])
def test_each_experiment_script_runs_as_the_readme_says(script):
    done = subprocess.run([sys.executable, f"experiments/{script}", "--help"], cwd=grid.ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and f"usage: {script}" in done.stdout, done.stderr


def _real_sets_drawn(seeds, tmp_path) -> dict[int, list[str]]:
    """The real set each seed's run trains its checker and its real-set models on (toy/real.jsonl, at most 10)."""
    from data.prepare import load_task

    drawn = {}
    for seed in seeds:
        cfg = load_config(None, ["--train_file", "toy/train.jsonl", "--validation_file", "toy/validation.jsonl",
                                 "--quality_checker_train_file", "toy/real.jsonl",
                                 "--quality_checker_max_train_samples", "10", "--seed", str(seed),
                                 "--data_work_dir", str(tmp_path / "scratch"), "--output_dir", str(tmp_path / "out"),
                                 "--problem_type", "single_label_classification_dimp", "--report_to", "none"])
        task = load_task(cfg)
        drawn[seed] = list(task.splits["quality_train"]["text"])
        task.close()
    return drawn


def _toy_study_spec(**study) -> dict:
    return {"protocol": {"quality_checker_max_train_samples": 10},
            "benchmarks": {"toy": {"train_file": "toy/train.jsonl", "quality_checker_train_file": "toy/real.jsonl"}},
            "studies": {"s": {"benchmarks": ["toy"], **study}}}


def test_the_unused_real_file_holds_what_no_seed_s_real_set_drew(toy_data_root, monkeypatch, tmp_path):
    from experiments import study_files

    monkeypatch.setenv("DIMP_DATA_ROOT", str(toy_data_root))
    monkeypatch.setattr(study_files, "ROOT", tmp_path)
    spec = _toy_study_spec(seeds=[1, 2], variants={"v": {"validation_file": "experiments/work/unused.jsonl"},
                                                   "w": {"learning_rate": 1e-3}})
    written, = study_files.write_study_files(spec, "s")
    unused = [json.loads(line)["text"] for line in written.read_text().splitlines()]
    drawn = {text for texts in _real_sets_drawn((1, 2), tmp_path).values() for text in texts}
    real = [json.loads(line)["text"] for line in (toy_data_root / "toy" / "real.jsonl").read_text().splitlines()]
    assert len(set(real)) == 32 and 10 < len(drawn) <= 20
    assert sorted(unused) == sorted(set(real) - drawn)


def test_a_study_s_real_set_files_are_the_real_sets_its_seeds_draw(toy_data_root, monkeypatch, tmp_path):
    from experiments import study_files

    monkeypatch.setenv("DIMP_DATA_ROOT", str(toy_data_root))
    monkeypatch.setattr(study_files, "ROOT", tmp_path)
    spec = _toy_study_spec(seeds=[1, 3], overrides={"quality_checker_train_file": "experiments/work/real_{seed}.jsonl"},
                           variants={"held": {"real_validation_fraction": 0.2}, "all": {"real_validation_fraction": 0}})
    study = spec["studies"]["s"]
    assert study_files.writes_files(study) and not study_files.writes_validation_file(study)
    written = study_files.write_study_files(spec, "s")
    assert written == [tmp_path / "experiments/work/real_1.jsonl", tmp_path / "experiments/work/real_3.jsonl"]
    # The same examples in the same order: a run on seed 3's file with seed 3 trains the checker seed 3 trains.
    drawn = _real_sets_drawn([1, 3], tmp_path)
    assert [[json.loads(line)["text"] for line in path.read_text().splitlines()] for path in written] == [
        drawn[1], drawn[3]]
    assert drawn[1] != drawn[3]


def test_a_study_over_benchmarks_whose_real_sets_differ_writes_no_derived_file(toy_data_root, monkeypatch, tmp_path):
    """One file could hold the examples unused by only one of the real sets' draws."""
    from experiments import study_files

    monkeypatch.setenv("DIMP_DATA_ROOT", str(toy_data_root))
    monkeypatch.setattr(study_files, "ROOT", tmp_path)
    spec = _toy_study_spec(seeds=[1], variants={"v": {"validation_file": "experiments/work/unused.jsonl"}})
    spec["benchmarks"]["toy_fewer"] = {**spec["benchmarks"]["toy"], "quality_checker_max_train_samples": 5}
    spec["studies"]["s"]["benchmarks"].append("toy_fewer")
    with pytest.raises(SystemExit, match="^s: one derived file for benchmarks with different real sets$"):
        study_files.write_study_files(spec, "s")
    assert not (tmp_path / "experiments").exists()


def test_the_holdout_studies_give_each_seed_its_own_real_set_holdout_and_checkers(spec):
    grid_checker = Path(grid.cell_config(spec, grid.Cell("mrpc_ctrl", "dimp_plus_real", 1))["quality_checker_model"])
    configs = [grid.cell_config(spec, cell, overrides) for cell, overrides in grid.study_cells(spec, ["real_holdout_mrpc"])]
    assert {(c["seed"], c["split_seed"], c["quality_checker_train_file"]) for c in configs} == {
        (seed, seed, f"experiments/work/data/mrpc_real500_seed{seed}.jsonl") for seed in (1, 2, 3)}
    checkers = {Path(c["quality_checker_model"]) for c in configs}
    assert len(checkers) == 6 and grid_checker not in checkers
    # Named after the file's stem, beside the grid's checkers: a path's slashes would nest it.
    assert {checker.parent.parent for checker in checkers} == {grid_checker.parent.parent}


def _toy_grid(toy_data_root, monkeypatch, tmp_path, methods: list[str], seeds: list[int]) -> None:
    """A grid of the toy benchmark in tmp_path, with a study `s` of CE on seed 1 whose validation file it derives."""
    from experiments import study_files

    monkeypatch.setenv("DIMP_DATA_ROOT", str(toy_data_root))
    monkeypatch.setattr(study_files, "ROOT", tmp_path)
    monkeypatch.setattr(grid, "RESULTS", tmp_path / "results")
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({
        "protocol": {"quality_checker_max_train_samples": 10, "problem_type": "single_label_classification"},
        "benchmarks": {"toy": {"train_file": "toy/train.jsonl", "quality_checker_train_file": "toy/real.jsonl"}},
        "methods": {method: {} for method in methods}, "seeds": seeds,
        "studies": {"s": {"benchmarks": ["toy"], "methods": ["ce"], "seeds": [1],
                          "variants": {"v": {"validation_file": "experiments/work/unused.jsonl"}}}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)


def test_the_grid_writes_a_study_s_derived_validation_file_before_its_cells_run(toy_data_root, monkeypatch, tmp_path):
    _toy_grid(toy_data_root, monkeypatch, tmp_path, ["ce"], [1])
    seen = []
    monkeypatch.setattr(grid, "run_cell", lambda cell, config: seen.append(
        (config["validation_file"], (tmp_path / config["validation_file"]).is_file())) or True)
    assert grid.main(["--no-grid", "--studies", "s"]) == 0
    assert seen == [("experiments/work/unused.jsonl", True)]
    assert len((tmp_path / "experiments/work/unused.jsonl").read_text().splitlines()) == 32 - 10


def test_a_dry_run_lists_the_cells_left_in_order_and_runs_or_writes_nothing(toy_data_root, monkeypatch, tmp_path,
                                                                           capsys):
    _toy_grid(toy_data_root, monkeypatch, tmp_path, ["ce", "dimp"], [1, 2])
    finished = grid.Cell("toy", "ce", 1)
    (grid.RESULTS / finished.path).mkdir(parents=True)
    (grid.RESULTS / finished.path / "all_results.json").write_text("{}")
    monkeypatch.setattr(grid, "run_cell", lambda cell, config: pytest.fail("a cell ran"))
    assert grid.main(["--studies", "s", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == ["1 of 5 cells already finished; 4 to run", "toy/dimp/seed1",
                                                    "toy/ce/seed2", "toy/dimp/seed2", "toy/ce__v/seed1"]
    assert grid.main(["--studies", "s", "--dry_run", "--no_grid"]) == 0  # spelt as run.py's options are, too
    assert capsys.readouterr().out.splitlines() == ["0 of 1 cells already finished; 1 to run", "toy/ce__v/seed1"]
    assert not (tmp_path / "experiments").exists()  # the study's derived file is not written


def test_the_holdout_table_pairs_each_variant_with_the_first_by_seed_and_counts_real_examples(tmp_path, monkeypatch):
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"studies": {"h": {
        "benchmarks": ["b"], "methods": ["dimp_plus_real"], "seeds": [1, 2],
        "overrides": {"quality_checker_train_file": "experiments/work/real_{seed}.jsonl"},
        "variants": {"held": {"real_validation_fraction": 0.2}, "all": {"real_validation_fraction": 0}}}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)

    def cell(variant, seed, accuracy, held_out=None):
        folder = tmp_path / f"{variant}{seed}"
        folder.mkdir()
        split = {"validation_from_real_set": {"validation_examples": 100}} if held_out is not None else {}
        (folder / "resolved_config.json").write_text(json.dumps({"max_train_samples": 800, **split}))
        metrics = {"train_samples": 1200 if held_out is not None else 1300, "test_accuracy": accuracy,
                   **({"eval_accuracy": held_out} if held_out is not None else {})}
        return {"benchmark": "b", "study": "h", "variant": variant, "seed": seed, "dir": folder, "metrics": metrics}
    rows = [cell("held", 1, 0.70, 0.60), cell("all", 1, 0.74), cell("held", 2, 0.72, 0.80), cell("all", 2, 0.72),
            cell("held", 3, 0.10, 0.10)]  # seed 3 has not finished every variant: left out
    assert real_set_tables.real_holdout_table(rows).splitlines()[2:] == [
        "| b | 20% (100) | 2 | 400 | 71.0 | – | 70.0 |",
        "| b | none | 2 | 500 | 73.0 | +2.0 ± 2.8 (n=2) | – |"]


def test_the_quality_checkers_spread_is_read_back_from_a_cells_weights_for_two_classes(tmp_path):
    """weights.csv keeps P' at the gold label only, which gives every class probability of a two-class task."""
    weights = tmp_path / "weights.csv"
    weights.write_text("index,label,quality_prob\n0,0,0.9\n1,1,0.7\n2,1,\n")  # a row without P' is passed over
    # P'(class 0) is 0.9 and 0.3: each row moves 0.3 from their mean 0.6, in each class's column.
    assert real_set_tables.quality_spread(weights) == pytest.approx(0.3)
    weights.write_text("index,label,quality_prob\n0,0,0.9\n1,1,0.7\n2,2,0.5\n")
    assert real_set_tables.quality_spread(weights) is None


def test_the_other_generator_table_sets_each_method_s_two_generators_side_by_side_paired_by_seed(tmp_path,
                                                                                                 monkeypatch):
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"selection": "last", "benchmarks": {"b": {"train_file": "synthetic/gen_a/train.jsonl"}},
                                "studies": {"other_generator": {
                                    "benchmarks": ["b"], "methods": ["ce", "real_plus_synthetic", "dimp_plus_real"],
                                    "seeds": [1, 2, 3], "overrides": {"train_file": "synthetic/gen_b/train.jsonl"},
                                    "variants": {"gen_b": {}}}}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    labels = np.array([0, 1] * 5)

    def cell(method, variant, seed, right, test):
        return {"benchmark": "b", "method": method, "variant": variant, "seed": seed, "averaged": False,
                "study": "other_generator" if variant else "", "test": (test, test),
                "predictions": ({"epoch1": np.eye(2)[labels if right else 1 - labels]}, labels)}
    rows = []
    for seed in (1, 2, 3):
        rows += [cell("real_only", "", seed, True, 70.0), cell("ce", "", seed, False, 60.0),
                 cell("real_plus_synthetic", "", seed, True, 72.0), cell("dimp_plus_real", "", seed, True, 72 + seed)]
    for seed in (1, 2):  # seed 3 has not trained with the second generator: left out
        rows += [cell("ce", "gen_b", seed, False, 61.0), cell("real_plus_synthetic", "gen_b", seed, False, 71.0),
                 cell("dimp_plus_real", "gen_b", seed, True, 73 + seed)]
    rows.append(cell("ce", "", 1, True, 99.0) | {"benchmark": "other"})
    rows[1]["predictions"] = None  # an early grid cell that kept no validation predictions
    note, table = real_set_tables.other_generator_table(rows, "dimp_plus_real").split("\n\n")
    assert note.startswith("b's real set and splits; seeds 1, 2.")
    names, recommended = cell_results.METHOD_NAMES, cell_results.METHOD_NAMES["dimp_plus_real"]
    assert table.splitlines()[0] == ("| method | validation halves, gen_a | validation halves, gen_b | test, gen_a | "
                                     "test, gen_b |")
    assert table.splitlines()[2:] == [
        f"| {names['ce']} | – | 0.0 | 60.0 | 61.0 |",
        f"| {names['real_only']} | 100.0 | 100.0 | 70.0 | 70.0 |",
        f"| {names['real_plus_synthetic']} | 100.0 | 0.0 | 72.0 | 71.0 |",
        f"| {recommended} | 100.0 | 100.0 | 73.5 | 74.5 |",
        f"| {recommended} − {names['ce']} (bar +2) | – | +100.00 ± 0.00 | +13.50 ± 0.50 met | "
        "+13.50 ± 0.50 met |",
        f"| {recommended} − {names['real_only']} (bar +1) | +0.00 ± 0.00 | +0.00 ± 0.00 | +3.50 ± 0.50 met | "
        "+4.50 ± 0.50 met |",
        f"| {recommended} − {names['real_plus_synthetic']} (bar +1) | +0.00 ± 0.00 | +100.00 ± 0.00 | "
        "+1.50 ± 0.50 met | +3.50 ± 0.50 met |"]
    assert real_set_tables.other_generator_table(rows[:12], "dimp_plus_real") == ("No seed has finished every method "
                                                                                  "of the study yet.")


def test_the_command_that_regenerates_everything_names_every_study(spec):
    text = (grid.ROOT / "results" / "README.md").read_text(encoding="utf-8")
    command = text.split("Regenerate everything", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert [name for name in spec["studies"] if name not in command.split()] == []


@pytest.mark.parametrize("change, message", [
    ({"benchmarks": ["toyx"]}, r"study 's': benchmarks 'toyx' is not in grid.json's benchmarks \(toy\)"),
    ({"methods": ["dimp"]}, r"study 's': methods 'dimp' is not in grid.json's methods \(ce\)"),
    ({"seeds": ["9"]}, r"study 's': seed '9'; expected integers >= 0"),
    ({"variants": {}}, r"study 's': variants: expected an object of variant name -> settings"),
    ({"variants": None}, r"study 's': variants: expected"),
])
def test_a_study_grid_py_cannot_run_is_refused_in_one_line_before_any_cell(tmp_path, monkeypatch, capsys, change,
                                                                          message):
    study = {"benchmarks": ["toy"], "methods": ["ce"], "seeds": [1], "variants": {"v": {}}, **change}
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps({"protocol": {}, "benchmarks": {"toy": {}}, "methods": {"ce": {}}, "seeds": [1],
                                "studies": {"s": study}}))
    monkeypatch.setattr("experiments.spec.SPEC", spec)
    monkeypatch.setattr(grid, "run_cell", lambda cell, config: pytest.fail("a cell ran"))
    assert grid.main(["--no-grid", "--studies", "s"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and re.search(message, err), err


def test_the_command_lines_seeds_benchmarks_and_methods_narrow_a_study_too(spec, monkeypatch):
    ran = []
    monkeypatch.setattr(grid, "run_all", lambda spec, todo: ran.extend(cell for cell, _ in todo) or 0)
    monkeypatch.setattr(grid.Cell, "done", property(lambda self: False))
    assert grid.main(["--no-grid", "--studies", "real_set_size", "--seeds", "1", "1", "--benchmarks", "irony_gpt"]) == 0
    study = spec["studies"]["real_set_size"]
    assert ran and {(c.seed, c.benchmark) for c in ran} == {(1, "irony_gpt")}
    assert len(ran) == len(study["variants"]) * len(study["methods"])  # seed 1 given twice: its cells once


def test_study_files_offers_the_studies_that_derive_files(capsys):
    from experiments import study_files

    with pytest.raises(SystemExit) as stopped:
        study_files.main(["--study", "real_set"])  # a study deriving none: its message was about real sets
    assert stopped.value.code == 2
    assert "invalid choice: 'real_set' (choose from 'unused_real'" in capsys.readouterr().err
