"""The tables of issue 14: the weighted model against the real data alone and against the bar, and the validation
studies of the ways of using the real set."""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from checkers.scoring import spread
from data.files import read_label_names, read_records, resolve_data_path
from experiments.cells import (METHOD_NAMES, METHOD_ORDER, accuracy_on_test, grid_results, held_out_score,
                               kept_recall, kept_validation_accuracy, last_epoch_column)
from experiments.markdown import benchmark_means_table, mean_se, mean_std
from experiments.selection import held_out_half_ensemble_accuracy
from experiments.spec import load_spec, selection_rule
from experiments.study_files import writes_real_set, writes_validation_file

# The validation studies of the ways of using the real set, tabled together.
REAL_SET_STUDIES = ("real_set", "real_set_checkers", "real_set_losses", "real_set_ce_weight")
# Issue 14's bar: the recommended method's test accuracy above each of these, in points.
BARS = {"ce": 2.0, "real_only": 1.0, "real_plus_synthetic": 1.0}


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
    by = _by_method(rows, [recommended, *BARS])
    lines = ["| benchmark | " + " | ".join(f"− {METHOD_NAMES[m]} (bar +{bar:g})" for m, bar in BARS.items()) + " |",
             "| --- |" + " ---: |" * len(BARS)]
    for bench in sorted({b for b, m in by if m == recommended}):
        cells = []
        for method, bar in BARS.items():
            mine, theirs = by[(bench, recommended)], by.get((bench, method), {})
            gains = [mine[s] - theirs[s] for s in sorted(mine) if s in theirs]
            met = "met" if gains and statistics.mean(gains) >= bar else "not met"
            # Two decimals, so that a mean just under the bar does not print as the bar itself.
            cells.append(f"{mean_std(gains, signed=True, digits=2)} {met}{_interval(gains)}" if gains else "–")
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
            tables.append(label + "\n\n" + benchmark_means_table("variant", names, entries))
    return "\n\n".join(tables) or "No finished cell of the study yet."


def _class_counts(path: str, field: str) -> np.ndarray:
    return np.bincount([int(record["label"]) for record in read_records(resolve_data_path(path, field))])


def _training_weight_shares(weights: Path, num_labels: int) -> np.ndarray | None:
    """Each class's share of the training data's total weight at the last epoch, from a cell's weights.csv."""
    if not weights.is_file():
        return None
    with weights.open() as f:
        records = list(csv.DictReader(f))
    column = last_epoch_column(records[0], "weight")
    totals = np.bincount([int(r["label"]) for r in records], [float(r[column]) for r in records], num_labels)
    return totals / totals.sum()


def _label_names(benchmark: dict, count: int) -> list[str]:
    """The benchmark's label names as its test file names them, else the label ids."""
    if "test_file" in benchmark:
        names = read_label_names(resolve_data_path(benchmark["test_file"], "test_file"))
        if names:
            return names
    return [str(label) for label in range(count)]


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
    return benchmark_means_table("model", [n for m, a in with_partner.items() for n in (METHOD_NAMES[m], a)], entries)


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
    pooled = "; ".join(f"{size} {unit} {mean_se(margins)} ({len(margins)} pairs)" for size, margins in paired.items())
    return ("Seeds: " + "; ".join(f"{bench} {', '.join(map(str, s))}" for bench, s in sorted(seeds.items())) + ".\n\n"
            + benchmark_means_table(f"method, {unit} examples", names, entries)
            + f"\n\nThe margin paired by benchmark and seed (mean ± standard error): {pooled}." + running)


def quality_spread(weights: Path) -> float | None:
    """The spread (checkers.scoring.spread) of the quality checker's P' over a cell's training data, read from its
    weights.csv, which keeps P' at the gold label only: enough for two classes, None for more."""
    with weights.open() as f:
        records = [r for r in csv.DictReader(f) if r.get("quality_prob")]
    labels = sorted({r["label"] for r in records})
    if len(labels) != 2:
        return None
    first = np.array([float(r["quality_prob"]) if r["label"] == labels[0] else 1 - float(r["quality_prob"])
                      for r in records])
    return spread(np.stack([first, 1 - first], axis=1))


def checker_steps_table(rows: list[dict], recommended: str) -> str:
    """Validation only: with 100 real examples, the recommended method whose quality checker trained for the
    recipe's 5 epochs (real_set_size; checker_steps_fpb on noisy_fpb) or for 20, as many optimizer steps as 500
    examples take (real_set_checker_steps), with CE on real + generated beside them: each model's accuracy on one
    validation half, selected on the other, and the margin paired by benchmark and seed; each checker's validation
    accuracy (its kept epoch, on the whole split) and, for two classes, the spread of its P' over the training data."""
    study, rule = load_spec()["studies"]["real_set_checker_steps"], selection_rule()
    epochs = {"real100": 5, "real100_e20": 20}
    model = METHOD_NAMES[recommended] + ", checker of {} epochs"
    checker = "the quality checker of {} epochs (its kept epoch, the whole split)"
    margin = "checker of 20 − of 5 epochs, " + METHOD_NAMES[recommended]
    cells = {(row["benchmark"], row["seed"], row["method"], row["variant"]): row for row in rows
             if row["variant"] in epochs and row["method"] in ("real_plus_synthetic", recommended)}
    wanted = [(bench, seed) for bench in study["benchmarks"] for seed in study["seeds"]]
    entries, margins, spreads, seeds = defaultdict(list), [], defaultdict(list), defaultdict(list)
    for bench, seed in wanted:
        keys = [(bench, seed, "real_plus_synthetic", "real100")] + [(bench, seed, recommended, v) for v in epochs]
        scores = {key: held_out_score(cells[key], rule) if key in cells else None for key in keys}
        if None in scores.values():
            continue
        seeds[bench].append(seed)
        entries[(bench, METHOD_NAMES["real_plus_synthetic"])].append(scores[keys[0]])
        for key in keys[1:]:
            count, row = epochs[key[3]], cells[key]
            entries[(bench, model.format(count))].append(scores[key])
            recipe = json.loads((row["dir"] / "quality_checker_recipe.json").read_text())
            entries[(bench, checker.format(count))].append(100 * recipe["validation_metrics"]["eval_accuracy"])
            value = quality_spread(row["dir"] / "weights.csv")
            if value is not None:
                spreads[count].append(value)
        margins.append(entries[(bench, model.format(20))][-1] - entries[(bench, model.format(5))][-1])
        entries[(bench, margin)].append(margins[-1])
    missing = len(wanted) - sum(len(s) for s in seeds.values())
    running = f"\n\nNot finished yet: {missing} of {len(wanted)} benchmark-seed pairs." if missing else ""
    if not margins:
        return "No benchmark and seed has finished every cell yet." + running
    names = [METHOD_NAMES["real_plus_synthetic"],
             *(text.format(n) for text in (checker, model) for n in epochs.values()), margin]
    better, worse = sum(m > 0 for m in margins), sum(m < 0 for m in margins)
    spread_text = "; ".join(f"{count} epochs {min(v):.3f}–{max(v):.3f}" for count, v in spreads.items())
    return ("Seeds: " + "; ".join(f"{bench} {', '.join(map(str, s))}" for bench, s in sorted(seeds.items())) + ".\n\n"
            + benchmark_means_table("model, 100 real examples", names, entries)
            + f"\n\nThe recommended method's margin with the checker of 20 epochs, paired by benchmark and seed (mean "
            f"± standard error): {mean_se(margins)} ({len(margins)} pairs; better in {better}, worse in {worse}). The "
            f"spread of the quality checker's P′ over the training data (two-class benchmarks): {spread_text}."
            + running)


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
            paired = mean_std(gain, signed=True) if variant != variants[0] else "–"
            shown = f"{statistics.mean(own):.1f}" if None not in own else "–"
            fraction = studies[study]["variants"][variant]["real_validation_fraction"]
            held_out = f"{fraction:.0%} ({statistics.mean(held):.0f})" if fraction else "none"
            lines.append(f"| {bench} | {held_out} | {len(complete)} | "
                         f"{statistics.mean(real):.0f} | {statistics.mean(accuracy):.1f} | {paired} | {shown} |")
    return "\n".join(lines) if len(lines) > 2 else "No seed has finished every variant of the study yet."


def other_generator_table(rows: list[dict], recommended: str) -> str:
    """The other_generator study: CE, CE on real + generated and the recommended method trained with the pairs of a
    second generator (the study's train_file) beside the same methods with the benchmark's own pairs; the real set,
    its checkers and both splits are the benchmark's, and CE on the real set alone is its own cell for both. Each
    model's accuracy on one validation half, selected on the other, and its test accuracy, mean over the seeds where
    every method finished with both; then the recommended method's margins, paired by seed, against the bar."""
    spec, rule = load_spec(), selection_rule()
    study = spec["studies"]["other_generator"]
    (bench,), (variant,) = study["benchmarks"], study["variants"]
    generators = {"": Path(spec["benchmarks"][bench]["train_file"]).parent.name,
                  variant: Path(study["overrides"]["train_file"]).parent.name}
    methods = (*BARS, recommended)
    scores = defaultdict(dict)  # (variant, method) -> seed -> (accuracy on validation halves, test accuracy)
    for row in rows:
        if (row["benchmark"] == bench and row["method"] in methods and row["seed"] in study["seeds"]
                and (row["study"] == "other_generator" or not row["variant"])):
            scores[(row["variant"], row["method"])][row["seed"]] = (held_out_score(row, rule), accuracy_on_test(row))
    scores[(variant, "real_only")] = scores[("", "real_only")]  # trained on the real set alone: one model for both
    seeds = sorted(set(study["seeds"]).intersection(*(scores[(v, m)] for v in generators for m in methods)))
    if not seeds:
        return "No seed has finished every method of the study yet."
    lines = ["| method | " + " | ".join(f"{what}, {generators[v]}" for what in ("validation halves", "test")
                                         for v in generators) + " |", "| --- |" + " ---: |" * 4]
    for method in methods:
        values = [[scores[(v, method)][s][k] for s in seeds] for k in (0, 1) for v in generators]
        # The grid's earliest cells kept no validation predictions: no validation halves to score.
        lines.append(f"| {METHOD_NAMES[method]} | "
                     + " | ".join("–" if None in v else f"{statistics.mean(v):.1f}" for v in values) + " |")
    for method, bar in BARS.items():
        cells = []
        for k in (0, 1):
            for v in generators:
                pairs = [(scores[(v, recommended)][s][k], scores[(v, method)][s][k]) for s in seeds]
                if None in (x for pair in pairs for x in pair):
                    cells.append("–")
                    continue
                gains = [mine - theirs for mine, theirs in pairs]
                met = ("met" if statistics.mean(gains) >= bar else "not met") if k else ""
                cells.append(f"{mean_se(gains)} {met}".rstrip())
        lines.append(f"| {METHOD_NAMES[recommended]} − {METHOD_NAMES[method]} (bar +{bar:g}) | " + " | ".join(cells)
                     + " |")
    return (f"{bench}'s real set and splits; seeds {', '.join(map(str, seeds))}. Margins: mean ± standard error, "
            f"paired by seed; the bar is read on test.\n\n" + "\n".join(lines))
