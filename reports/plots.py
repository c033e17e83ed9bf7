"""The report's PNG plots: weight histograms per group, and how the loss weights moved across epochs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.atomic import save_figure_atomic

# Weights spanning more than this ratio (IMP's P'/Q, DIMP's P'/P) are drawn on a log scale.
LOG_SCALE_SPAN = 100.0
# Groups drawn side by side in one histogram; beyond, the largest are drawn and the rest pooled (a task of 200 labels
# drew 200 bars a bin and a legend taller than the plot).
MAX_GROUPS = 10


def _pyplot():
    """matplotlib, imported when the first plot is drawn, after training: it holds ~25 MB that training can use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _log_scale(values: np.ndarray) -> bool:
    positive = values[values > 0]
    return len(positive) > 1 and positive.max() / positive.min() > LOG_SCALE_SPAN


def _bins(values: np.ndarray, log: bool) -> np.ndarray:
    if log:
        positive = values[values > 0]
        return np.geomspace(positive.min(), positive.max(), 26)
    low, high = float(values.min()), float(values.max())
    if 0 <= low and high <= 1:  # a probability: the whole range, so that plots of different runs compare
        low, high = 0.0, 1.0
    return np.linspace(low, high if high > low else low + 1e-9, 26)


def histogram_by_group(values: np.ndarray, groups: list[str], order: list[str], name: str, title: str,
                       path: Path) -> Path:
    """Each group's histogram, side by side in shared bins, as a share of the group: a small group (the injected
    noise) reads as clearly as a large one. The legend gives each group's size and mean."""
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups)
    seen = ~np.isnan(values)
    log = _log_scale(values[seen])
    bins = _bins(values[seen], log)
    # Zeros cannot sit on a log axis: they are counted in the first bin.
    parts = [np.clip(values[seen & (groups == group)], bins[0], None) for group in order]
    shown = drawn_groups([(group, part) for group, part in zip(order, parts) if len(part)])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist([part for _, part in shown], bins=bins, weights=[np.full(len(part), 1 / len(part)) for _, part in shown],
            # A group keeps its colour from plot to plot, its place in `order`, where there are few enough.
            color=[f"C{order.index(group) if len(order) <= MAX_GROUPS else i}" for i, (group, _) in enumerate(shown)],
            label=[f"{group} (n={len(part)}, mean {part.mean():.3g})" for group, part in shown])
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(name + (" (log scale)" if log else ""))
    ax.set_ylabel("share of the group's examples")
    ax.set_title(title)
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)
    plt.close(fig)
    return path


def drawn_groups(groups: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """The (name, values) groups a histogram draws: all of them, in their order, up to MAX_GROUPS; beyond, the
    largest MAX_GROUPS - 1, in their order, and the others pooled into one."""
    if len(groups) <= MAX_GROUPS:
        return groups
    largest = sorted(range(len(groups)), key=lambda i: -len(groups[i][1]))[:MAX_GROUPS - 1]
    kept = [groups[i] for i in sorted(largest)]
    rest = [groups[i] for i in range(len(groups)) if i not in largest]
    return kept + [(f"the other {len(rest)}", np.concatenate([part for _, part in rest]))]


def weights_by_epoch(model_prob: dict[int, np.ndarray], weight: dict[int, np.ndarray], loss_name: str,
                     path: Path) -> Path:
    """Per epoch, the loss weight's median, 25-75% and 10-90% bands and mean; beside it, P(y|x; θ)'s."""
    epochs = sorted(weight)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, series, label in ((axes[0], weight, f"{loss_name} weight"), (axes[1], model_prob, "P(y|x; θ)")):
        columns = [series[e][~np.isnan(series[e])] for e in epochs]
        q = np.array([np.quantile(c, [0.1, 0.25, 0.5, 0.75, 0.9]) for c in columns])
        ax.fill_between(epochs, q[:, 0], q[:, 4], color="C0", alpha=0.15, label="10–90%")
        ax.fill_between(epochs, q[:, 1], q[:, 3], color="C0", alpha=0.3, label="25–75%")
        ax.plot(epochs, q[:, 2], color="C0", marker="o", label="median")
        ax.plot(epochs, [c.mean() for c in columns], color="C3", marker="s", linestyle="--", label="mean")
        if _log_scale(np.concatenate([q.ravel(), [c.mean() for c in columns]])):  # as far as the plot reaches
            ax.set_yscale("log")
        ax.set_xticks(epochs)
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("As the loss used them during each epoch")
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)
    plt.close(fig)
    return path
