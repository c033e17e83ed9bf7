"""Tables and plots from the finished cells in results/cells: results/effect.csv, the paper-style table in
results/README.md (between its TABLE markers), training-dynamics plots and the checkers' reaction to noise.

    python experiments/summarize.py
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python experiments/summarize.py`
from data.files import read_label_names, read_records, resolve_data_path  # noqa: E402
from experiments.grid import TIME_FILE, log_history  # noqa: E402
from experiments.selection import (RULE_NAMES, RULES, choose, final_model_rule,  # noqa: E402
                                  held_out_half_accuracy, held_out_half_ensemble_accuracy, kept_epoch,
                                  load_predictions, reported_test, validation_curve)
from experiments.spec import ROOT, load_spec, selection_rule  # noqa: E402
from experiments.study_files import writes_real_set, writes_validation_file  # noqa: E402

RESULTS = ROOT / "results"
CELLS = RESULTS / "cells"
NOISE_KINDS = ("original", "duplicate", "swap", "unrelated")
# The validation studies of the ways of using the real set, tabled together.
REAL_SET_STUDIES = ("real_set", "real_set_checkers", "real_set_losses", "real_set_ce_weight")
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
    # Two studies may name a variant alike ("plain"); their methods tell them apart.
    study_of = {(method, variant): name for name, study in studies.items() for method in study["methods"]
                for variant in study["variants"]}
    rows = []
    for results in sorted(CELLS.glob("*/*/seed*/all_results.json")):
        seed_dir = results.parent
        method, _, variant = seed_dir.parent.name.partition("__")
        metrics = json.loads(results.read_text())
        config_file = seed_dir / "cell_config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        history, run_rule = log_history(seed_dir), final_model_rule(config)
        rows.append({"benchmark": seed_dir.parent.parent.name, "method": method, "variant": variant,
                     "study": study_of.get((method, variant), ""), "seed": int(seed_dir.name[4:]),
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


def write_effect_csv(rows: list[dict]) -> None:
    with (RESULTS / "effect.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["benchmark", "method", "seed", "test_accuracy", "test_f1"])
        for row in grid_results(rows):
            accuracy, f1 = row["test"]
            writer.writerow([row["benchmark"], row["method"], row["seed"], f"{accuracy:.2f}", f"{f1:.2f}"])


def _mean_std(values: list[float], signed: bool = False, digits: int = 1) -> str:
    if not values:
        return "–"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):{'+' if signed else ''}.{digits}f} ± {std:.{digits}f} (n={len(values)})"


def _mean_se(values: list[float]) -> str:
    """Mean and standard error of the mean, signed: a paired difference."""
    spread = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return f"{statistics.mean(values):+.2f} ± {spread:.2f}"


def accuracy_on_test(row: dict) -> float | None:
    return row["test"][0] if row["test"] else None


def _validation_curve(row: dict, metric: str) -> list[float]:
    return [100 * value for value in validation_curve(row["history"], metric)]


def kept_validation_accuracy(row: dict) -> float | None:
    """The validation accuracy of the epoch the grid's selection rule keeps: what model selection saw."""
    epoch = kept_epoch(row["history"], selection_rule())
    return None if epoch is None else _validation_curve(row, "accuracy")[epoch]


def effect_table(rows: list[dict]) -> str:
    by = defaultdict(list)
    for row in grid_results(rows):
        by[(row["benchmark"], row["method"])].append(row["test"])
    benchmarks = sorted({b for b, _ in by})
    lines = ["| benchmark | method | test accuracy | test macro-F1 |", "| --- | --- | --- | --- |"]
    for bench in benchmarks:
        for method in METHOD_ORDER:
            runs = by.get((bench, method), [])
            if runs:
                lines.append(f"| {bench} | {METHOD_NAMES[method]} | {_mean_std([a for a, _ in runs])} "
                             f"| {_mean_std([f for _, f in runs])} |")
    return "\n".join(lines)


def study_table(rows: list[dict]) -> str:
    """The quality checker's data-size study: DIMP with checkers trained on part of the real set, beside the grid's
    DIMP (the whole set) and CE (no checker) cells of the same benchmark and seeds."""
    study = load_spec()["studies"]["checker_size"]
    cells = [r for r in rows if r["benchmark"] in study["benchmarks"] and r["seed"] in study["seeds"]
             and (r["study"] == "checker_size" or (not r["variant"] and r["method"] in ("ce", "dimp")))]
    lines = ["| benchmark | seed | method | real examples for the quality checker | checker val. accuracy | "
             "val. accuracy (kept epoch) | test accuracy |", "| --- | --- | --- | --- | --- | --- | --- |"]
    with_recipe = [(row, json.loads((row["dir"] / "quality_checker_recipe.json").read_text())
                    if (row["dir"] / "quality_checker_recipe.json").is_file() else None) for row in cells]
    for row, recipe in sorted(with_recipe, key=lambda c: (c[0]["benchmark"], c[0]["seed"],
                                                          c[1]["train_examples"] if c[1] else 0)):
        size = recipe["train_examples"] if recipe else "none"
        checker = f"{100 * recipe['validation_metrics']['eval_accuracy']:.1f}" if recipe else "–"
        lines.append(f"| {row['benchmark']} | {row['seed']} | {METHOD_NAMES[row['method']]} | {size} | {checker} | "
                     f"{kept_validation_accuracy(row):.1f} | {accuracy_on_test(row):.1f} |")
    return "\n".join(lines)


def validation_table(rows: list[dict], study: str, grid_beside: bool = False) -> str:
    """A study of training settings, validation split only: accuracy and macro-F1 per epoch and the epoch kept, for
    each setting the study's variants change (with the grid's own cells of the same benchmarks, methods and seeds
    beside them when `grid_beside`)."""
    spec = load_spec()["studies"][study]
    keys, rule = sorted({key for overrides in spec["variants"].values() for key in overrides}), selection_rule()
    cells = [r for r in rows if r["study"] == study or (grid_beside and not r["variant"] and r["benchmark"] in
             spec["benchmarks"] and r["method"] in spec["methods"] and r["seed"] in spec["seeds"])]
    # The resolved config names a setting a variant leaves at its default ("none", not a missing key).
    settings = [(row, tuple(json.loads((row["dir"] / "resolved_config.json").read_text()).get(k) for k in keys))
                for row in cells]
    lines = [f"| benchmark | method | seed | {', '.join(keys)} | validation accuracy per epoch | "
             "validation macro-F1 per epoch | kept |", "| --- | --- | --- | --- | --- | --- | --- |"]
    # A null setting (real_set_weight: null) sorts first: None does not compare with numbers.
    for row, setting in sorted(settings, key=lambda c: (c[0]["benchmark"], METHOD_ORDER.index(c[0]["method"]),
                                                         c[0]["seed"], [(v is not None, v) for v in c[1]])):
        accuracy, f1 = _validation_curve(row, "accuracy"), _validation_curve(row, "f1")
        kept = kept_epoch(row["history"], rule)
        grid_note = " (grid)" if not row["variant"] else ""
        values = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in setting)
        lines.append(f"| {row['benchmark']} | {METHOD_NAMES[row['method']]} | {row['seed']} | "
                     f"{values}{grid_note} | {' '.join(f'{v:.1f}' for v in accuracy)} | "
                     f"{' '.join(f'{v:.1f}' for v in f1)} | {accuracy[kept]:.1f} (epoch {kept + 1}) |")
    return "\n".join(lines)


def checker_recipe_table() -> str:
    """The quality-checker recipes tried (score-only cells): accuracy per epoch on the real validation split, the
    kept epoch, the majority-class baseline, and the checker's mean P'(gold) per class on the training data."""
    lines = ["| benchmark | recipe | seed | validation accuracy per epoch | kept | majority class | "
             "mean P′(gold) per training class |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for recipe_file in sorted(CELLS.glob("*/checker__*/seed*/quality_checker_recipe.json")):
        seed_dir = recipe_file.parent
        recipe = json.loads(recipe_file.read_text())
        curve = " ".join(f"{100 * e['accuracy']:.1f}" for e in recipe.get("validation_history", []))
        kept = recipe["validation_metrics"]
        by_class = defaultdict(list)
        if (seed_dir / "weights.csv").is_file():
            with (seed_dir / "weights.csv").open() as f:
                for record in csv.DictReader(f):
                    by_class[record["label_name"]].append(float(record["quality_prob"]))
        classes = ", ".join(f"{name} {statistics.mean(v):.2f}" for name, v in sorted(by_class.items()))
        lines.append(f"| {seed_dir.parent.parent.name} | {seed_dir.parent.name.partition('__')[2]} | "
                     f"{seed_dir.name[4:]} | {curve} | {100 * kept['eval_accuracy']:.1f} (epoch "
                     f"{round(kept['epoch'])}) | {100 * recipe['validation_majority_accuracy']:.1f} | {classes} |")
    return "\n".join(lines)


def plot_dynamics(rows: list[dict]) -> list[str]:
    """Test accuracy per epoch, min / mean / max over seeds, per method (the poster's Figure 1)."""
    written = []
    for bench in sorted({r["benchmark"] for r in rows}):
        fig, ax = plt.subplots(figsize=(6, 4))
        for method in METHOD_ORDER:
            curves = [[h["eval_test_accuracy"] * 100 for h in r["history"] if "eval_test_accuracy" in h]
                      for r in rows if r["benchmark"] == bench and r["method"] == method and not r["variant"]]
            curves = [c for c in curves if c]
            if not curves:
                continue
            epochs = range(1, min(len(c) for c in curves) + 1)
            per_epoch = [[c[e - 1] for c in curves] for e in epochs]
            mean = [statistics.mean(v) for v in per_epoch]
            line, = ax.plot(list(epochs), mean, marker="o", label=f"{METHOD_NAMES[method]} (n={len(curves)})")
            ax.fill_between(list(epochs), [min(v) for v in per_epoch], [max(v) for v in per_epoch],
                            color=line.get_color(), alpha=0.15)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set(title=f"{bench}: test accuracy per epoch (mean, min–max over seeds)", xlabel="epoch",
               ylabel="test accuracy (%)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = f"dynamics_{bench}.png"
        fig.savefig(RESULTS / name, dpi=120)
        plt.close(fig)
        written.append(name)
    return written


def gain_table(rows: list[dict], score=accuracy_on_test) -> str:
    """Each method's `score` minus CE's, seed by seed (the same data and checker), mean ± std over the seeds that
    have both: the issue's bar is IMP and DIMP at +2 test accuracy points or more on every benchmark."""
    scores = {(r["benchmark"], r["method"], r["seed"]): score(r) for r in rows if not r["variant"]}
    scores = {key: value for key, value in scores.items() if value is not None}
    others = [m for m in METHOD_ORDER if m != "ce"]
    lines = ["| benchmark | " + " | ".join(METHOD_NAMES[m] for m in others) + " |",
             "| --- |" + " ---: |" * len(others)]
    for bench in sorted({b for b, _, _ in scores}):
        cells = []
        for method in others:
            gains = [scores[(b, m, seed)] - scores[(b, "ce", seed)]
                     for b, m, seed in scores if b == bench and m == method and (b, "ce", seed) in scores]
            cells.append(_mean_std(gains, signed=True))
        lines.append(f"| {bench} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def noise_records(rows: list[dict], method: str) -> dict:
    """{benchmark: {noise kind: [weights.csv records]}} of the finished `method` cells, pooled over seeds."""
    by = defaultdict(lambda: defaultdict(list))
    for row in rows:
        weights = row["dir"] / "weights.csv"
        if row["variant"] or row["method"] != method or not weights.is_file():
            continue
        with weights.open() as f:
            for record in csv.DictReader(f):
                if record.get("noise"):
                    by[row["benchmark"]][record["noise"]].append(record)
    return by


def _mean_of(records: list[dict], column: str) -> float:
    return statistics.mean(float(r[column]) for r in records)


def weights_per_noise_kind(by_method: dict) -> dict:
    """{(benchmark, method): {noise kind: [weights]}} for IMP (its static P'/Q) and DIMP (its last epoch's weight),
    from {method: noise_records(rows, method)}."""
    by = defaultdict(dict)
    for method in ("imp", "dimp"):
        for bench, kinds in by_method[method].items():
            for kind, records in kinds.items():
                column = "static_weight" if method == "imp" else _last_epoch(records[0], "weight")
                by[(bench, method)][kind] = [float(r[column]) for r in records]
    return by


def noise_table(by_method: dict) -> str:
    """What the checkers and the trained model say about each noise kind, pooled over seeds: P'(gold) and how often
    the quality checker's prediction agrees with the (possibly swapped) label, Q(gold) and IMP's static weight (IMP
    cells), the model's P(gold) and DIMP's weight in the last epoch (DIMP cells); `by_method` as in
    weights_per_noise_kind."""
    imp, dimp = by_method["imp"], by_method["dimp"]
    lines = ["| benchmark | kind | examples | P′(gold) | checker agrees with label | Q(gold) | IMP weight | "
             "model P(gold), last epoch | DIMP weight, last epoch |", "| --- | --- |" + " ---: |" * 7]
    for bench in sorted(set(imp) | set(dimp)):
        for kind in NOISE_KINDS:
            i, d = imp.get(bench, {}).get(kind, []), dimp.get(bench, {}).get(kind, [])
            quality = d or i
            if not quality:
                continue
            agrees = statistics.mean(r["quality_label"] == r["label_name"] for r in quality)
            cells = [f"{_mean_of(quality, 'quality_prob'):.3f}", f"{100 * agrees:.0f} %"]
            cells += [f"{_mean_of(i, c):.3f}" if i else "–" for c in ("diversity_prob", "static_weight")]
            cells += [f"{_mean_of(d, _last_epoch(d[0], c)):.3f}" if d else "–" for c in ("model_prob", "weight")]
            lines.append(f"| {bench} | {kind} | {len(quality)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def separation_table(by_method: dict) -> str:
    """How well each weight tells a clean example from one whose label was swapped: the AUC (the chance that a clean
    example outweighs a swapped one, 0.5 = no better than chance) of P′ and of DIMP's weight in its first and last
    epoch, records pooled over seeds; for the methods that join the real set, the real examples' share of the last
    epoch's total weight. `by_method` as in weights_per_noise_kind."""
    lines = ["| benchmark | method | examples (clean, swapped) | AUC of P′ | AUC of weight, first epoch | "
             "AUC of weight, last epoch | real set's share of the weight |", "| --- | --- |" + " ---: |" * 5]
    for method in ("dimp", "dimp_plus_real"):
        for bench, kinds in sorted(by_method.get(method, {}).items()):
            clean, swapped = kinds.get("original", []), kinds.get("swap", [])
            if not clean or not swapped:
                continue
            last = _last_epoch(clean[0], "weight")
            labels = [1] * len(clean) + [0] * len(swapped)
            aucs = [roc_auc_score(labels, [float(r[column]) for r in clean + swapped])
                    for column in ("quality_prob", "weight_epoch1", last)]
            every = [r for rs in kinds.values() for r in rs]
            real = sum(float(r[last]) for r in kinds.get("real", [])) / sum(float(r[last]) for r in every)
            lines.append(f"| {bench} | {METHOD_NAMES[method]} | {len(clean)}, {len(swapped)} | "
                         + " | ".join(f"{a:.2f}" for a in aucs) + (f" | {100 * real:.0f} % |" if real else " | – |"))
    return "\n".join(lines)


def plot_noise_reaction(by_method: dict) -> list[str]:
    """Average IMP and DIMP weight per noise kind (the poster's "checkers' reaction on noisy data")."""
    by = weights_per_noise_kind(by_method)
    if not by:
        return []
    fig, ax = plt.subplots(figsize=(7, 4))
    kinds = NOISE_KINDS
    keys = sorted(by)
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        means = [statistics.mean(by[key][k]) if by[key].get(k) else 0 for k in kinds]
        ax.bar([x + i * width for x in range(len(kinds))], means, width, label=f"{key[0]} {METHOD_NAMES[key[1]]}")
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(kinds))], kinds)
    ax.set(title="Checkers' reaction on noisy data: average weight per kind", ylabel="average weight")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "noise_reaction.png", dpi=120)
    plt.close(fig)
    return ["noise_reaction.png"]


def _last_epoch(record: dict, prefix: str) -> str:
    """The column of the last epoch's `prefix` ("weight" or "model_prob") in a weights.csv record."""
    epochs = sorted((k for k in record if k.startswith(f"{prefix}_epoch")), key=lambda k: int(k.rpartition("epoch")[2]))
    return epochs[-1]


def selection_table(rows: list[dict]) -> str:
    """Each selection rule's accuracy on one half of the validation split when it selects on the other (both ways),
    mean over the cells that keep every evaluation's validation probabilities; paired by cell against the best
    validation accuracy rule."""
    scores = defaultdict(dict)  # (benchmark, cell dir) -> rule -> held-out-half accuracy
    for row in rows:
        for rule in RULES:
            value = held_out_score(row, rule)
            if value is not None:
                scores[(row["benchmark"], row["dir"])][rule] = value
    complete = {key: by_rule for key, by_rule in scores.items() if len(by_rule) == len(RULES)}
    if not complete:
        return "No finished cell keeps its validation predictions yet."
    lines = ["| benchmark | cells | " + " | ".join(RULE_NAMES[r] for r in RULES) + " |",
             "| --- | ---: |" + " ---: |" * len(RULES)]
    for bench in sorted({b for b, _ in complete}) + ["all"]:
        cells = [v for (b, _), v in complete.items() if bench in (b, "all")]
        parts = [f"{statistics.mean(c['accuracy'] for c in cells):.2f}"]
        for rule in RULES[1:]:
            gains = [c[rule] - c["accuracy"] for c in cells]
            parts.append(f"{statistics.mean(c[rule] for c in cells):.2f} ({_mean_se(gains)}; "
                         f"better in {sum(g > 0 for g in gains)}, worse in {sum(g < 0 for g in gains)})")
        lines.append(f"| {bench} | {len(cells)} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def _by_method(rows: list[dict], methods) -> dict:
    """{(benchmark, method): {seed: test accuracy}} of the grid's own cells under the selection rule."""
    by = defaultdict(dict)
    for row in grid_results(rows):
        if row["method"] in methods:
            by[(row["benchmark"], row["method"])][row["seed"]] = accuracy_on_test(row)
    return by


def real_data_table(rows: list[dict], recommended: str | None) -> str:
    """The poster's table "against the real data alone": test accuracy, mean over seeds (n), per benchmark."""
    methods = ["real_only", "ce", "real_plus_synthetic", "imp", "dimp"] + ([recommended] if recommended else [])
    by = _by_method(rows, methods)
    benchmarks = sorted({b for b, _ in by})
    lines = ["| method | " + " | ".join(benchmarks) + " |", "| --- |" + " ---: |" * len(benchmarks)]
    for method in methods:
        cells = [f"{statistics.mean(by[(b, method)].values()):.1f} (n={len(by[(b, method)])})" if by.get((b, method))
                 else "–" for b in benchmarks]
        name = METHOD_NAMES.get(method, method) + (" (recommended)" if method == recommended else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def validation_test_table(rows: list[dict]) -> str:
    """The kept epoch's validation accuracy beside its test accuracy, mean over seeds, per method and benchmark:
    where the two splits disagree about what a method's training data is worth (reporting only)."""
    pairs = defaultdict(list)
    for row in grid_results(rows):
        validation = kept_validation_accuracy(row)
        if validation is not None:
            pairs[(row["benchmark"], row["method"])].append((validation, accuracy_on_test(row)))
    benchmarks = sorted({b for b, _ in pairs})
    lines = ["| method | " + " | ".join(benchmarks) + " |", "| --- |" + " ---: |" * len(benchmarks)]
    for method in (m for m in METHOD_ORDER if any((b, m) in pairs for b in benchmarks)):
        cells = [" → ".join(f"{statistics.mean(v):.1f}" for v in zip(*pairs[(b, method)])) if (b, method) in pairs
                 else "–" for b in benchmarks]
        lines.append(f"| {METHOD_NAMES[method]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _interval(values: list[float]) -> str:
    """The 95 % t interval of the mean (how far more seeds could move it), where there are two values or more."""
    if len(values) < 2:
        return ""
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    mean = statistics.mean(values)
    return f"; 95 % CI {mean - half:+.2f} to {mean + half:+.2f}"


def bar_table(rows: list[dict], recommended: str) -> str:
    """The recommended method's test accuracy minus each baseline's, paired by seed (mean ± std, the 95 % interval
    of the mean, n), against the bar: +2 over CE, +1 over the real set alone and over real + generated."""
    bars = {"ce": 2.0, "real_only": 1.0, "real_plus_synthetic": 1.0}
    by = _by_method(rows, [recommended, *bars])
    lines = ["| benchmark | " + " | ".join(f"− {METHOD_NAMES[m]} (bar +{bar:g})" for m, bar in bars.items()) + " |",
             "| --- |" + " ---: |" * len(bars)]
    for bench in sorted({b for b, m in by if m == recommended}):
        cells = []
        for method, bar in bars.items():
            mine, theirs = by[(bench, recommended)], by.get((bench, method), {})
            gains = [mine[s] - theirs[s] for s in sorted(mine) if s in theirs]
            met = "met" if gains and statistics.mean(gains) >= bar else "not met"
            # Two decimals, so that a mean just under the bar does not print as the bar itself.
            cells.append(f"{_mean_std(gains, signed=True, digits=2)} {met}{_interval(gains)}" if gains else "–")
        lines.append(f"| {bench} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def real_set_study_table(rows: list[dict]) -> str:
    """The real-set studies (validation only): each way of using the real set's accuracy on one half of the
    validation split, selected on the other by the grid's rule, mean over seeds; beside it the grid's baselines and
    dimp_plus_real, which is the study's `join` run as a grid method (where both ran, their cells are the same).
    A variant is only compared with baselines of its own seeds: one table per set of seeds the studies ran, each
    holding the studies that ran at least those seeds, and on each benchmark only the seeds all its variants
    finished."""
    studies = load_spec()["studies"]
    seed_sets = sorted({tuple(sorted(studies[name]["seeds"])) for name in REAL_SET_STUDIES}, key=lambda s: (len(s), s))
    rule = selection_rule()
    scored = []
    for row in rows:
        in_study = row["study"] in REAL_SET_STUDIES
        baseline = not row["variant"] and row["method"] in ("real_only", "real_plus_synthetic", "dimp_plus_real")
        if (in_study or baseline) and any(row["seed"] in seeds for seeds in seed_sets):
            value = held_out_score(row, rule)
            if value is not None:
                ran = set(studies[row["study"]]["seeds"]) if in_study else None  # None: a baseline, every seed
                scored.append((row, f"{METHOD_NAMES[row['method']]} {row['variant']}".strip(), ran, value))
    tables = []
    for seeds in seed_sets:
        by_seed = defaultdict(dict)
        for row, name, ran, value in scored:
            if row["seed"] in seeds and (ran is None or ran >= set(seeds)):
                by_seed[(row["benchmark"], name, ran is None)][row["seed"]] = value
        common = defaultdict(lambda: set(seeds))
        for (benchmark, _, baseline), values in by_seed.items():
            if not baseline:
                common[benchmark] &= set(values)
        entries = {(benchmark, name): [v for seed, v in values.items() if seed in common[benchmark]]
                   for (benchmark, name, _), values in by_seed.items()}
        if entries:
            names = sorted({n for _, n in entries}, key=lambda n: (not n.startswith("CE"), n))
            so_far = ""  # while a study's seeds still run, which of them each benchmark's means hold
            if any(c != set(seeds) for c in common.values()):
                on = defaultdict(list)
                for benchmark, finished in sorted(common.items()):
                    on[", ".join(map(str, sorted(finished))) or "none"].append(benchmark)
                so_far = "; so far " + ("; ".join(on) if len(on) == 1 else
                                        "; ".join(f"{ran} on {', '.join(b)}" for ran, b in on.items()))
            label = f"Seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))} (those every variant finished{so_far}):"
            tables.append(label + "\n\n" + _benchmark_means_table("variant", names, entries))
    return "\n\n".join(tables) or "No finished cell of the study yet."


def _class_counts(path: str, field: str) -> np.ndarray:
    return np.bincount([int(record["label"]) for record in read_records(resolve_data_path(path, field))])


def _training_weight_shares(weights: Path, num_labels: int) -> np.ndarray | None:
    """Each class's share of the training data's total weight at the last epoch, from a cell's weights.csv."""
    if not weights.is_file():
        return None
    with weights.open() as f:
        records = list(csv.DictReader(f))
    column = _last_epoch(records[0], "weight")
    totals = np.bincount([int(r["label"]) for r in records], [float(r[column]) for r in records], num_labels)
    return totals / totals.sum()


def _label_names(benchmark: dict, count: int) -> list[str]:
    """The benchmark's label names as its test file names them, else the label ids."""
    if "test_file" in benchmark:
        names = read_label_names(resolve_data_path(benchmark["test_file"], "test_file"))
        if names:
            return names
    return [str(label) for label in range(count)]


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


def class_balance_table(rows: list[dict], recommended: str) -> str:
    """Validation only, set against the test split's class shares (its label counts, never its predictions): each
    method's recall per class on the whole validation split at the epoch the grid's rule keeps, its validation
    accuracy, and that accuracy at the test split's class shares; for a weighted method, each class's share of the
    training weight at the last epoch. Benchmarks with their own validation and test files; mean over the seeds
    where all the methods saved their validation predictions."""
    methods = ("real_only", "real_plus_synthetic", recommended)
    benchmarks, rule = load_spec()["benchmarks"], selection_rule()
    by = defaultdict(dict)  # (benchmark, method) -> seed -> (recall per class, training weight shares or None)
    for row in rows:
        spec = benchmarks.get(row["benchmark"], {})
        if row["variant"] or row["method"] not in methods or "test_file" not in spec:
            continue
        recall = kept_recall(row, rule)
        if recall is None:
            continue
        labels = row["predictions"][1]
        if not np.array_equal(np.bincount(labels), _class_counts(spec["validation_file"], "validation_file")):
            raise ValueError(f"{row['dir']}: validation labels do not count as {spec['validation_file']}'s do")
        by[(row["benchmark"], row["method"])][row["seed"]] = recall, _training_weight_shares(
            row["dir"] / "weights.csv", len(recall))
    lines = ["| benchmark (class shares: validation → test) | method | seeds | validation recall per class "
             "| validation accuracy | at the test split's class shares | training weight per class, last epoch |",
             "| --- | --- | ---: | --- | ---: | ---: | --- |"]
    for bench in sorted({b for b, _ in by}):
        seeds = sorted(set.intersection(*(set(by.get((bench, m), {})) for m in methods)))
        if not seeds:
            continue
        spec = benchmarks[bench]
        shares = [counts / counts.sum() for counts in (_class_counts(spec["validation_file"], "validation_file"),
                                                      _class_counts(spec["test_file"], "test_file"))]
        names = _label_names(spec, len(shares[0]))
        title = f"{bench} ({', '.join(f'{n} {100 * v:.0f} → {100 * t:.0f} %' for n, v, t in zip(names, *shares))})"
        for method in methods:
            recall = np.mean([by[(bench, method)][s][0] for s in seeds], 0)
            weights = [by[(bench, method)][s][1] for s in seeds]
            weight = ", ".join(f"{n} {100 * w:.0f} %" for n, w in zip(names, np.mean(weights, 0))) \
                if all(w is not None for w in weights) else "–"
            lines.append(f"| {title} | {METHOD_NAMES.get(method, method)} | {len(seeds)} "
                         f"| {', '.join(f'{n} {100 * r:.1f}' for n, r in zip(names, recall))} "
                         f"| {100 * recall @ shares[0]:.1f} | {100 * recall @ shares[1]:.1f} | {weight} |")
    return "\n".join(lines) if len(lines) > 2 else "No benchmark has validation predictions of all the methods yet."


def second_validation_table(rows: list[dict], studies: list[str] | None = None) -> str:
    """Each study's methods on the benchmark's validation split (the grid's cells) and on the study's own validation
    file (real examples no seed's real set drew), the accuracy of the epoch each run kept, beside the grid cells'
    test accuracy (reporting only), and the recall per class on the two validation samples; mean over the seeds with
    all three accuracies. By default the studies that validate on such a file."""
    spec, rule = load_spec(), selection_rule()
    by = defaultdict(dict)  # (benchmark, method) -> seed -> split -> accuracy
    recalls = defaultdict(dict)  # (benchmark, method) -> seed -> split -> recall per class
    studies = studies if studies is not None else [n for n, s in spec["studies"].items() if writes_validation_file(s)]
    for name in studies:
        study = spec["studies"][name]
        for row in rows:
            grid_cell = not row["variant"] and row["benchmark"] in study["benchmarks"] and row["seed"] in study["seeds"]
            if row["method"] in study["methods"] and (grid_cell or row["study"] == name):
                key, split = (row["benchmark"], row["method"]), "own" if row["study"] == name else "validation"
                scores = by[key].setdefault(row["seed"], {})
                scores[split] = kept_validation_accuracy(row)
                recalls[key].setdefault(row["seed"], {})[split] = kept_recall(row, rule)
                if grid_cell:
                    scores["test"] = accuracy_on_test(row)
    lines = ["| benchmark | method | seeds | its validation split | the study's real examples | test (reporting only) "
             "| recall per class: its validation split → the study's real examples |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for bench, method in sorted(by, key=lambda key: (key[0], METHOD_ORDER.index(key[1]))):
        seeds = [seed for seed, scores in by[(bench, method)].items()
                 if len(scores) == 3 and None not in scores.values()]
        if seeds:
            means = [statistics.mean(by[(bench, method)][seed][split] for seed in seeds)
                     for split in ("validation", "own", "test")]
            pairs = [recalls[(bench, method)][seed] for seed in seeds]
            shift = "–"
            if all(pair.get(split) is not None for pair in pairs for split in ("validation", "own")):
                before, after = (np.mean([pair[split] for pair in pairs], 0) for split in ("validation", "own"))
                names = _label_names(spec.get("benchmarks", {}).get(bench, {}), len(before))
                shift = ", ".join(f"{n} {100 * b:.1f} → {100 * a:.1f}" for n, b, a in zip(names, before, after))
            lines.append(f"| {bench} | {METHOD_NAMES[method]} | {len(seeds)} | "
                         + " | ".join(f"{mean:.1f}" for mean in means) + f" | {shift} |")
    return "\n".join(lines) if len(lines) > 2 else "No finished cell of the study yet."


def _benchmark_means_table(first_column: str, names: list[str], entries: dict) -> str:
    """One row per name, one column per benchmark: the mean of entries[(benchmark, name)], and their mean over the
    benchmarks where every benchmark has one."""
    benchmarks = sorted({b for b, _ in entries})
    lines = [f"| {first_column} | " + " | ".join(benchmarks) + " | mean |",
             "| --- |" + " ---: |" * (len(benchmarks) + 1)]
    for name in names:
        values = [statistics.mean(entries[(b, name)]) if entries.get((b, name)) else None for b in benchmarks]
        known = [v for v in values if v is not None]
        mean = f"{statistics.mean(known):.1f}" if len(known) == len(values) else "–"
        shown = " | ".join(f"{v:.1f}" if v is not None else "–" for v in values)
        lines.append(f"| {name} | {shown} | {mean} |")
    return "\n".join(lines)


def checker_ensemble_table(rows: list[dict], recommended: str) -> str:
    """Validation only: CE on real + generated and the recommended method, alone and with their probabilities
    averaged with those of CE on the real set alone of the same seed (the quality checker's recipe); each model at
    the epoch the grid's rule keeps on one validation half, scored on the other; mean over the seeds where both ran."""
    partner, rule = "real_only", selection_rule()
    saved = {(r["benchmark"], r["method"], r["seed"]): r["predictions"]
             for r in rows if not r["variant"] and r["method"] in ("real_plus_synthetic", recommended, partner)
             and r["predictions"] is not None}
    with_partner = {m: f"{METHOD_NAMES[m]}, averaged with CE on the real set alone"
                    for m in ("real_plus_synthetic", recommended)}
    entries = defaultdict(list)
    for (bench, method, seed), other in sorted(saved.items()):
        if method != partner:
            continue
        theirs, _ = other
        for model, averaged in with_partner.items():
            if (bench, model, seed) in saved:
                mine, labels = saved[(bench, model, seed)]
                entries[(bench, METHOD_NAMES[model])].append(held_out_half_ensemble_accuracy([mine], labels, rule))
                entries[(bench, averaged)].append(held_out_half_ensemble_accuracy([mine, theirs], labels, rule))
    if not entries:
        return "No finished cells to average yet."
    return _benchmark_means_table("model", [n for m, a in with_partner.items() for n in (METHOD_NAMES[m], a)], entries)


def size_table(rows: list[dict], recommended: str, study_name: str, key: str, unit: str,
               baseline: str = "real_plus_synthetic") -> str:
    """Validation only: CE on real + generated, the recommended method and the study's other methods with as many
    `unit` examples as the grid (the protocol's `key`) and as each variant of `study_name` sets; each model's accuracy
    on one validation half, selected on the other, and the recommended method's margin paired by seed. A size is
    shown once every method has finished it for every benchmark and seed of the study, and named below the table
    until then; on each benchmark, the seeds where every method finished every size shown."""
    spec, rule = load_spec(), selection_rule()
    study = spec["studies"][study_name]
    sizes = {"": spec["protocol"][key], **{variant: overrides[key] for variant, overrides in study["variants"].items()}}
    methods = (baseline, recommended, *(m for m in study["methods"] if m not in (baseline, recommended)))
    scores = defaultdict(dict)  # (benchmark, seed) -> (size, method) -> accuracy
    for row in rows:
        if (row["benchmark"] in study["benchmarks"] and row["seed"] in study["seeds"] and row["method"] in methods
                and (row["study"] == study_name or not row["variant"])):
            value = held_out_score(row, rule)
            if value is not None:
                scores[(row["benchmark"], row["seed"])][(sizes[row["variant"]], row["method"])] = value
    expected = len(study["benchmarks"]) * len(study["seeds"]) * len(methods)
    finished = {size: sum((size, m) in by for by in scores.values() for m in methods) for size in sizes.values()}
    shown = [size for variant, size in sizes.items() if not variant or finished[size] == expected]
    running = "".join(f"\n\nNot finished yet: {size} {unit} ({finished[size]} of {expected} cells)."
                      for size in sizes.values() if size not in shown)
    margin = f"{METHOD_NAMES[recommended]} − {METHOD_NAMES[baseline]}"
    entries, seeds, paired = defaultdict(list), defaultdict(list), defaultdict(list)
    for (bench, seed), by in sorted(scores.items()):
        if all((size, method) in by for size in shown for method in methods):
            seeds[bench].append(seed)
            for size in shown:
                for method in methods:
                    entries[(bench, f"{METHOD_NAMES[method]}, {size} {unit}")].append(by[(size, method)])
                paired[size].append(by[(size, recommended)] - by[(size, baseline)])
                entries[(bench, f"{margin}, {size} {unit}")].append(paired[size][-1])
    if not entries:
        return f"No seed has finished every method with the grid's {unit} examples yet." + running
    names = [f"{name}, {size} {unit}" for size in shown for name in (*(METHOD_NAMES[m] for m in methods), margin)]
    pooled = "; ".join(f"{size} {unit} {_mean_se(margins)} ({len(margins)} pairs)" for size, margins in paired.items())
    return ("Seeds: " + "; ".join(f"{bench} {', '.join(map(str, s))}" for bench, s in sorted(seeds.items())) + ".\n\n"
            + _benchmark_means_table(f"method, {unit} examples", names, entries)
            + f"\n\nThe margin paired by benchmark and seed (mean ± standard error): {pooled}." + running)


def real_holdout_table(rows: list[dict]) -> str:
    """Validation only: the recommended method run as a user with a few hundred real examples and no validation file
    runs it, holding out a fraction of them to validate on (the flags-only default, 20 %) or none; each model at its
    last epoch, scored on the benchmark's validation split (the study's test_file). Mean over the seeds where every
    variant finished, and each variant's difference from the study's first, paired by seed."""
    studies = {name: study for name, study in load_spec()["studies"].items() if writes_real_set(study)}
    # (benchmark, study) -> seed -> variant -> (real examples trained on, held out, accuracy, accuracy on the held out)
    scores = defaultdict(dict)
    for row in rows:
        if row["study"] in studies:
            resolved = json.loads((row["dir"] / "resolved_config.json").read_text())
            split = resolved.get("validation_from_real_set")
            real = row["metrics"]["train_samples"] - resolved["max_train_samples"]
            held, own = (split["validation_examples"], 100 * row["metrics"]["eval_accuracy"]) if split else (0, None)
            scores[(row["benchmark"], row["study"])].setdefault(row["seed"], {})[row["variant"]] = (
                real, held, 100 * row["metrics"]["test_accuracy"], own)
    lines = ["| benchmark | real examples held out | seeds | real examples trained on | accuracy on the benchmark's "
             "validation split | − the first row (paired by seed) | accuracy on the held-out real examples |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for (bench, study), by_seed in sorted(scores.items()):
        variants = list(studies[study]["variants"])
        complete = [by for by in by_seed.values() if set(by) == set(variants)]
        for variant in variants if complete else []:
            real, held, accuracy, own = zip(*(by[variant] for by in complete))
            gain = [by[variant][2] - by[variants[0]][2] for by in complete]
            paired = _mean_std(gain, signed=True) if variant != variants[0] else "–"
            shown = f"{statistics.mean(own):.1f}" if None not in own else "–"
            fraction = studies[study]["variants"][variant]["real_validation_fraction"]
            held_out = f"{fraction:.0%} ({statistics.mean(held):.0f})" if fraction else "none"
            lines.append(f"| {bench} | {held_out} | {len(complete)} | "
                         f"{statistics.mean(real):.0f} | {statistics.mean(accuracy):.1f} | {paired} | {shown} |")
    return "\n".join(lines) if len(lines) > 2 else "No seed has finished every variant of the study yet."


def compute_table(rows: list[dict]) -> str:
    """CPU and wall time per benchmark, from the cells that recorded it (grid.py has since 2026-12-01)."""
    spent = defaultdict(list)
    for row in rows:
        path = row["dir"] / TIME_FILE
        if path.is_file():
            spent[row["benchmark"]].append(json.loads(path.read_text()))
    if not spent:
        return "No cell has recorded its time yet."
    lines = ["| benchmark | cells timed | CPU hours | wall hours | CPU minutes per cell |", "| --- |" + " ---: |" * 4]
    for benchmark, times in sorted(spent.items()) + [("all", [t for ts in spent.values() for t in ts])]:
        cpu, wall = sum(t["cpu_s"] for t in times), sum(t["wall_s"] for t in times)
        lines.append(f"| {benchmark} | {len(times)} | {cpu / 3600:.2f} | {wall / 3600:.2f} "
                     f"| {cpu / 60 / len(times):.1f} |")
    untimed = len(rows) - sum(map(len, spent.values()))
    return "\n".join(lines) + f"\n\n{untimed} earlier cells did not record their time."


def update_readme(sections: list[tuple[str, str]], plots: list[str]) -> None:
    """Replace what lies between results/README.md's TABLE markers: the first section's table under no heading,
    then each (heading, table), then the plots."""
    readme = RESULTS / "README.md"
    text = readme.read_text()
    (_, first), *rest = sections
    generated = ("<!-- TABLE -->\n" + first + "\n\n" + "".join(f"### {title}\n\n{table}\n\n" for title, table in rest)
                 + "".join(f"![{p}]({p})\n" for p in plots) + "<!-- /TABLE -->")
    start, end = text.index("<!-- TABLE -->"), text.index("<!-- /TABLE -->") + len("<!-- /TABLE -->")
    readme.write_text(text[:start] + generated + text[end:])


def recommended_method() -> str | None:
    path = RESULTS / "recommended.json"
    return json.loads(path.read_text())["method"] if path.is_file() else None


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    rows = finished_cells()
    write_effect_csv(rows)
    recommended = recommended_method()
    noise = {method: noise_records(rows, method) for method in ("imp", "dimp", "dimp_plus_real")}  # each read once
    plots = plot_dynamics(rows) + plot_noise_reaction(noise)
    sections = [
        ("", effect_table(rows)),
        ("Against the real data alone (test accuracy, mean over seeds)", real_data_table(rows, recommended)),
        *([("The recommended method against the bar (test accuracy points, paired by seed; the 95 % interval of "
             "the mean)",
            bar_table(rows, recommended))] if recommended else []),
        ("Gain over CE (test accuracy points, paired by seed)", gain_table(rows)),
        ("Gain over CE on the validation split (accuracy of the kept epoch, paired by seed)",
         gain_table(rows, kept_validation_accuracy)),
        ("Validation against test (the kept epoch's validation accuracy → its test accuracy, mean over seeds)",
         validation_test_table(rows)),
        ("Model selection rules: accuracy on one validation half when selecting on the other", selection_table(rows)),
        ("Ways to use the real set (validation only: accuracy on one validation half, selected on the other)",
         real_set_study_table(rows)),
        *([("Averaging with the real set alone (validation only: accuracy on one validation half, selected on the "
             "other, mean over seeds)", checker_ensemble_table(rows, recommended))] if recommended else []),
        *([("Class balance: validation recall per class, and the validation accuracy at the test split's class "
             "shares", class_balance_table(rows, recommended))] if recommended else []),
        ("A second validation split: the real training examples no seed drew (the kept epoch's accuracy, mean over "
         "seeds)", second_validation_table(rows)),
        *([("More generated data (validation only: accuracy on one validation half, selected on the other, mean over "
             "seeds)", size_table(rows, recommended, "generated_size", "max_train_samples", "generated")),
           ("Fewer real examples (validation only: accuracy on one validation half, selected on the other, mean over "
            "seeds)", size_table(rows, recommended, "real_set_size", "quality_checker_max_train_samples", "real"))]
          if recommended else []),
        ("Holding out part of the real set to validate on (validation only: the benchmark's validation split scores "
         "the last epoch, mean over seeds)", real_holdout_table(rows)),
        ("The checkers' reaction to noise (noisy benchmarks, all seeds)", noise_table(noise)),
        ("Clean against swapped labels: how well the weights separate them (training data, all seeds)",
         separation_table(noise)),
        ("Quality checker data-size study", study_table(rows)),
        ("Training longer on the noisy benchmarks (validation split only)", validation_table(rows, "epochs")),
        ("IMP with temperature-scaled checkers (validation split only)", validation_table(rows, "imp_calibration")),
        ("Learning rate (validation split only)", validation_table(rows, "learning_rate", grid_beside=True)),
        ("Quality checker recipes (validation split only)", checker_recipe_table()),
        ("Compute (CPU time of each cell's run.py, checker builds included)", compute_table(rows)),
    ]
    update_readme(sections, plots)
    print(f"{len(rows)} finished cells summarized into {RESULTS}")


if __name__ == "__main__":
    main()
