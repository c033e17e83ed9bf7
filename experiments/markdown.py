"""How results/README.md's tables show numbers."""

from __future__ import annotations

import statistics


def mean_std(values: list[float], signed: bool = False, digits: int = 1) -> str:
    if not values:
        return "–"
    mean = f"{statistics.mean(values):{'+' if signed else ''}.{digits}f}"
    if len(values) == 1:  # one seed has no spread to show: "± 0.0" would read as a measured zero
        return f"{mean} (n=1)"
    return f"{mean} ± {statistics.stdev(values):.{digits}f} (n={len(values)})"


def mean_se(values: list[float]) -> str:
    """Mean and standard error of the mean, signed: a paired difference."""
    if len(values) == 1:
        return f"{values[0]:+.2f}"
    return f"{statistics.mean(values):+.2f} ± {statistics.stdev(values) / len(values) ** 0.5:.2f}"


def benchmark_means_table(first_column: str, names: list[str], entries: dict) -> str:
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
