"""The noisy benchmarks: what the checkers and the trained model say about each kind of injected noise, from the
weights.csv of the finished IMP and DIMP cells."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from experiments.cells import METHOD_NAMES, last_epoch_column  # noqa: E402
from trainer.atomic import save_figure_atomic  # noqa: E402

NOISE_KINDS = ("original", "duplicate", "swap", "unrelated")


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
                column = "static_weight" if method == "imp" else last_epoch_column(records[0], "weight")
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
            cells += [f"{_mean_of(d, last_epoch_column(d[0], c)):.3f}" if d else "–"
                      for c in ("model_prob", "weight")]
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
            last = last_epoch_column(clean[0], "weight")
            labels = [1] * len(clean) + [0] * len(swapped)
            aucs = [roc_auc_score(labels, [float(r[column]) for r in clean + swapped])
                    for column in ("quality_prob", "weight_epoch1", last)]
            every = [r for rs in kinds.values() for r in rs]
            real = sum(float(r[last]) for r in kinds.get("real", [])) / sum(float(r[last]) for r in every)
            lines.append(f"| {bench} | {METHOD_NAMES[method]} | {len(clean)}, {len(swapped)} | "
                         + " | ".join(f"{a:.2f}" for a in aucs) + (f" | {100 * real:.0f} % |" if real else " | – |"))
    return "\n".join(lines)


def plot_noise_reaction(by_method: dict, folder: Path) -> list[str]:
    """Average IMP and DIMP weight per noise kind (the poster's "checkers' reaction on noisy data"), drawn into
    `folder`."""
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
    save_figure_atomic(fig, folder / "noise_reaction.png", dpi=120)
    plt.close(fig)
    return ["noise_reaction.png"]
