"""From the raw timings to the protocol's phase totals, the ratios the issue asks for, and a paper-style table."""

from __future__ import annotations

from statistics import mean, median

BARS = {  # name: (bar, "max" or "min")
    "dimp_total_over_ce": (1.05, "max"),
    "imp_train_over_ce": (1.03, "max"),
    "throughput_over_seed_style": (2.0, "min"),
    "peak_rss_mb": (2500.0, "max"),
}


def _round_means(segments: list[dict], clock: str) -> dict[str, list[float]]:
    """Per variant, the mean step time of each round (rounds in order)."""
    means: dict[str, list[float]] = {}
    for segment in sorted(segments, key=lambda s: s["round"]):
        means.setdefault(segment["variant"], []).append(mean(segment[f"step_{clock}_s"]))
    return means


def _ratio(numerator: list[float], denominator: list[float]) -> dict:
    per_round = [a / b for a, b in zip(numerator, denominator)]
    return {"median": round(median(per_round), 4), "per_round": [round(r, 4) for r in per_round]}


def estimate(protocol, phases: dict, chunks: list[dict], segments: list[dict], clock: str = "wall") -> dict:
    """Phase totals of the whole protocol, in seconds of `clock` ('wall' or 'cpu').

    Training of a variant = (its median per-round step-time ratio to CE) x (CE's median per-round mean step time)
    x the protocol's training steps. The diversity checker = its measured partial build + the steps it did not run
    x CE's step time (the build is a CE run with the same batch size and sampler)."""
    key = f"{clock}_s"
    steps = _round_means(segments, clock)
    ce_step = median(steps["ce"])
    ratios = {name: _ratio(values, steps["ce"]) for name, values in steps.items() if name != "ce"}
    ce_train = ce_step * protocol.training_steps
    train = {"ce": ce_train, **{name: r["median"] * ce_train for name, r in ratios.items()}}
    quality_build = phases["build_quality_checker"][key]
    diversity_build = phases["build_diversity_checker_partial"][key] + \
        (protocol.diversity_build_total_steps - protocol.diversity_build_steps) * ce_step
    precompute = {column: phases[f"load_{column}_checker"][key] + sum(c[column][key] for c in chunks)
                  for column in ("quality", "diversity")}
    rows = {
        "ce": {"training": train["ce"]},
        "dimp": {"quality_checker": quality_build, "precompute": precompute["quality"], "training": train["dimp"]},
        "imp": {"quality_checker": quality_build, "diversity_checker": diversity_build,
                "precompute": precompute["quality"] + precompute["diversity"], "training": train["imp"]},
        "seed_dimp": {"quality_checker": quality_build, "training": train["seed_dimp"]},
        "seed_imp": {"quality_checker": quality_build, "diversity_checker": diversity_build,
                     "training": train["seed_imp"]},
    }
    for row in rows.values():
        row["total"] = sum(row.values())
        row["total_over_ce"] = row["total"] / ce_train
    throughput = _ratio(steps["seed_dimp"], steps["dimp"])  # examples/s of DIMP over seed-style DIMP
    return {
        "step_s": {name: round(median(values), 4) for name, values in steps.items()},
        "examples_per_s": {name: round(protocol.batch_size / median(values), 2) for name, values in steps.items()},
        "step_ratio_to_ce": ratios,
        "throughput_over_seed_style": throughput,
        "phases_s": {name: {k: round(v, 1) if k != "total_over_ce" else round(v, 4) for k, v in row.items()}
                     for name, row in rows.items()},
    }


def headline(wall: dict, peak_rss_mb: float) -> dict:
    values = {
        "dimp_total_over_ce": wall["phases_s"]["dimp"]["total_over_ce"],
        "imp_train_over_ce": wall["step_ratio_to_ce"]["imp"]["median"],
        "throughput_over_seed_style": wall["throughput_over_seed_style"]["median"],
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    bars = {name: {"value": values[name], "bar": bar, "kind": kind,
                   "met": values[name] <= bar if kind == "max" else values[name] >= bar}
            for name, (bar, kind) in BARS.items()}
    return {**values, "bars": bars}


LABELS = {"ce": "CE", "dimp": "DIMP", "imp": "IMP", "seed_dimp": "DIMP, authors' style", "seed_imp": "IMP, authors' style"}


def markdown_table(wall: dict) -> str:
    columns = ("quality_checker", "diversity_checker", "precompute", "training", "total")
    lines = ["| method | quality checker | diversity checker | precompute | training | total | × CE training |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in wall["phases_s"].items():
        cells = [f"{row[c]:.0f} s" if c in row else "–" for c in columns]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + f" | {row['total_over_ce']:.3f} |")
    return "\n".join(lines)
