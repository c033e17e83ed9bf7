"""Model selection rules for a finished cell, and a fair comparison of them: split the validation split in two
halves, select on one, score on the other (and the other way round).

A cell run with `save_validation_predictions` keeps the class probabilities of every validation example after
every epoch (`epoch1`, `epoch2`, ...) and of its final model (`final`, the checkpoint average when the cell ran
with `average_checkpoints`); its trainer_state.json keeps each epoch's validation metrics and, with
`track_test_each_epoch`, each epoch's test metrics, which only report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RULES = ("accuracy", "loss", "last", "average")
RULE_NAMES = {"accuracy": "best validation accuracy", "loss": "lowest validation loss", "last": "last epoch",
              "average": "checkpoint average"}


def load_predictions(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    if not path.is_file():
        return None
    with np.load(path) as saved:
        arrays = {key: saved[key] for key in saved.files}
    return arrays, arrays.pop("labels")


def _epochs(predictions: dict[str, np.ndarray]) -> list[str]:
    return sorted((k for k in predictions if k.startswith("epoch")), key=lambda k: int(k[5:]))


def choose(rule: str, predictions: dict[str, np.ndarray], labels: np.ndarray, rows: np.ndarray,
           averaged: bool) -> str | None:
    """The candidate `rule` keeps, judged on `rows` of the validation split: an `epochN` key, or `final` for the
    checkpoint average (None when the cell has none)."""
    if rule == "average":
        return "final" if averaged else None
    epochs = _epochs(predictions)
    accuracy = [float((predictions[e][rows].argmax(1) == labels[rows]).mean()) for e in epochs]
    loss = [float(-np.log(np.clip(predictions[e][rows, labels[rows]], 1e-12, None)).mean()) for e in epochs]
    return epochs[pick_epoch(rule, accuracy, loss)]


def pick_epoch(rule: str, accuracy: list[float], loss: list[float]) -> int | None:
    """The index of the epoch `rule` keeps, from each epoch's validation accuracy and loss; ties go to the earlier
    epoch, as the Trainer's do. None for the checkpoint average (no single epoch) and where the curves lack what the
    rule needs."""
    if not accuracy or rule == "average":
        return None
    if rule == "accuracy":
        return int(np.argmax(accuracy))
    if rule == "loss":
        return int(np.argmin(loss)) if len(loss) == len(accuracy) else None
    return len(accuracy) - 1


def halves(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(size)
    return np.sort(order[: size // 2]), np.sort(order[size // 2:])


def _held_out(labels: np.ndarray, pick) -> float | None:
    """Accuracy on one half of the validation split of the probabilities `pick` gives when it selects on the
    other half's rows, averaged over both directions; None where `pick` finds nothing."""
    scores = []
    for select, score in (halves(len(labels)), halves(len(labels))[::-1]):
        probabilities = pick(select)
        if probabilities is None:
            return None
        scores.append(float((probabilities[score].argmax(1) == labels[score]).mean()))
    return 100 * float(np.mean(scores))


def held_out_half_accuracy(predictions: dict[str, np.ndarray], labels: np.ndarray, rule: str,
                           averaged: bool) -> float | None:
    """Held-out-half accuracy of the candidate `rule` picks; None where the rule does not apply."""
    def pick(rows):
        kept = choose(rule, predictions, labels, rows, averaged)
        return None if kept is None else predictions[kept]
    return _held_out(labels, pick)


def held_out_half_ensemble_accuracy(members: list[dict[str, np.ndarray]], labels: np.ndarray, rule: str) -> float:
    """Held-out-half accuracy of the members' averaged probabilities, each member at the epoch `rule` keeps on the
    selecting half."""
    return _held_out(labels, lambda rows: np.mean([m[choose(rule, m, labels, rows, False)] for m in members], 0))


def _per_epoch(history: list[dict], key: str) -> list[float]:
    """One value per epoch of a trainer_state log (a run evaluates once an epoch)."""
    return [entry[key] for entry in history if key in entry]


def validation_curve(history: list[dict], metric: str) -> list[float]:
    """The validation split's `metric` per epoch (a run that does not track the test logs it without the split's
    name)."""
    prefix = "eval_validation_" if any("eval_validation_accuracy" in e for e in history) else "eval_"
    return _per_epoch(history, prefix + metric)


def kept_epoch(history: list[dict], rule: str) -> int | None:
    """The index of the epoch `rule` keeps, chosen on the whole validation split's logged curves."""
    return pick_epoch(rule, validation_curve(history, "accuracy"), validation_curve(history, "loss"))


def final_model_rule(config: dict) -> str | None:
    """The rule that chose the model of a run's final metrics (all_results.json), from its config: the checkpoint
    average, the best epoch it reloaded, or its last epoch; None for a best epoch by a metric no rule here uses."""
    if config.get("average_checkpoints"):
        return "average"
    if not config.get("load_best_model_at_end", True):
        return "last"
    # run.py's default metric is accuracy; set to null, the Trainer falls back on the loss.
    metric = (config.get("metric_for_best_model", "accuracy") or "loss").removeprefix("eval_")
    return metric if metric in ("accuracy", "loss") else None


def reported_test(history: list[dict], final: dict, rule: str, run_rule: str | None) -> tuple[float, float] | None:
    """(test accuracy, test macro-F1) in percent of the model `rule` keeps, chosen on the whole validation split;
    from the per-epoch test tracking, or from the final test when the run itself kept that model (`run_rule`,
    final_model_rule of its config). None when the cell lacks it."""
    if rule == "average":
        return _final_test(final) if run_rule == "average" else None
    accuracy, loss = validation_curve(history, "accuracy"), validation_curve(history, "loss")
    if not accuracy:  # never validated: of the epoch rules only the last epoch chooses without a validation split
        return _final_test(final) if rule == run_rule == "last" else None
    epoch = pick_epoch(rule, accuracy, loss)
    if epoch is None:
        return None
    tested = list(zip(_per_epoch(history, "eval_test_accuracy"), _per_epoch(history, "eval_test_f1")))
    if len(tested) == len(accuracy):
        return 100 * tested[epoch][0], 100 * tested[epoch][1]
    kept_by_run = pick_epoch(run_rule, accuracy, loss) if run_rule else None
    return _final_test(final) if epoch == kept_by_run else None


def _final_test(final: dict) -> tuple[float, float]:
    return 100 * final["test_accuracy"], 100 * final["test_f1"]
