"""weights_report.md: which training examples the checkers (and the loss) trust least and most, and why it matters."""

from __future__ import annotations

import re

import numpy as np

from reports.example_weights import ExampleWeights, Ranking, loss_name

SHOWN = 20  # examples in each of the lowest- and highest-weighted tables
TEXT_WIDTH = 160  # characters of text per table row (split between the columns of a text pair)
LOWEST_SHARE = 0.1  # "in the lowest-weighted 10%" in the noise table


CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds: fenced by a longer run of them."""
    text = str(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def cell(text: str, width: int = TEXT_WIDTH) -> str:
    """Text for a Markdown table cell: one line, at most `width` characters (cut at a word), `|` escaped, and `\\` and
    `<` outside code spans (inside one they show as written)."""
    text = " ".join(str(text).split())
    if len(text) > width:
        cut = text[: width - 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut[width // 2:] else cut) + "…"
    parts, at = [], 0
    for span in CODE_SPAN.finditer(text):
        parts += [_escaped(text[at:span.start()]), span.group(0).replace("|", "\\|")]
        at = span.end()
    return "".join([*parts, _escaped(text[at:])])


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table, one line per list item; header cells escaped, row values as given."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def _num(value: float) -> str:
    return "–" if value is None or np.isnan(value) else f"{value:.3g}"


def _mean(values: np.ndarray) -> str:
    """The mean of the values that are set (an example not seen in an epoch has none), or a dash."""
    values = values[~np.isnan(values)]
    return _num(values.mean()) if len(values) else "–"


def _stats_row(values: np.ndarray) -> list:
    values = values[~np.isnan(values)]
    if not len(values):
        return [0, "–", "–", "–", "–", "–", "–"]
    q10, q50, q90 = np.quantile(values, [0.1, 0.5, 0.9])
    return [len(values), _num(values.mean()), _num(values.min()), _num(q10), _num(q50), _num(q90), _num(values.max())]


def _summary(weights: ExampleWeights, ranking: Ranking) -> list[str]:
    header = ["", "examples", "mean", "min", "10%", "median", "90%", "max"]
    rows = [["**all**", *_stats_row(ranking.values)]]
    for label, name in enumerate(weights.label_names):
        rows.append([f"label {cell(name, 40)}", *_stats_row(ranking.values[weights.labels == label])])
    return table(header, rows)


def _noise_section(weights: ExampleWeights, ranking: Ranking) -> list[str]:
    tags = np.asarray(weights.noise)
    values = ranking.values
    seen = np.flatnonzero(~np.isnan(values))
    lowest = seen[np.argsort(values[seen], kind="stable")[: max(1, round(LOWEST_SHARE * len(seen)))]]
    in_lowest = np.zeros(len(values), dtype=bool)
    in_lowest[lowest] = True
    # P' and Q separately only where the ranking is their ratio.
    probs = [("mean P′", weights.quality), ("mean Q", weights.diversity)] if weights.diversity is not None else []
    header = ["noise", "examples", *[name for name, _ in probs], f"mean {ranking.name}",
              f"median {ranking.name}", f"in the lowest-weighted {LOWEST_SHARE:.0%}"]
    epochs = weights.epochs if ranking.column == "static_weight" else weights.epochs[:-1]
    header += [f"mean weight, epoch {e}" for e in epochs]
    rows = []
    for tag in weights.noise_kinds():
        mask = tags == tag
        row = [cell(tag, 30), int(mask.sum())]
        row += [_mean(p[mask]) for _, p in probs]
        ranked, count = values[mask & ~np.isnan(values)], int(in_lowest[mask].sum())
        # The real examples at a fixed weight are not ranked.
        row += [_num(ranked.mean()), _num(np.median(ranked)), f"{count} ({count / len(ranked):.0%})"] \
            if len(ranked) else ["–", "–", "–"]
        row += [_mean(weights.weight[e][mask]) for e in epochs]
        rows.append(row)
    real = weights.real if weights.real is not None else np.zeros(len(tags), dtype=bool)
    if real.any() and set(tags[~real]) == {"original"}:  # no noise kinds: the tags only tell the real set apart
        return ["## The training data and the real set joined to it", "",
                "The training data's own examples (`original`) beside the real examples joined to them (`real`).", "",
                *table(header, rows), ""]
    own = "`original`" if "original" in weights.noise_kinds() else "the data's own kinds"
    lowest_share = f"the lowest-weighted {LOWEST_SHARE:.0%} of the {len(seen)} examples"
    reading = (f"A checker that sees through the noise gives the injected kinds a lower {ranking.name} than {own}, "
               f"and puts them in {lowest_share}." if ranking.column == "static_weight" else
               f"{loss_name(weights.loss)}'s weight is lowest where the model already fits an example, so an injected "
               f"kind it has not fitted (swapped labels, mostly) shows a higher {ranking.name} than {own}, and fewer "
               f"of its examples in {lowest_share}.")
    return ["## By noise kind", "", f"The data tags each example with how it was made. {reading}", "",
            *table(header, rows), ""]


def _epochs_section(weights: ExampleWeights, plot: str) -> list[str]:
    header = ["epoch", "examples seen", "mean P(y|x; θ)", "mean weight", "10%", "median", "90%", "max"]
    rows = []
    for epoch in weights.epochs:
        stats = _stats_row(weights.without_fixed(weights.weight[epoch]))
        rows.append([epoch, stats[0], _mean(weights.without_fixed(weights.model_prob[epoch])), stats[1], *stats[3:]])
    fixed = (f" The {weights.fixed} real examples joined at the fixed weight {weights.real_weight:g} are left out."
             if weights.fixed else "")
    return ["## Across epochs", "",
            f"{loss_name(weights.loss)}'s weight depends on the model being trained, so it changes as the model "
            "learns. These are the values the loss used when it saw each example during that epoch "
            "(`model_prob_epoch*` and `weight_epoch*` in weights.csv); no extra pass over the data computes them."
            f"{fixed}", "",
            *table(header, rows), "", f"![Weights across epochs]({plot})", ""]


def _examples_table(weights: ExampleWeights, order: np.ndarray) -> list[str]:
    header = ["#", "index", "label"]
    if weights.quality_label is not None:
        header.append("checker's label")
    if weights.noise is not None:
        header.append("noise")
    columns = [("P′", weights.quality), ("Q", weights.diversity)]
    if weights.diversity is not None:
        columns.append(("P′/Q", weights.static))
    if weights.epochs:
        last = weights.epochs[-1]
        columns.append((f"weight, epoch {last}", weights.weight[last]))
    columns = [(name, values) for name, values in columns if values is not None]
    header += [name for name, _ in columns]
    if weights.kept is not None:
        header.append("kept")
    width = TEXT_WIDTH // len(weights.texts)
    header += list(weights.texts)
    rows = []
    for rank, i in enumerate(order, 1):
        row = [rank, i, cell(weights.label_names[weights.labels[i]], 30)]
        if weights.quality_label is not None:
            row.append(cell(weights.label_names[weights.quality_label[i]], 30))
        if weights.noise is not None:
            row.append(cell(weights.noise[i], 30))
        row += [_num(values[i]) for _, values in columns]
        if weights.kept is not None:
            row.append("yes" if weights.kept[i] else "**no**")
        row += [cell(texts[int(i)], width) for texts in weights.texts.values()]
        rows.append(row)
    return table(header, rows)


def render(weights: ExampleWeights, description: str, distributions: dict[str, str], epoch_plot: str | None = None,
           filtered: str | None = None) -> str:
    """The whole report. `distributions` maps what each histogram shows to its file name beside the report."""
    ranking = weights.ranking()
    lines = ["# Training-example weights", "", description, ""]
    if ranking is None:
        return "\n".join(lines + ["No weights: this run used neither a checker nor a model-dependent loss.", ""])
    values = ranking.values
    seen = np.flatnonzero(~np.isnan(values))
    ascending = seen[np.argsort(values[seen], kind="stable")]
    descending = seen[np.argsort(-values[seen], kind="stable")]
    lines += [f"Examples are ranked by **{ranking.name}**: {ranking.meaning}. `weights.csv` beside this report holds "
              f"every example ({len(weights)}) with all its values.", ""]
    if filtered:
        lines += [filtered, ""]
    lines += ["## Summary", "", *_summary(weights, ranking), ""]
    lines += [f"![{title}]({name})" for title, name in distributions.items()] + [""]
    if weights.noise is not None:
        lines += _noise_section(weights, ranking)
    if epoch_plot:
        lines += _epochs_section(weights, epoch_plot)
    count = min(SHOWN, len(seen))
    lines += [f"## The {count} lowest-weighted examples", "", *_examples_table(weights, ascending[:count]), ""]
    lines += [f"## The {count} highest-weighted examples", "", *_examples_table(weights, descending[:count]),
              ""]
    return "\n".join(lines)
