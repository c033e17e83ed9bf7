"""The phase-time benchmark's arithmetic, on raw timings whose totals are known: training is CE's median step time x
each variant's median per-round ratio to CE x the protocol's steps; the diversity checker's build is its measured
part plus the steps it did not run at CE's step time; the precompute is loading plus every chunk's scoring."""

from __future__ import annotations

import pytest

from benchmarks.protocol import parse_protocol
from benchmarks.report import estimate, headline, markdown_table

# 320 examples in batches of 32 for 2 epochs: 20 training steps; the diversity build's 5 epochs are 50 steps, of
# which the default 16 ran.
PROTOCOL = parse_protocol(["--train_examples", "320", "--batch_size", "32", "--epochs", "2"])

# Mean step time of each variant in rounds 0, 1 and 2. IMP's per-round ratios to CE are 3, 1, 1: their median, 1,
# is not the ratio of the two medians, 3 / 2.
STEP_MEANS = {"ce": [1.0, 2.0, 4.0], "dimp": [1.1, 2.2, 4.4], "imp": [3.0, 2.0, 4.0],
              "seed_dimp": [2.0, 4.0, 8.0], "seed_imp": [3.0, 6.0, 12.0]}


def _segments() -> list[dict]:
    """Two steps per segment around each mean; CPU time half the wall time. Listed with the rounds out of order,
    as nothing promises the order segments are recorded in."""
    segments = [{"round": r, "variant": name, "step_wall_s": [m - 0.5, m + 0.5], "step_cpu_s": [m / 2, m / 2]}
                for name, means in STEP_MEANS.items() for r, m in enumerate(means)]
    return segments[1::2] + segments[::2]


PHASES = {"build_quality_checker": {"wall_s": 100.0, "cpu_s": 150.0},
          "build_diversity_checker_partial": {"wall_s": 30.0, "cpu_s": 40.0},
          "load_quality_checker": {"wall_s": 5.0, "cpu_s": 5.0},
          "load_diversity_checker": {"wall_s": 7.0, "cpu_s": 7.0}}
CHUNKS = [{"quality": {"wall_s": 10.0, "cpu_s": 1.0}, "diversity": {"wall_s": 11.0, "cpu_s": 2.0}}] * 3


def test_the_phase_totals_add_up_from_the_measured_parts():
    wall = estimate(PROTOCOL, PHASES, CHUNKS, _segments(), "wall")
    # CE: median step 2 s x 20 steps. The diversity build: 30 s + (50 - 16) steps x 2 s. Precompute: 5 + 3 x 10 s
    # for P', 7 + 3 x 11 s for Q.
    assert wall["phases_s"] == {
        "ce": {"training": 40.0, "total": 40.0, "total_over_ce": 1.0},
        "dimp": {"quality_checker": 100.0, "precompute": 35.0, "training": 44.0, "total": 179.0,
                 "total_over_ce": 4.475},
        "imp": {"quality_checker": 100.0, "diversity_checker": 98.0, "precompute": 75.0, "training": 40.0,
                "total": 313.0, "total_over_ce": 7.825},
        "seed_dimp": {"quality_checker": 100.0, "training": 80.0, "total": 180.0, "total_over_ce": 4.5},
        "seed_imp": {"quality_checker": 100.0, "diversity_checker": 98.0, "training": 120.0, "total": 318.0,
                     "total_over_ce": 7.95},
    }
    assert wall["step_ratio_to_ce"]["imp"] == {"median": 1.0, "per_round": [3.0, 1.0, 1.0]}
    assert wall["step_s"] == {"ce": 2.0, "dimp": 2.2, "imp": 3.0, "seed_dimp": 4.0, "seed_imp": 6.0}
    assert wall["examples_per_s"]["ce"] == 16.0 and wall["examples_per_s"]["seed_dimp"] == 8.0
    # Seed-style DIMP takes 2 / 1.1 as long per step as DIMP, in every round.
    assert wall["throughput_over_seed_style"] == {"median": 1.8182, "per_round": [1.8182] * 3}


def test_the_cpu_clock_reads_cpu_times_only():
    cpu = estimate(PROTOCOL, PHASES, CHUNKS, _segments(), "cpu")
    # CE: median step 1 s x 20 steps; the diversity build 40 s + 34 steps x 1 s; precompute 5 + 3 x 1 s, 7 + 3 x 2 s.
    assert cpu["phases_s"]["imp"] == {"quality_checker": 150.0, "diversity_checker": 74.0, "precompute": 21.0,
                                      "training": 20.0, "total": 265.0, "total_over_ce": 13.25}
    assert cpu["phases_s"]["dimp"]["precompute"] == 8.0


@pytest.mark.parametrize("peak, met", [(2500.0, True), (2500.1, False)])
def test_the_headline_holds_each_bar_with_its_direction(peak, met):
    values = headline(estimate(PROTOCOL, PHASES, CHUNKS, _segments(), "wall"), peak)
    assert {name: bar["met"] for name, bar in values["bars"].items()} == {
        "dimp_total_over_ce": False,  # 4.475 > 1.05, a maximum
        "imp_train_over_ce": True,  # 1.0 <= 1.03, a maximum
        "throughput_over_seed_style": False,  # 1.8182 < 2.0, a minimum
        "peak_rss_mb": met,  # a maximum, the bar itself included
    }
    assert (values["dimp_total_over_ce"], values["imp_train_over_ce"], values["throughput_over_seed_style"],
            values["peak_rss_mb"]) == (4.475, 1.0, 1.8182, peak)


def test_a_minimum_bar_is_met_at_the_bar_itself():
    wall = estimate(PROTOCOL, PHASES, CHUNKS, _segments(), "wall")
    wall["throughput_over_seed_style"]["median"] = 2.0
    assert headline(wall, 0.0)["bars"]["throughput_over_seed_style"] == {"value": 2.0, "bar": 2.0, "kind": "min",
                                                                         "met": True}


def test_the_table_has_a_row_per_method_and_a_dash_for_a_phase_it_does_not_have():
    lines = markdown_table(estimate(PROTOCOL, PHASES, CHUNKS, _segments(), "wall")).splitlines()
    assert lines[2:] == [
        "| CE | – | – | – | 40 s | 40 s | 1.000 |",
        "| DIMP | 100 s | – | 35 s | 44 s | 179 s | 4.475 |",
        "| IMP | 100 s | 98 s | 75 s | 40 s | 313 s | 7.825 |",
        "| DIMP, authors' style | 100 s | – | – | 80 s | 180 s | 4.500 |",
        "| IMP, authors' style | 100 s | 98 s | – | 120 s | 318 s | 7.950 |",
    ]
