"""The finished cells of results/cells, read once: each cell's metrics, history, validation predictions, and the
test result it reports under the grid's selection rule."""

from __future__ import annotations

import json

import numpy as np

from experiments.grid import log_history
from experiments.selection import (choose, final_model_rule, held_out_half_accuracy, kept_epoch, load_predictions,
                                   reported_test, validation_curve)
from experiments.spec import ROOT, load_spec, selection_rule

RESULTS = ROOT / "results"
CELLS = RESULTS / "cells"
METHOD_ORDER = ("real_only", "ce", "real_plus_synthetic", "focal", "cleanlab", "imp", "dimp", "dimp_no_diversity",
                "dimp_plus_real")
METHOD_NAMES = {"real_only": "CE on the real set alone (quality checker)", "ce": "CE",
                "real_plus_synthetic": "CE on real + generated", "focal": "Focal", "cleanlab": "cleanlab + CE",
                "imp": "IMP", "dimp": "DIMP", "dimp_no_diversity": "DIMP w/o diversity checker",
                "dimp_plus_real": "DIMP with the real set joined (w = 1)"}


def finished_cells() -> list[dict]:
    """Every finished cell, with "test": its (test accuracy, test macro-F1) in percent under the grid's selection
    rule, None when the cell cannot report it; and "predictions": its saved validation predictions (probabilities
    per evaluation, labels), None when it kept none."""
    studies, rule = load_spec()["studies"], selection_rule()
    # Two studies may name a variant alike ("plain", "real100"); their methods or benchmarks tell them apart.
    study_of = {(benchmark, method, variant): name for name, study in studies.items()
                for benchmark in study["benchmarks"] for method in study["methods"] for variant in study["variants"]}
    rows = []
    for results in sorted(CELLS.glob("*/*/seed*/all_results.json")):
        seed_dir = results.parent
        benchmark, (method, _, variant) = seed_dir.parent.parent.name, seed_dir.parent.name.partition("__")
        metrics = json.loads(results.read_text())
        config_file = seed_dir / "cell_config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        history, run_rule = log_history(seed_dir), final_model_rule(config)
        rows.append({"benchmark": benchmark, "method": method, "variant": variant,
                     "study": study_of.get((benchmark, method, variant), ""), "seed": int(seed_dir.name[4:]),
                     "metrics": metrics, "history": history, "dir": seed_dir, "averaged": run_rule == "average",
                     "test": reported_test(history, metrics, rule, run_rule),
                     "predictions": load_predictions(seed_dir / "validation_predictions.npz")})
    return rows


def held_out_score(row: dict, rule: str) -> float | None:
    """The cell's accuracy on one validation half with the epoch `rule` selects on the other; None when it kept no
    validation predictions or the rule does not apply to it."""
    return None if row["predictions"] is None else held_out_half_accuracy(*row["predictions"], rule, row["averaged"])


def grid_results(rows: list[dict]) -> list[dict]:
    """The grid's own cells (no study variant) that report a test result: what effect.csv and its tables show."""
    return [row for row in rows if not row["variant"] and row["test"]]


def accuracy_on_test(row: dict) -> float | None:
    return row["test"][0] if row["test"] else None


def validation_curve_percent(row: dict, metric: str) -> list[float]:
    return [100 * value for value in validation_curve(row["history"], metric)]


def kept_validation_accuracy(row: dict) -> float | None:
    """The validation accuracy of the epoch the grid's selection rule keeps: what model selection saw."""
    epoch = kept_epoch(row["history"], selection_rule())
    return None if epoch is None else validation_curve_percent(row, "accuracy")[epoch]


def kept_recall(row: dict, rule: str) -> np.ndarray | None:
    """The cell's recall per class on its whole validation split at the epoch `rule` keeps; None when it kept no
    validation predictions or the rule does not apply to it."""
    if row["predictions"] is None:
        return None
    predictions, labels = row["predictions"]
    kept = choose(rule, predictions, labels, np.arange(len(labels)), row["averaged"])
    if kept is None:
        return None
    predicted = predictions[kept].argmax(1)
    return np.array([(predicted[labels == c] == c).mean() for c in range(predictions[kept].shape[1])])


def last_epoch_column(record: dict, prefix: str) -> str:
    """The column of the last epoch's `prefix` ("weight" or "model_prob") in a weights.csv record."""
    epochs = sorted((k for k in record if k.startswith(f"{prefix}_epoch")), key=lambda k: int(k.rpartition("epoch")[2]))
    return epochs[-1]
