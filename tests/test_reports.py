"""weights.csv and weights_report.md from known weights: columns, rankings, tables, plots; and W&B never crashes."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from conftest import file_backed_mb, weights_rows, write_long_texts
from data.task import build_task, split_from_file
from reports.example_weights import ExampleWeights, from_training_set, write_csv
from reports.markdown import cell, code, render
from reports.plots import drawn_groups, histogram_by_group
from reports.weight_report import log_to_wandb, write_weight_report
from trainer.weight_history import Seen

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def known_weights(n: int = 60) -> ExampleWeights:
    """IMP-like static weights and two DIMP-like epochs; examples 0-5 are swaps the checker distrusts."""
    rng = np.random.default_rng(0)
    quality = rng.uniform(0.7, 0.99, n)
    quality[:6] = rng.uniform(0.001, 0.05, 6)
    diversity = rng.uniform(0.3, 0.9, n)
    noise = ["swap"] * 6 + ["original"] * (n - 6)
    weights = ExampleWeights(
        texts={"text": [f"text {i} | with a pipe" for i in range(n)], "text_pair": [f"pair {i}" for i in range(n)]},
        labels=np.arange(n) % 2, label_names=["not_equivalent", "equivalent"], noise=noise, quality=quality,
        quality_label=(np.arange(n) + (np.arange(n) < 6)) % 2, diversity=diversity, static=quality / diversity, kept=quality > 0.5, loss="dimp")
    seen_first = np.arange(0, n - 4)  # the last examples were not seen in epoch 1 (training stopped early)
    probs = {1: rng.uniform(0.3, 0.7, n), 2: rng.uniform(0.5, 0.99, n)}
    return weights.with_history({
        1: Seen(seen_first, probs[1][seen_first], quality[seen_first] / probs[1][seen_first]),
        2: Seen(np.arange(n), probs[2], quality / probs[2]),
    })


def test_cells_are_one_line_short_and_escaped():
    assert cell("a | b\nc") == "a \\| b c"
    assert cell("<b>bold</b>") == "&lt;b>bold&lt;/b>"
    assert cell("word " * 40, width=30) == "word word word word word…"  # cut at a word
    assert cell("ab " + "x" * 50, width=30) == "ab " + "x" * 26 + "…"  # unless that leaves less than half
    assert cell("C:\\data\\|x") == "C:\\\\data\\\\\\|x"  # a backslash cannot escape the next character
    # inside a code span (a label the card quotes) < and \\ show as written, so only | is escaped there
    assert cell("label `<b>bold</b>` and <i>") == "label `<b>bold</b>` and &lt;i>"
    assert cell("label `a|b\\c`") == "label `a\\|b\\c`"


def test_a_code_span_holds_any_label_whole():
    assert code("neg") == "`neg`" and code("<b>bold</b>") == "`<b>bold</b>`"
    assert code("x`y") == "``x`y``" and code("`quoted`") == "`` `quoted` ``"
    assert cell(f"label {code('x`y')} <") == "label ``x`y`` &lt;"


def test_weights_csv_holds_every_example_and_every_value(tmp_path):
    weights = known_weights()
    write_weight_report(tmp_path, weights, "Known weights.")
    rows = weights_rows(tmp_path)
    assert len(rows) == 60
    assert list(rows[0]) == ["index", "text", "text_pair", "label", "label_name", "noise", "quality_label", "quality_prob",
                             "diversity_prob", "static_weight", "kept", "model_prob_epoch1", "weight_epoch1",
                             "model_prob_epoch2", "weight_epoch2"]
    assert rows[0]["text"] == "text 0 | with a pipe" and rows[1]["label_name"] == "equivalent"
    assert rows[0]["quality_label"] == "equivalent" and rows[10]["quality_label"] == "not_equivalent"
    assert float(rows[0]["static_weight"]) == pytest.approx(weights.static[0], rel=1e-5)
    assert rows[59]["weight_epoch1"] == "" and rows[59]["weight_epoch2"] != ""  # not seen in epoch 1
    assert rows[0]["kept"] == "False" and rows[10]["kept"] == "True"


def test_weights_csv_written_in_chunks_is_the_same_file(tmp_path, monkeypatch):
    from reports import example_weights

    write_weight_report(tmp_path / "whole", known_weights(), "Known weights.")
    monkeypatch.setattr(example_weights, "CSV_CHUNK_ROWS", 7)  # 60 rows: 8 full chunks and a partial one
    write_weight_report(tmp_path / "chunked", known_weights(), "Known weights.")
    assert (tmp_path / "chunked" / "weights.csv").read_bytes() == (tmp_path / "whole" / "weights.csv").read_bytes()


def test_weights_csv_of_no_example_still_has_its_header(tmp_path):
    write_csv(tmp_path / "weights.csv", ExampleWeights(texts={"text": []}, labels=np.array([], dtype=np.int64),
                                                       label_names=["negative", "positive"]))
    assert (tmp_path / "weights.csv").read_text().splitlines() == ["index,text,label,label_name"]


def test_the_table_of_a_training_set_takes_each_checkers_probability_of_the_gold_label():
    train = Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 1]})
    quality = np.array([[0.9, 0.1], [0.3, 0.7], [0.8, 0.2]])
    weights = from_training_set(train, ["text"], ["no", "yes"], {"quality": quality, "diversity": np.full((3, 2), 0.5)},
                                epsilon=1e-9)
    assert weights.quality.tolist() == [0.9, 0.7, 0.2] and weights.diversity.tolist() == [0.5, 0.5, 0.5]
    assert weights.quality_label.tolist() == [0, 1, 0]  # the label the quality checker finds most likely
    assert weights.static == pytest.approx([1.8, 1.4, 0.4])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_writing_weights_csv_reads_the_texts_without_keeping_them_resident(tmp_path):
    train = build_task([split_from_file("train", write_long_texts(tmp_path / "t.jsonl"))], None).splits["train"]
    weights = from_training_set(train, ["text"], ["a", "b"], {}, epsilon=1e-9)
    before = file_backed_mb()
    write_csv(tmp_path / "weights.csv", weights)
    assert (tmp_path / "weights.csv").stat().st_size > 20_000_000  # every text went through the mapped file
    assert file_backed_mb() - before < 5, (before, file_backed_mb())


def test_report_puts_the_distrusted_examples_first(tmp_path):
    report = write_weight_report(tmp_path, known_weights(), "Known weights.", "Filtering kept 54 of 60.")
    text = report.read_text(encoding="utf-8")
    lowest = text.split("## The 20 lowest-weighted examples", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in lowest.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 20
    header = ("| # | index | label | checker's label | noise | P′ | Q | P′/Q | weight, epoch 2 | kept | text | "
              "text_pair |")
    assert header in lowest.splitlines()  # a column per value each row gives
    assert {len(re.split(r"(?<!\\)\|", row)) for row in rows} == {len(header.split("|"))}
    assert all(row.split(" | ")[2:4] in (["equivalent", "not_equivalent"], ["not_equivalent", "equivalent"])
               for row in rows[:6])  # the checker's label beside the swapped one
    assert all("| swap |" in row for row in rows[:6]) and not any("| swap |" in row for row in rows[6:])
    assert all("| **no** |" in row for row in rows[:6]) and all("| yes |" in row for row in rows[6:])  # kept or not
    assert "text 0 \\| with a pipe" in lowest  # a pipe in a text does not break the table
    assert "| swap | 6 |" in text and "6 (100%)" in text  # the noise table: every swap in the lowest 10%
    assert "## By noise kind" in text and "gives the injected kinds a lower" in text
    assert "## Across epochs" in text and "| 1 | 56 |" in text  # epoch 1 saw 56 examples
    assert "Filtering kept 54 of 60." in text
    for name in ("weights_by_label.png", "weights_by_noise.png", "weights_by_epoch.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
        assert f"({name})" in text


def test_the_summary_and_noise_tables_describe_the_weights():
    static = np.array([1.0, 2, 3, 4, 5, 10, 20, 30, 40, 50])
    noise = ["swap", "swap", "original", "original", "original", "swap", "original", "original", "original", "original"]
    weights = ExampleWeights(texts={"text": [str(i) for i in range(10)]}, labels=np.repeat([0, 1], 5),
                             label_names=["a", "b"], noise=noise, quality=static / 100, static=static,
                             loss="quality_only")
    text = render(weights, "Known.", {})
    assert "| swap | 3 | 4.33 | 2 | 1 (33%) |" in text  # weights 1, 2 and 10; the lowest 10% is the 1
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "| **all** | 10 | 16.5 | 1 | 1.9 | 7.5 | 41 | 50 |" in summary
    assert "| label a | 5 | 3 | 1 | 1.4 | 3 | 4.6 | 5 |" in summary  # 10%, median, 90%: linear between values
    assert "| label b | 5 | 30 | 10 | 14 | 30 | 46 | 50 |" in summary
    assert "| # | index | label | noise | P′ |" in text and "P′/Q" not in text  # no diversity checker: no ratio
    weights.diversity, weights.static, weights.loss = np.full(10, 0.5), static / 50, "imp"
    text = render(weights, "Known.", {})  # ranked by P′/Q: the noise table shows P′ and Q apart too
    assert "| noise | examples | mean P′ | mean Q | mean P′/Q |" in text
    assert "| swap | 3 | 0.0433 | 0.5 | 0.0867 |" in text


def test_the_ranking_and_the_kinds_follow_what_the_run_had():
    """P′/Q with a diversity checker, P′ without; `original` first among the noise kinds; real examples the loss
    weighs as the others (real_set_weight null) are not set apart."""
    weights = known_weights()
    assert weights.ranking().name == "P′/Q"
    weights.diversity, weights.static = None, weights.quality
    assert weights.ranking().name == "P′"
    tags = ExampleWeights(texts={"text": list("abcd")}, labels=np.zeros(4, dtype=int), label_names=["x"],
                          noise=["swap", "unrelated", "original", "duplicate"])
    assert tags.noise_kinds() == ["original", "duplicate", "swap", "unrelated"]
    weighed = ExampleWeights(texts={"text": ["a", "b"]}, labels=np.zeros(2, dtype=int), label_names=["x"],
                             real=np.array([False, True]), real_weight=None)
    assert weighed.fixed == 0 and weighed.without_fixed(np.array([1.0, 2.0])).tolist() == [1.0, 2.0]
    weighed.real_weight, weighed.static = 0.0, np.array([0.5, np.nan])  # real_set_weight 0: a fixed weight too
    assert "The 1 real examples joined to the training data (noise `real`) train at the fixed weight 0 and are not " \
           "ranked" in weighed.ranking().meaning


def test_report_without_checkers_ranks_by_the_last_epoch(tmp_path):
    weights = ExampleWeights(texts={"text": ["a", "b", "c"]}, labels=np.array([0, 1, 0]), label_names=["no", "yes"],
                             loss="focal")
    weights.with_history({1: Seen(np.arange(3), np.array([0.9, 0.5, 0.2]), np.array([0.1, 0.5, 0.8]))})
    text = render(weights, "Focal.", {})
    assert "ranked by **weight, epoch 1**" in text
    assert text.index("| 1 | 0 | no |") < text.index("| 2 | 1 | yes |")


def test_focals_noise_table_is_read_as_the_models_not_a_checkers():
    """Focal's weight is low where the model already fits an example: noise shows high, not low; and data tagged by
    its own kinds, without `original`, is compared with those."""
    weights = ExampleWeights(texts={"text": list("abcd")}, labels=np.array([0, 1, 0, 1]), label_names=["no", "yes"],
                             noise=["llmA", "llmB", "swap", "llmA"], loss="focal")
    weights.with_history({1: Seen(np.arange(4), np.array([0.9, 0.8, 0.1, 0.9]), np.array([0.1, 0.2, 0.9, 0.1]))})
    text = render(weights, "Focal.", {})
    assert ("Focal's weight is lowest where the model already fits an example, so an injected kind it has not fitted "
            "(swapped labels, mostly) shows a higher weight, epoch 1 than the data's own kinds") in text
    assert "sees through the noise" not in text


def test_real_examples_at_a_fixed_weight_are_counted_but_not_ranked():
    weights = ExampleWeights(texts={"text": ["a", "b", "c", "d"]}, labels=np.array([0, 1, 0, 1]),
                             label_names=["no", "yes"], noise=["original", "original", "real", "real"], loss="focal",
                             real=np.array([False, False, True, True]), real_weight=1.0)
    weights.with_history({1: Seen(np.arange(4), np.array([0.9, 0.5, 0.2, 0.1]), np.array([0.1, 0.5, 1.0, 1.0]))})
    assert np.isnan(weights.ranking().values[2:]).all() and weights.ranking().values[:2].tolist() == [0.1, 0.5]
    text = render(weights, "Focal with the real set.", {})
    assert "The 2 real examples joined to the training data (noise `real`) train at the fixed weight 1" in text
    assert "| **all** | 2 |" in text and "| real | 2 | – | – | – |\n" in text
    # the data tags no noise: the table tells the real set apart, and says nothing of injected kinds
    assert "## The training data and the real set joined to it" in text and "injected" not in text
    highest = text.split("## The 2 highest-weighted examples", 1)[1]
    assert "| 1 | 1 | yes |" in highest and "| real |" not in highest


def test_the_epochs_plot_leaves_out_the_real_examples_at_a_fixed_weight(tmp_path, monkeypatch):
    from reports import plots

    drawn, draw = [], plots.weights_by_epoch

    def recording(model_prob, weight, *args):
        drawn.append((model_prob, weight))
        return draw(model_prob, weight, *args)

    monkeypatch.setattr(plots, "weights_by_epoch", recording)
    weights = ExampleWeights(texts={"text": ["a", "b", "c", "d"]}, labels=np.array([0, 1, 0, 1]),
                             label_names=["no", "yes"], loss="focal", real=np.array([False, False, True, True]),
                             real_weight=1.0)
    weights.with_history({1: Seen(np.arange(4), np.array([0.9, 0.5, 0.2, 0.1]), np.array([0.1, 0.5, 1.0, 1.0]))})
    write_weight_report(tmp_path, weights, "Focal with the real set.")
    ((model_prob, weight),) = drawn
    assert model_prob[1][:2].tolist() == [0.9, 0.5] and np.isnan(model_prob[1][2:]).all()
    assert weight[1][:2].tolist() == [0.1, 0.5] and np.isnan(weight[1][2:]).all()


def test_the_lowest_weighted_tenth_is_of_the_examples_the_ranking_weighed():
    """Ranked by the last epoch's weight (no checker), 20 examples of which training stopped before seeing 10: the
    lowest 10% is one example, not two."""
    weights = ExampleWeights(texts={"text": [f"t{i}" for i in range(20)]}, labels=np.arange(20) % 2,
                             label_names=["no", "yes"], noise=["swap"] * 4 + ["original"] * 16, loss="focal")
    weights.with_history({1: Seen(np.arange(10), np.full(10, 0.5), np.linspace(0.1, 1.0, 10))})
    text = render(weights, "Focal, stopped early.", {})
    assert "in the lowest-weighted 10% of the 10 examples" in text
    assert "| swap | 4 | 0.25 | 0.25 | 1 (25%) |" in text and "| original | 16 | 0.75 | 0.75 | 0 (0%) |" in text


def test_a_kind_no_example_of_which_was_seen_in_an_epoch_shows_a_dash(recwarn):
    # max_steps can end an epoch before every example was seen: the real ones here have no weight in epoch 1
    quality = np.array([0.9, 0.4, 0.8, 0.7])
    weights = ExampleWeights(texts={"text": ["a", "b", "c", "d"]}, labels=np.array([0, 1, 0, 1]),
                             label_names=["no", "yes"], noise=["original", "original", "real", "real"], loss="dimp",
                             quality=quality, static=quality)
    weights.with_history({1: Seen(np.arange(2), np.array([0.9, 0.5]), np.array([1.0, 0.8]))})
    text = render(weights, "DIMP, stopped early.", {})
    assert "| real | 2 | 0.75 | 0.75 | 0 (0%) | – |" in text  # P′ ranks them; epoch 1 has no weight of theirs
    assert "| original | 2 | 0.65 | 0.65 | 1 (50%) | 0.9 |" in text  # of 4 examples, the lowest 10% is one: 0.4
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no "Mean of empty slice"


def test_the_epochs_table_leaves_out_the_real_examples_at_a_fixed_weight_and_dashes_what_was_not_seen():
    quality = np.array([0.9, 0.4, 0.8, 0.7, 0.6])
    weights = ExampleWeights(texts={"text": ["a", "b", "c", "d", "e"]}, labels=np.array([0, 1, 0, 2, 2]),
                             label_names=["no", "yes", "maybe"], noise=["original"] * 3 + ["real"] * 2, loss="dimp",
                             quality=quality, static=np.r_[quality[:3], np.nan, np.nan],
                             real=np.array([False, False, False, True, True]), real_weight=1.0)
    weights.with_history({1: Seen(np.array([0, 1, 3, 4]), np.array([0.9, 0.5, 0.2, 0.1]), np.array([1, 0.8, 1, 1]))})
    text = render(weights, "DIMP with the real set, stopped early.", {}, epoch_plot="weights_by_epoch.png")
    epochs = text.split("## Across epochs", 1)[1].split("\n## ", 1)[0]
    assert "| 1 | 2 | 0.7 | 0.9 |" in epochs  # examples 0 and 1: seen, and not real
    assert "The 2 real examples joined at the fixed weight 1 are left out." in epochs
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "| label yes | 1 | 0.4 |" in summary and "| label maybe | 0 | – | – | – | – | – | – |" in summary
    lowest = text.split("lowest-weighted examples", 1)[1].split("\n## ", 1)[0]
    assert "| 2 | 2 | no | original | 0.8 | – | c |" in lowest  # not seen in epoch 1: a dash, not nan


def test_examples_of_equal_weight_are_listed_in_training_order_in_both_tables():
    weights = ExampleWeights(texts={"text": ["a", "b", "c"]}, labels=np.array([0, 1, 0]), label_names=["no", "yes"],
                             quality=np.array([0.5, 0.5, 0.9]), static=np.array([0.5, 0.5, 0.9]), loss="quality_only")
    text = render(weights, "Ties.", {})
    lowest, highest = text.split("lowest-weighted examples", 1)[1].split("highest-weighted examples", 1)
    assert "| 1 | 0 | no |" in lowest and "| 2 | 1 | yes |" in lowest
    assert "| 2 | 0 | no |" in highest and "| 3 | 1 | yes |" in highest


def test_training_data_tagged_original_alone_is_reported_by_noise_kind():
    weights = ExampleWeights(texts={"text": ["a", "b"]}, labels=np.array([0, 1]), label_names=["no", "yes"],
                             noise=["original", "original"], quality=np.array([0.9, 0.4]),
                             static=np.array([0.9, 0.4]), loss="quality_only")
    assert "## By noise kind" in render(weights, "No noise injected.", {})


def test_noisy_training_data_with_the_real_set_joined_is_reported_by_noise_kind():
    weights = ExampleWeights(texts={"text": ["a", "b", "c"]}, labels=np.array([0, 1, 0]), label_names=["no", "yes"],
                             noise=["swap", "original", "real"], quality=np.array([0.2, 0.9, 0.8]),
                             static=np.array([0.2, 0.9, np.nan]), loss="quality_only",
                             real=np.array([False, False, True]), real_weight=1.0)
    text = render(weights, "Swapped labels, the real set joined.", {})
    assert "## By noise kind" in text and "| swap | 1 |" in text and "| real | 1 |" in text


def test_a_text_pair_shares_a_rows_width():
    weights = ExampleWeights(texts={"text": ["first " * 40], "text_pair": ["second " * 40]}, labels=np.array([0]),
                             label_names=["no", "yes"], quality=np.array([0.5]), static=np.array([0.5]),
                             loss="quality_only")
    row = render(weights, "Pairs.", {}).split("## The 1 lowest-weighted examples", 1)[1].splitlines()[4]
    assert row.endswith(f"| {' '.join(['first'] * 13)}… | {' '.join(['second'] * 11)}… |")  # 80 characters each


def test_wandb_failure_is_logged_not_raised(caplog):
    class BrokenRun:
        def log(self, *args, **kwargs):
            raise ConnectionError("wandb.ai unreachable")

    with caplog.at_level(logging.WARNING):
        log_to_wandb(BrokenRun(), known_weights(), {})
    assert "could not log the example weights" in caplog.text


def test_wandb_gets_the_table_and_every_plot_and_no_table_wandb_cannot_hold(tmp_path, monkeypatch):
    import wandb

    class Run:
        def __init__(self):
            self.logged = []

        def log(self, values):
            self.logged.append(values)

    run = Run()
    write_weight_report(tmp_path, known_weights(), "Known weights.", wandb_run=run)
    assert sorted(run.logged[0]) == ["example_weights/table", "example_weights/weights_by_epoch",
                                     "example_weights/weights_by_label", "example_weights/weights_by_noise"]
    monkeypatch.setattr(wandb.Table, "MAX_ROWS", 60)  # known_weights() has 60 examples: a full table
    log_to_wandb(run, known_weights(), {})
    assert list(run.logged[1]) == ["example_weights/table"]
    monkeypatch.setattr(wandb.Table, "MAX_ROWS", 59)
    log_to_wandb(run, known_weights(), {})
    assert run.logged[2] == {}


def test_a_run_without_weights_says_so_and_draws_nothing(tmp_path):
    """Neither a checker nor a model-dependent loss: the report has no ranking, and weights.csv the examples."""
    weights = ExampleWeights(texts={"text": ["a", "b"]}, labels=np.array([0, 1]), label_names=["no", "yes"], loss="ce")
    report = write_weight_report(tmp_path, weights, "CE training.")
    assert "No weights: this run used neither a checker nor a model-dependent loss." in report.read_text()
    assert (tmp_path / "weights.csv").read_text().splitlines() == ["index,text,label,label_name", "0,a,0,no",
                                                                    "1,b,1,yes"]
    assert not list(tmp_path.glob("*.png"))


def test_a_histogram_of_many_groups_draws_the_largest_and_pools_the_rest():
    """200 labels would draw 200 bars a bin and a legend taller than the plot: the 9 largest groups, in their order,
    and one for the other 191."""
    groups = [(f"class_{i}", np.full(1 + (i % 7 == 3) * 5 + (i == 150) * 9, 0.5)) for i in range(200)]
    drawn = drawn_groups(groups)
    assert [name for name, _ in drawn] == [f"class_{i}" for i in (3, 10, 17, 24, 31, 38, 45, 52, 150)] + \
        ["the other 191"]
    assert sum(len(part) for _, part in drawn) == sum(len(part) for _, part in groups)
    assert drawn_groups(groups[:10]) == groups[:10]


@pytest.fixture
def drawn_histograms(monkeypatch) -> list[dict]:
    """What each histogram drawn hands matplotlib: its values, bins, bar weights, labels and x scale."""
    from matplotlib.axes import Axes

    drawn, hist, set_xscale = [], Axes.hist, Axes.set_xscale

    def recording_hist(ax, data, **kwargs):
        drawn.append({"data": data, **kwargs, "xscale": "linear"})
        return hist(ax, data, **kwargs)

    def recording_xscale(ax, scale, **kwargs):
        drawn[-1]["xscale"] = scale
        return set_xscale(ax, scale, **kwargs)

    monkeypatch.setattr(Axes, "hist", recording_hist)
    monkeypatch.setattr(Axes, "set_xscale", recording_xscale)
    return drawn


def test_a_histogram_draws_each_group_as_a_share_of_its_own_examples(tmp_path, drawn_histograms):
    """Probabilities on the whole of [0, 1]; a group's bars sum to 1 whatever its size; unset values left out; a
    group without examples is not drawn, and the others keep their colours, those of their places in the order."""
    values = np.array([0.2, 0.4, np.nan, 0.6, 0.9])
    path = histogram_by_group(values, ["a", "a", "a", "b", "a"], ["b", "c", "a"], "P′", "t", tmp_path / "h.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    (drawn,) = drawn_histograms
    assert drawn["xscale"] == "linear" and drawn["bins"][0] == 0 and drawn["bins"][-1] == 1 and len(drawn["bins"]) == 26
    assert [list(part) for part in drawn["data"]] == [[0.6], [0.2, 0.4, 0.9]]
    assert [sum(w) for w in drawn["weights"]] == pytest.approx([1, 1])
    assert drawn["label"] == ["b (n=1, mean 0.6)", "a (n=3, mean 0.5)"] and drawn["color"] == ["C0", "C2"]


def test_weights_spanning_more_than_a_hundredfold_are_drawn_on_a_log_scale_with_zeros_in_the_first_bin(
        tmp_path, drawn_histograms):
    histogram_by_group(np.array([0.0, 0.01, 0.5, 3.0]), ["a"] * 4, ["a"], "P′/Q", "t", tmp_path / "h.png")
    histogram_by_group(np.array([0.05, 0.5, 3.0]), ["a"] * 3, ["a"], "P′/Q", "t", tmp_path / "h.png")
    for zeros in ([0.0, 0.5, 1.0], [0.0, 0.0]):  # a zero is no span; nor is a single positive value, or none
        histogram_by_group(np.array(zeros), ["a"] * len(zeros), ["a"], "P′", "t", tmp_path / "h.png")
    histogram_by_group(np.array([2.0, 2.0]), ["a"] * 2, ["a"], "P′/Q", "t", tmp_path / "h.png")  # a single value
    log, linear, *with_zeros, constant = drawn_histograms
    assert [drawn["xscale"] for drawn in with_zeros] == ["linear", "linear"]
    assert constant["bins"][0] == 2 < constant["bins"][-1] and list(constant["data"][0]) == [2, 2]  # a visible bar
    assert log["xscale"] == "log" and log["bins"][0] == pytest.approx(0.01) and log["bins"][-1] == pytest.approx(3)
    assert len(log["bins"]) == 26  # as many bins as on a linear scale
    assert list(log["data"][0]) == pytest.approx([0.01, 0.01, 0.5, 3.0])  # the zero counted in the first bin
    assert linear["xscale"] == "linear" and linear["bins"][0] == pytest.approx(0.05)
    assert linear["bins"][-1] == pytest.approx(3)


@pytest.mark.parametrize("draw", ["histogram", "epochs"])
def test_a_plot_whose_save_fails_leaves_the_old_one_whole(tmp_path, savefig_fails_after_writing, draw):
    """A rerun into the same output_dir that stops while saving a plot keeps the last run's plot, not half of it."""
    from reports.plots import weights_by_epoch

    path = tmp_path / "plot.png"
    path.write_bytes(PNG_MAGIC + b"the last run's plot")
    with pytest.raises(OSError):
        if draw == "histogram":
            histogram_by_group(np.array([0.2, 0.6]), ["a", "b"], ["a", "b"], "P′", "t", path)
        else:
            weights_by_epoch({1: np.array([0.2, 0.6])}, {1: np.array([1.0, 0.5])}, "DIMP", path)
    assert path.read_bytes() == PNG_MAGIC + b"the last run's plot"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_the_epochs_plot_draws_each_epochs_quantiles_and_mean_of_the_values_it_has(tmp_path, monkeypatch):
    """Unset values (an example not seen, a real one at a fixed weight) are left out; weights spanning more than a
    hundredfold are drawn on a log scale, P(y|x; θ) here on a linear one."""
    from matplotlib.axes import Axes

    from reports.plots import weights_by_epoch

    calls: dict[Axes, list] = {}
    for name in ("plot", "fill_between", "set_yscale"):
        def recording(ax, *args, _name=name, _draw=getattr(Axes, name), **kwargs):
            calls.setdefault(ax, []).append((_name, *args))
            return _draw(ax, *args, **kwargs)

        monkeypatch.setattr(Axes, name, recording)
    weight = {1: np.array([0.01, 0.1, 1.0, 10.0, np.nan]), 2: np.array([0.5, 1.0, 2.0, 4.0, np.nan])}
    model_prob = {1: np.array([0.2, 0.4, 0.6, 0.8, np.nan]), 2: np.array([0.5, 0.6, 0.7, 0.9, np.nan])}
    weights_by_epoch(model_prob, weight, "DIMP", tmp_path / "e.png")
    assert len(calls) == 2  # the weights' axes, then P(y|x; θ)'s
    for (ax, drawn), series, scale in zip(calls.items(), (weight, model_prob), (["log"], [])):
        values = [series[e][:4] for e in (1, 2)]
        quantiles = np.array([np.quantile(v, [0.1, 0.25, 0.5, 0.75, 0.9]) for v in values])
        wide, narrow, median, mean = drawn[:4]
        assert wide[:2] == ("fill_between", [1, 2]) and narrow[:2] == ("fill_between", [1, 2])
        assert np.allclose(wide[2:], quantiles[:, [0, 4]].T) and np.allclose(narrow[2:], quantiles[:, [1, 3]].T)
        assert np.allclose(median[2], quantiles[:, 2]) and np.allclose(mean[2], [v.mean() for v in values])
        assert [call[1] for call in drawn[4:]] == scale
