"""weights.csv and weights_report.md of whole runs: DIMP's and Focal's per-epoch weights, kept across a resume."""

from __future__ import annotations

import json

import pytest

from config.loading import load_config
from conftest import weights_rows
from app.pipeline import run


def test_dimp_run_writes_per_epoch_weights_and_resumes_them(tiny_config, tmp_path):
    config = {**tiny_config, "problem_type": "single_label_classification_dimp", "save_strategy": "steps",
              "save_steps": 4, "save_total_limit": None}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    run(load_config(str(path)))
    out = tmp_path / "out"
    rows = weights_rows(out)
    assert len(rows) == 64
    assert {"index", "text", "label", "label_name", "quality_prob", "static_weight", "model_prob_epoch1",
            "weight_epoch1", "model_prob_epoch2", "weight_epoch2"} <= set(rows[0])
    for row in rows:
        for epoch in (1, 2):
            quality, model = float(row["quality_prob"]), float(row[f"model_prob_epoch{epoch}"])
            assert float(row[f"weight_epoch{epoch}"]) == pytest.approx(quality / model, rel=1e-4)
    report = (out / "weights_report.md").read_text()
    assert "## Across epochs" in report and (out / "weights_by_epoch.png").is_file()

    # Resumed in the middle of epoch 2 (8 steps an epoch), the run ends with the same weights.csv.
    first = (out / "weights.csv").read_text()
    (out / "weights.csv").unlink()
    run(load_config(str(path), ["--resume_from_checkpoint", str(out / "checkpoint-12")]))
    assert (out / "weights.csv").read_text() == first


def test_focal_run_reports_the_weights_it_used_without_any_checker(tiny_config, tmp_path):
    config = {**tiny_config, "problem_type": "single_label_classification_focalloss", "focal_gamma": 2.0}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    run(load_config(str(path)))
    rows = weights_rows(tmp_path / "out")
    assert len(rows) == 64 and "quality_prob" not in rows[0]
    written = (tmp_path / "out" / "weights.csv").read_bytes()
    assert written.count(b"\n") == 65 and b"\r" not in written  # Unix lines, as predict.py writes
    for row in rows:
        assert float(row["weight_epoch2"]) == pytest.approx((1 - float(row["model_prob_epoch2"])) ** 2, rel=1e-4)
    assert "ranked by **weight, epoch 2**" in (tmp_path / "out" / "weights_report.md").read_text()


def test_score_py_needs_a_quality_checker_and_keeps_earlier_scores(tiny_config, tmp_path, capsys):
    from app.cli import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "quality_checker_model": None}))
    assert main([str(path)], command="score") == 2
    assert "error: quality_checker_model: score.py needs a quality checker" in capsys.readouterr().err

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "weights.csv").write_text("earlier scores\n")
    assert main([str(path)], command="score") == 2
    assert "already holds weights.csv" in capsys.readouterr().err
    assert (tmp_path / "out" / "weights.csv").read_text() == "earlier scores\n"


@pytest.mark.parametrize("command", ["run", "score"])
def test_the_wandb_config_names_the_text_columns_read(tiny_config, tmp_path, monkeypatch, command):
    """run.py and score.py give W&B the settings resolved_config.json records: the text columns as read (the config
    names none)."""
    import app.pipeline
    from trainer.tracking import Tracker

    given = {}

    def start(cls, report_to, name, config, tags, resumed=None, job_type="run"):
        given.update(config)
        return cls()  # no W&B run

    monkeypatch.setattr(Tracker, "start", classmethod(start))
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tiny_config, "num_train_epochs": 1}))
    getattr(app.pipeline, command)(load_config(str(path), command=command))
    assert given["text_column_names"] == "text"

