"""The experiment grid: every cell's config is valid, IMP's diversity checker is the CE cell, and the summary
tables and CSV come out of finished cells."""

from __future__ import annotations

import csv
import json

import pytest

from config.loading import load_config
from experiments import grid, summarize


@pytest.fixture(scope="module")
def spec():
    return json.loads(grid.SPEC.read_text())


def test_every_cell_config_parses(spec, tmp_path):
    cells = grid.grid_cells(spec, list(spec["benchmarks"]), list(spec["methods"]), spec["seeds"])
    cells += grid.study_cells(spec, list(spec["studies"]))
    assert len(cells) == 5 * 6 * 3 + 4 + 2 * 3
    for cell, overrides in cells:
        path = tmp_path / "c.json"
        path.write_text(json.dumps(grid.cell_config(spec, cell, overrides)))
        cfg = load_config(str(path))
        assert cfg.training.seed == cell.seed


def test_checker_recipe_study_only_scores_and_is_kept_apart(spec):
    cells = grid.study_cells(spec, ["checker_recipe"])
    assert {cell.command for cell, _ in cells} == {"score"}
    cell, overrides = cells[0]
    assert cell.path.parts[1].startswith("checker__") and grid.FINISHED[cell.command] != "all_results.json"
    assert grid.cell_config(spec, cell, overrides)["checker_num_train_epochs"] == overrides["checker_num_train_epochs"]


def test_ce_runs_before_imp_and_is_its_diversity_checker(spec):
    cells = [c for c, _ in grid.grid_cells(spec, ["mrpc_ctrl"], ["imp", "ce"], [1])]
    assert [c.method for c in cells] == ["ce", "imp"]
    config = grid.cell_config(spec, cells[1])
    assert config["diversity_checker_model"] == str(grid.WORK / cells[0].path)


def test_summary_from_finished_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(summarize, "RESULTS", tmp_path)
    monkeypatch.setattr(summarize, "CELLS", tmp_path / "cells")
    for method, accuracies in (("ce", (0.70, 0.72)), ("dimp", (0.75, 0.77))):
        for seed, accuracy in enumerate(accuracies, start=1):
            cell = tmp_path / "cells" / "bench" / method / f"seed{seed}"
            cell.mkdir(parents=True)
            (cell / "all_results.json").write_text(json.dumps({"test_accuracy": accuracy, "test_f1": accuracy - 0.1}))
            history = [{"epoch": e, "eval_test_accuracy": accuracy - 0.01 * (3 - e)} for e in (1, 2, 3)]
            (cell / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    (tmp_path / "README.md").write_text("# R\n<!-- TABLE -->\nold\n<!-- /TABLE -->\ntail\n")
    summarize.main()
    rows = list(csv.DictReader((tmp_path / "effect.csv").open()))
    assert len(rows) == 4 and rows[0].keys() == {"benchmark", "method", "seed", "test_accuracy", "test_f1"}
    readme = (tmp_path / "README.md").read_text()
    assert "| bench | CE | 71.0 ± 1.4 (n=2) |" in readme and "| bench | DIMP | 76.0 ± 1.4 (n=2) |" in readme
    assert "old" not in readme and readme.endswith("tail\n")
    assert (tmp_path / "dynamics_bench.png").is_file()
