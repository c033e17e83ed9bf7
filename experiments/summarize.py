"""Tables and plots from the finished cells in results/cells: results/effect.csv, the paper-style table in
results/README.md (between its TABLE markers), training-dynamics plots and the checkers' reaction to noise. The grid's
own tables are here; those of the noisy benchmarks in noise_tables.py, those of the real set in real_set_tables.py.

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

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python experiments/summarize.py`
from experiments.cells import (CELLS, METHOD_NAMES, METHOD_ORDER, RESULTS, accuracy_on_test,  # noqa: E402
                               finished_cells, grid_results, held_out_score, kept_validation_accuracy,
                               validation_curve_percent)
from experiments.grid import TIME_FILE  # noqa: E402
from experiments.markdown import mean_se, mean_std  # noqa: E402
from experiments.noise_tables import noise_records, noise_table, plot_noise_reaction, separation_table  # noqa: E402
from experiments.real_set_tables import (bar_table, checker_ensemble_table, checker_steps_table,  # noqa: E402
                                         class_balance_table, other_generator_table, quality_spread, real_data_table,
                                         real_holdout_table, real_set_study_table, second_validation_table, size_table)
from experiments.selection import RULE_NAMES, RULES, kept_epoch  # noqa: E402
from experiments.spec import load_spec, selection_rule  # noqa: E402
from trainer.atomic import open_atomic, save_figure_atomic, write_text_atomic  # noqa: E402


def write_effect_csv(rows: list[dict]) -> None:
    with open_atomic(RESULTS / "effect.csv", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["benchmark", "method", "seed", "test_accuracy", "test_f1"])
        for row in grid_results(rows):
            accuracy, f1 = row["test"]
            writer.writerow([row["benchmark"], row["method"], row["seed"], f"{accuracy:.2f}", f"{f1:.2f}"])


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
                lines.append(f"| {bench} | {METHOD_NAMES[method]} | {mean_std([a for a, _ in runs])} "
                             f"| {mean_std([f for _, f in runs])} |")
    return "\n".join(lines)


def study_table(rows: list[dict]) -> str:
    """The quality checker's data-size study: DIMP with checkers trained on part of the real set, beside the grid's
    DIMP (the whole set) and CE (no checker) cells of the same benchmark and seeds."""
    study = load_spec()["studies"]["checker_size"]
    cells = [r for r in rows if r["benchmark"] in study["benchmarks"] and r["seed"] in study["seeds"]
             and (r["study"] == "checker_size" or (not r["variant"] and r["method"] in ("ce", "dimp")))]
    lines = ["| benchmark | seed | method | real examples for the quality checker | checker val. accuracy | checker's "
             "P′ spread | val. accuracy (kept epoch) | test accuracy |", "| --- " * 8 + "|"]
    with_recipe = [(row, json.loads((row["dir"] / "quality_checker_recipe.json").read_text())
                    if (row["dir"] / "quality_checker_recipe.json").is_file() else None) for row in cells]
    for row, recipe in sorted(with_recipe, key=lambda c: (c[0]["benchmark"], c[0]["seed"],
                                                          c[1]["train_examples"] if c[1] else 0)):
        size = recipe["train_examples"] if recipe else "none"
        checker = f"{100 * recipe['validation_metrics']['eval_accuracy']:.1f}" if recipe else "–"
        weights = row["dir"] / "weights.csv"
        spread = quality_spread(weights) if recipe and weights.is_file() else None
        lines.append(f"| {row['benchmark']} | {row['seed']} | {METHOD_NAMES[row['method']]} | {size} | {checker} | "
                     f"{'–' if spread is None else f'{spread:.3f}'} | {kept_validation_accuracy(row):.1f} | "
                     f"{accuracy_on_test(row):.1f} |")
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
        accuracy, f1 = validation_curve_percent(row, "accuracy"), validation_curve_percent(row, "f1")
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
        save_figure_atomic(fig, RESULTS / name, dpi=120)
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
            cells.append(mean_std(gains, signed=True))
        lines.append(f"| {bench} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
            parts.append(f"{statistics.mean(c[rule] for c in cells):.2f} ({mean_se(gains)}; "
                         f"better in {sum(g > 0 for g in gains)}, worse in {sum(g < 0 for g in gains)})")
        lines.append(f"| {bench} | {len(cells)} | " + " | ".join(parts) + " |")
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
    write_text_atomic(readme, text[:start] + generated + text[end:])  # the hand-written rest is never lost


def recommended_method() -> str | None:
    path = RESULTS / "recommended.json"
    return json.loads(path.read_text())["method"] if path.is_file() else None


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    rows = finished_cells()
    write_effect_csv(rows)
    recommended = recommended_method()
    noise = {method: noise_records(rows, method) for method in ("imp", "dimp", "dimp_plus_real")}  # each read once
    plots = plot_dynamics(rows) + plot_noise_reaction(noise, RESULTS)
    sections = [
        ("", effect_table(rows)),
        ("Against the real data alone (test accuracy, mean over seeds)", real_data_table(rows, recommended)),
        *([("The recommended method against the bar (test accuracy points, paired by seed: mean ± standard deviation "
             "over seeds, and the 95 % interval of the mean)",
            bar_table(rows, recommended))] if recommended else []),
        ("Gain over CE (test accuracy points, paired by seed: mean ± standard deviation over seeds)", gain_table(rows)),
        ("Gain over CE on the validation split (accuracy of the kept epoch, paired by seed: mean ± standard deviation)",
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
            "seeds)", size_table(rows, recommended, "real_set_size", "quality_checker_max_train_samples", "real")),
           ("Checkers of 100 real examples trained for as many steps as those of 500 (validation only: accuracy on one "
            "validation half, selected on the other, mean over seeds)", checker_steps_table(rows, recommended))]
          if recommended else []),
        ("Holding out part of the real set to validate on (validation only: the benchmark's validation split scores "
         "the last epoch, mean over seeds)", real_holdout_table(rows)),
        *([("A generator the recommendation was not chosen on (accuracy on one validation half, selected on the "
             "other, and on test, mean over seeds)", other_generator_table(rows, recommended))] if recommended else []),
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
