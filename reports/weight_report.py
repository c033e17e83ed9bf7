"""Writing weights.csv, weights_report.md and its plots into a folder, and logging them to W&B."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from reports import plots
from reports.example_weights import ExampleWeights, loss_name, write_csv
from reports.markdown import render
from trainer.atomic import write_text_atomic

logger = logging.getLogger(__name__)

CSV_FILE = "weights.csv"
REPORT_FILE = "weights_report.md"


def write_weight_report(folder: Path, weights: ExampleWeights, description: str, filtered: str | None = None,
                        wandb_run=None) -> Path:
    """Write everything into `folder` and return the report's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / CSV_FILE, weights)
    distributions = _distribution_plots(folder, weights)
    epoch_plot = None
    if weights.epochs:
        model_prob = {epoch: weights.without_fixed(values) for epoch, values in weights.model_prob.items()}
        weight = {epoch: weights.without_fixed(values) for epoch, values in weights.weight.items()}
        epoch_plot = plots.weights_by_epoch(model_prob, weight, loss_name(weights.loss),
                                            folder / "weights_by_epoch.png")
    report = folder / REPORT_FILE
    write_text_atomic(report, render(weights, description, {title: path.name for title, path in distributions.items()},
                                     epoch_plot.name if epoch_plot else None, filtered))
    logger.info("Example weights: %s, %s", folder / CSV_FILE, report)
    if wandb_run is not None:
        images = {**distributions, **({"weights across epochs": epoch_plot} if epoch_plot else {})}
        log_to_wandb(wandb_run, weights, images)
    return report


def _distribution_plots(folder: Path, weights: ExampleWeights) -> dict[str, Path]:
    ranking = weights.ranking()
    if ranking is None:
        return {}
    labels = np.asarray(weights.label_names, dtype=object)[weights.labels]  # one reference per example
    images = {f"{ranking.name} by label": plots.histogram_by_group(
        ranking.values, labels, weights.label_names, ranking.name,
        f"Distribution of {ranking.name}, per gold label", folder / "weights_by_label.png")}
    if weights.noise is not None:
        images[f"{ranking.name} by noise kind"] = plots.histogram_by_group(
            ranking.values, weights.noise, weights.noise_kinds(), ranking.name,
            f"Distribution of {ranking.name}, per noise kind", folder / "weights_by_noise.png")
    return images


def log_to_wandb(run, weights: ExampleWeights, images: dict[str, Path]) -> None:
    """The table and the plots, under example_weights/; a W&B failure is logged and otherwise ignored."""
    try:
        import wandb

        logged = {f"example_weights/{path.stem}": wandb.Image(str(path), caption=title) for title, path in images.items()}
        if len(weights) <= wandb.Table.MAX_ROWS:
            columns = weights.columns()
            logged["example_weights/table"] = wandb.Table(columns=list(columns),
                                                          data=[list(row) for row in zip(*columns.values())])
        else:
            logger.info("W&B: %d examples are more than a W&B table holds (%d); the table is in weights.csv only",
                        len(weights), wandb.Table.MAX_ROWS)
        run.log(logged)
    except Exception as err:  # W&B raises many types; none of them may stop the run
        logger.warning("W&B: could not log the example weights (%s); they are in weights.csv", err)
