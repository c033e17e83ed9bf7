"""OUTPUT_DIR/README.md: a Hugging Face model card for the trained model. The Trainer's own summary gives the
metadata it can infer, the hyperparameters, the per-epoch results and the framework versions; this project adds
what only it knows: the data and the real set, the method and its weights in plain words, the checkers, the
validation and test metrics, and how to reproduce the run."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path

import numpy as np
import yaml
from transformers.modelcard import TrainingSummary, parse_log_history

from checkers.for_task import CheckerOutput, dataset_label
from config.loading import RunConfig
from data.files import SHOWN_LABELS, as_configured
from data.store import column_array
from data.sources import quality_held_out_of_train
from data.task import TaskData, real_examples
from references.models import is_local_path
from references.wandb_refs import names_artifact
from reports.example_weights import ExampleWeights, loss_name
from reports.markdown import cell, code, table
from trainer.metrics import majority_accuracy
from trainer.modeling import pair_separator

CARD_FILE = "README.md"
PAPER = "Kuo et al., *Not All LLM-Generated Data Are Equal: Rethinking Data Weighting in Text Classification*, ICLR 2025"
LOW_WEIGHT = 0.5

# What each loss does to an example's cross-entropy, for a reader who has not read the paper.
METHODS = {
    "ce": "plain cross-entropy: every training example counts the same.",
    "focal": "Focal loss: each example's cross-entropy is multiplied by (1 − P(y|x; θ))^γ, γ = {gamma}, where P is "
             "the model's own current probability of the example's label: examples the model already gets right "
             "count less.",
    "imp": "IMP-Loss: each example's cross-entropy is multiplied by P′(y|x) / Q(y|x), fixed before training. P′ is "
           "the quality checker's probability of the example's label (a classifier fine-tuned on real examples), "
           "Q the diversity checker's (fine-tuned on the generated data): examples that real data makes unlikely "
           "count less, examples unlike the rest of the generated data count more.",
    "dimp": "DIMP-Loss: each example's cross-entropy is multiplied by P′(y|x) / P(y|x; θ), recomputed at every "
            "training step. P′ is the quality checker's probability of the example's label (a classifier "
            "fine-tuned on real examples), P the model's own current probability: examples that real data makes "
            "unlikely count less, and so do those the model already fits.",
    "quality_only": "DIMP-Loss without diversity checker: each example's cross-entropy is multiplied by P′(y|x), "
                    "the quality checker's probability of the example's label (a classifier fine-tuned on real "
                    "examples): examples that real data makes unlikely count less.",
}


def write_model_card(trainer, cfg: RunConfig, task: TaskData, metrics: dict, weights: ExampleWeights | None,
                     checkers: dict[str, CheckerOutput]) -> None:
    """Write the card through the trainer, which writes it again, unchanged, when it pushes to the hub."""
    trainer.model_card = model_card(trainer, cfg, task, metrics, weights, checkers)
    trainer.create_model_card()


def model_card(trainer, cfg: RunConfig, task: TaskData, metrics: dict, weights: ExampleWeights | None,
               checkers: dict[str, CheckerOutput]) -> str:
    args = cfg.training
    name = (args.hub_model_id or Path(args.output_dir).resolve().name).split("/")[-1]
    kind = args.loss_kind.value
    summary = TrainingSummary.from_trainer(trainer, model_name=name, tasks="text-classification",
                                           tags=["text-classification", f"{kind.replace('_', '-')}-loss"],
                                           dataset=[cfg.data.dataset_name] if cfg.data.dataset_name else None)
    summary.eval_lines = parse_log_history(_history_for_table(trainer.state.log_history))[1]
    metadata = summary.create_metadata()
    base = _base_model(cfg, checkers)
    on_hub = not (names_artifact(base, cfg.model.use_wandb_model) or is_local_path(base))
    metadata = {"library_name": "transformers", **({"base_model": base} if on_hub else {}), **metadata,
                "pipeline_tag": "text-classification", "model-index": _model_index(name, cfg, task, metrics)}
    if cfg.data.dataset_name:
        metadata["datasets"] = [cfg.data.dataset_name]
    procedure = summary.to_model_card().split("\n## Training procedure\n", 1)[1]
    if trainer.first_phase is not None:  # the summary is of the trainer it is given: the fine-tuning's
        procedure = procedure.replace("were used during training:", "were used during the fine-tuning on the real "
                                      "set (`real_set_finetune_epochs`; the weighted training's are in "
                                      "`resolved_config.json`):", 1)
    sections = [
        _introduction(name, cfg, task, metrics, base, on_hub),
        _usage(cfg, task, trainer.processing_class),
        _data(cfg, task, metrics, weights),
        _method(cfg, weights, metrics),
        _checkers(checkers),
        _results(trainer, cfg, task, metrics),
        _reproduce(cfg),
        "## Training procedure\n" + procedure.rstrip() + "\n",
    ]
    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n" + "\n".join(sections)


def _history_for_table(log_history: list[dict]) -> list[dict]:
    """The log as the Trainer's per-epoch table can read it. That table takes its columns from the first row and each
    row's values in their own order, but a resumed run's log holds the entries read back from the checkpoint (keys
    sorted) before the new ones; it ends at the first end-of-training entry, which a fine-tuning on the real set
    follows; and it reads only entries with an `eval_loss`, which track_test_each_epoch names `eval_validation_loss`
    (its test entries, `eval_test_*`, stay out of the table: the card shows the history the model was selected on).
    So keys are sorted, only the last end-of-training entry is kept, and the validation entries are renamed."""
    ends = [i for i, entry in enumerate(log_history) if "train_runtime" in entry]
    return [dict(sorted((key.replace("eval_validation_", "eval_", 1), value) for key, value in entry.items()))
            for i, entry in enumerate(log_history) if "train_runtime" not in entry or i == ends[-1]]


def _evaluated_splits(task: TaskData, metrics: dict) -> list[tuple[str, str]]:
    """(split, metric prefix) of every split with metrics: validation, then the test splits."""
    splits = [("validation", "eval")] + [(name, name) for name in sorted(task.splits) if name.startswith("test")]
    return [(split, prefix) for split, prefix in splits if f"{prefix}_accuracy" in metrics]


def _model_index(name: str, cfg: RunConfig, task: TaskData, metrics: dict) -> list[dict]:
    results = []
    for split, prefix in _evaluated_splits(task, metrics):
        # The data the split's metrics are on (mrpc for MRPC's test split), not the generated training data's.
        dataset = {"name": as_configured(task.origins.get(split, split)),
                   "type": cfg.data.dataset_name or dataset_label(cfg, task, split), "split": split}
        if cfg.data.dataset_config_name:
            dataset["config"] = cfg.data.dataset_config_name
        results.append({
            "task": {"type": "text-classification", "name": "Text Classification"},
            "dataset": dataset,
            "metrics": [{"type": "accuracy", "value": round(metrics[f"{prefix}_accuracy"], 4), "name": "Accuracy"},
                        {"type": "f1", "value": round(metrics[f"{prefix}_f1"], 4), "name": "Macro F1",
                         "args": {"average": "macro"}}],
        })
    return [{"name": name, "results": results}]


def label_list(names: list[str], shown: int = SHOWN_LABELS) -> str:
    """The labels for the card's first line: all of them, or the first `shown` of a long list."""
    listed = ", ".join(code(label) for label in names[:shown])
    more = len(names) - shown
    return listed if more <= 0 else f"{listed} and {more} more (config.json's `id2label` names them all)"


def _base_model(cfg: RunConfig, checkers: dict[str, CheckerOutput]) -> str:
    """The model the trained weights descend from: with init_from_quality_checker, the quality checker's own base as
    its recipe records it (the checker itself where none does), which need not be model_name_or_path."""
    if not cfg.model.init_from_quality_checker:
        return cfg.model.model_name_or_path
    quality = checkers["quality"]
    return str((quality.recipes[0] or {}).get("base_model") or quality.sources[0].location)


def _introduction(name: str, cfg: RunConfig, task: TaskData, metrics: dict, base: str, on_hub: bool) -> str:
    base = f"[{base}](https://huggingface.co/{base})" if on_hub else f"`{base}`"
    text = (f"# {name}\n\nA text classifier ({task.num_labels} labels: {label_list(task.label_names)}; input: "
            f"{' + '.join(code(c) for c in task.text_columns)}) fine-tuned from {base} with "
            f"{loss_name(cfg.training.loss_kind.value)} loss ({PAPER}).")
    if "test_accuracy" in metrics:
        text += f" Test accuracy {metrics['test_accuracy']:.4f}, macro-F1 {metrics['test_f1']:.4f}."
    return text + "\n"


def _usage(cfg: RunConfig, task: TaskData, tokenizer) -> str:
    where = cfg.training.hub_model_id or cfg.training.output_dir
    separator = pair_separator(tokenizer, task.text_columns)
    # A pipeline's text_pair reaches the tokenizer as it is; where it would join the two end to end, the model read
    # each pair as one text with its separator between them (trainer.modeling.encode), so the example does that.
    example = (json.dumps(f"first text{separator}second text") if separator
               else '{"text": "first text", "text_pair": "second text"}' if len(task.text_columns) == 2
               else '"a text to label"')
    # Cut where training cut the texts: a pipeline would read up to the model's limit, or fail past it.
    limit = min(cfg.data.max_seq_length, tokenizer.model_max_length)
    return ("## How to use\n\n```python\nfrom transformers import pipeline\n\n"
            f'classifier = pipeline("text-classification", model={json.dumps(where, ensure_ascii=False)})\n'
            f"# every label with its probability; the text cut at {limit} tokens, as in training\n"
            f"classifier({example}, top_k=None, truncation=True, max_length={limit})\n```\n\n"
            "A file of texts (csv, tsv, jsonl or one text per line), with the reference implementation's "
            f"`predict.py`; where the file also holds a `{cfg.data.label_column_name}` column, the predictions are "
            f"scored against it:\n\n```bash\npython predict.py --model {shlex.quote(where)} --input texts.csv --output "
            "predictions.csv\n```\n")


def _data(cfg: RunConfig, task: TaskData, metrics: dict, weights: ExampleWeights | None) -> str:
    splits, origins = task.splits, {name: as_configured(origin) for name, origin in task.origins.items()}
    train = splits["train"]
    real = real_examples(train)
    rows = [["training data", (~real).sum(), task.training_files()]]
    if real.any():
        rows.append(["real examples joined to it (`real_set_in_training`)", real.sum(), origins.get("quality_train")])
    if "quality_train" in splits:
        rows.append(["real set for the quality checker (`quality_checker_train_file`)", len(splits["quality_train"]),
                     origins.get("quality_train", cfg.checkers.quality_checker_train_file)])
    for name in ["validation"] + sorted(n for n in splits if n.startswith("test")):
        if name in splits:
            rows.append([f"{name} split", len(splits[name]), origins.get(name, name)])
    kept = weights.kept if weights is not None and weights.kept is not None else np.ones(len(train), dtype=bool)
    labels = np.bincount(column_array(train, "label")[kept], minlength=task.num_labels)  # what the model trained on
    text = ("## Training and evaluation data\n\n" + _table(["", "examples", "from"], rows) + "\n\nRelative paths are "
            "looked up as in a config: in the data root (`$DIMP_DATA_ROOT`, by default `../shared/data` beside the "
            "repository), then in the working directory. Labels of the training data"
            + (" and the real examples joined to it" if real.any() else "")
            + (" that the filtering kept" if not kept.all() else "") + ": "
            + ", ".join(f"{code(n)} {c}" for n, c in zip(task.label_names, labels)) + ".")
    text += _training_data_made(cfg, task)
    if task.validation_split:
        held = task.validation_split
        text += (f" There was no validation file: the validation split is {held['validation_examples']} examples "
                 f"held out of the real set (`real_validation_fraction` {held['real_validation_fraction']}, "
                 f"stratified by label, `split_seed` {held['split_seed']}); neither the quality checker nor the "
                 "model trained on them.")
    for key, what in (("train_filtered_out", "dropped by the checkers' static-weight filter"),
                      ("train_label_issues_dropped", "dropped as label issues (cleanlab)")):
        if key in metrics:
            text += f" {metrics[key]} training examples were {what} before training."
    return text + "\n"


def _training_data_made(cfg: RunConfig, task: TaskData) -> str:
    """Why the training data's count is not its files' lines: the real set held out of it, a sample, noise."""
    data, text = cfg.data, ""
    if quality_held_out_of_train(data, cfg.checkers):
        text += (f" The real set is {len(task.splits['quality_train'])} examples held out of the training file, "
                 "which the training data no longer holds.")
    if data.max_train_samples:
        text += f" The training data is a seeded sample of at most `max_train_samples` {data.max_train_samples}."
    if data.noise_duplicate_ratio or data.noise_swap_ratio or data.noise_unrelated_ratio:
        made = Counter(task.splits["train"]["noise"])
        text += (f" Noise was injected into it (`noise_seed` {data.noise_seed}): {made['duplicate']} duplicated, "
                 f"{made['swap']} with a label swapped and {made['unrelated']} unrelated examples.")
    return text


def _weight_rows(cfg: RunConfig, weights: ExampleWeights | None) -> list[list]:
    if weights is None:
        return []
    kind = cfg.training.loss_kind.value
    rows = []
    if weights.static is not None:
        what = {"imp": "weight P′/Q (fixed)", "quality_only": "weight P′ (fixed)"}.get(
            kind, "P′/Q (the checkers' factor)" if weights.diversity is not None else "P′ (the quality checker's factor)")
        rows.append([what, weights.static])
        # by label too: a checker that has not learnt a class weighs it all down
        if len(weights.label_names) <= SHOWN_LABELS:
            rows += [[f"{what}, label {code(name)}", weights.static[weights.labels == i]]
                     for i, name in enumerate(weights.label_names)]
    rows += [[f"weight, epoch {epoch}", weights.without_fixed(weights.weight[epoch])] for epoch in weights.epochs]
    table = []
    for what, values in rows:
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        if len(values):
            table.append([what, len(values), f"{values.mean():.3g}", f"{values.min():.3g}", f"{values.max():.3g}",
                          int((values < LOW_WEIGHT).sum())])
    return table


def _method(cfg: RunConfig, weights: ExampleWeights | None, metrics: dict) -> str:
    args = cfg.training
    text = "## Method and weights\n\n" + METHODS[args.loss_kind.value].format(gamma=args.focal_gamma)
    if args.loss_kind.value != "ce":
        text += " The loss is the batch mean of weight × cross-entropy; weights are not normalised."
    if args.label_smoothing_factor:
        text += f" The cross-entropy was label-smoothed (`label_smoothing_factor` {args.label_smoothing_factor:g})."
    folds = cfg.checkers.quality_checker_folds
    if folds >= 2 and weights is not None and weights.quality is not None:
        text += (f" P′ is cross-fitted (`quality_checker_folds` {folds}): {folds} quality checkers, each trained on "
                 "the other folds of the real set; a generated example's P′ is their mean, a real example's that of "
                 "the one that did not train on it.")
    if cfg.data.real_set_in_training:
        text += (f" The real examples joined to the training data all had weight {args.real_set_weight:g}."
                 if args.real_set_weight is not None else
                 " The real examples joined to the training data were weighted as the others (`real_set_weight` null).")
    temperatures = [f"{role} {metrics[key]:.3g}" for role in ("quality", "diversity")
                    if (key := f"{role}_checker_temperature") in metrics]
    if temperatures:
        text += (" Each checker's logits were divided by a temperature fitted on held-out real data "
                 f"(`checker_calibration`): {', '.join(temperatures)}.")
    if cfg.model.init_from_quality_checker:
        text += " Training started from the quality checker's weights (`init_from_quality_checker`)."
    rows = _weight_rows(cfg, weights)
    if rows:
        text += ("\n\nThe weights over the training examples (`weights.csv` and `weights_report.md` beside the model "
                 "list each example's):\n\n" + _table(["", "examples", "mean", "min", "max",
                                                        f"below {LOW_WEIGHT}"], rows))
    return text + "\n"


def _checkers(checkers: dict[str, CheckerOutput]) -> str:
    if not checkers:
        return "## Checkers\n\nNone: this loss weights no example by a checker.\n"
    lines = ["## Checkers\n"]
    for role, output in sorted(checkers.items()):
        for source, made in zip(output.sources, output.recipes):
            lines.append(f"- {role} checker `{source.location}`{_recipe(made or {})}.")
    return "\n".join(lines) + "\n"


def _recipe(made: dict) -> str:
    """How a checker was trained, from what its recipe file recorded; an entry missing or of another type (a file
    edited by hand) is left out."""
    def number(key, within=made):
        value = within.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    epochs, examples, metrics = number("num_train_epochs"), number("train_examples"), made.get("validation_metrics")
    if epochs is None or examples is None:
        return ""
    text = (f": `{made.get('base_model')}` fine-tuned with CE on {examples} examples of "
            f"`{as_configured(str(made.get('train_source')))}` (`num_train_epochs` {epochs:g}")
    metrics = metrics if isinstance(metrics, dict) else {}
    kept = number("epoch", metrics)
    if kept is not None and kept < epochs:  # ties keep the earliest epoch
        text += f"; epoch {kept:g} kept, the first of its best validation accuracy"
    text += ")"
    accuracy, majority = number("eval_accuracy", metrics), number("validation_majority_accuracy")
    if accuracy is not None:
        text += (f"; validation accuracy {accuracy:.4f} (always answering the most common label: "
                 f"{majority if majority is not None else float('nan'):.4f})")
    return text


def _results(trainer, cfg: RunConfig, task: TaskData, metrics: dict) -> str:
    rows = [[split, len(task.splits[split]), f"{metrics[f'{prefix}_accuracy']:.4f}", f"{metrics[f'{prefix}_f1']:.4f}",
             f"{majority_accuracy(column_array(task.splits[split], 'label')):.4f}"]
            for split, prefix in _evaluated_splits(task, metrics)]
    header = ["split", "examples", "accuracy", "macro-F1", "majority-class accuracy"]
    text = "## Results\n\n" + (_table(header, rows) if rows else "No validation or test split was evaluated.")
    by_class = [[split, name, metrics[f"{prefix}_examples_{name}"],
                 *(f"{metrics[key]:.4f}" if (key := f"{prefix}_{metric}_{name}") in metrics else "–"
                   for metric in ("precision", "recall", "f1"))]
                for split, prefix in _evaluated_splits(task, metrics) for name in task.label_names
                if f"{prefix}_examples_{name}" in metrics]
    if by_class:
        text += "\n\nBy class:\n\n" + _table(["split", "label", "examples", "precision", "recall", "F1"], by_class)
    # the run's own arguments: a test split tracked each epoch renames the trainer's metric_for_best_model
    args, state, first, epochs = cfg.training, trainer.state, trainer.first_phase, trainer.args.num_train_epochs
    if first is None:
        kept, stopped = _kept(args, state, state.log_history, epochs, "training")
        return text + f"\n\nThe model is {kept}." + (f" {stopped[0].upper()}{stopped[1:]}." if stopped else "") + "\n"
    # fine-tuned on the real set: the history holds both phases, the second's epochs and steps after the first's
    kept, stopped = _kept(args, first, first.log_history, args.num_train_epochs, "weighted training")
    text += f"\n\nWeighted training's model was {kept}" + (f"; {stopped}." if stopped else ".")
    kept, stopped = _kept(args, state, state.log_history, epochs, "the fine-tuning", trainer.epoch_offset)
    return (text + f" Then {epochs:g} epoch(s) of CE on the real set fine-tuned that model "
            f"(`real_set_finetune_epochs`): the model is {kept}" + (f"; {stopped}." if stopped else ".") + "\n")


def _kept(args, state, history: list[dict], epochs: float, phase: str, epoch_offset: int = 0) -> tuple[str, str | None]:
    """What one training phase of `epochs` ended with, and how early stopping ended the phase (None if it did not).
    Its state and `history` number epochs and steps after those of an earlier phase (`epoch_offset` epochs)."""
    last, end = state.epoch, state.global_step
    if args.average_checkpoints:
        kept = "the mean of its weights at the end of every epoch (`average_checkpoints`)"
    # reloaded only from a checkpoint still there: a resume of a checkpoint whose run's best one is gone keeps the last
    elif args.load_best_model_at_end and state.best_global_step and state.best_model_checkpoint:
        # the entries of that step before the end of training: the final evaluation's, after it, may share its step
        best = state.best_global_step
        ends = [i for i, entry in enumerate(history) if "train_runtime" in entry]
        epoch = next((entry["epoch"] for entry in reversed(history[:ends[-1]] if ends else history)
                      if entry.get("step") == best), None)
        kept = (f"the checkpoint{f' of {_when(epoch, best)}' if epoch is not None else ''}, the best validation "
                f"`{args.metric_for_best_model}` ({state.best_metric:.4f})")
    else:
        kept = (f"that of the last epoch ({last:g})" if float(last).is_integer()
                else f"that of the last step ({end}, epoch {last:.2f})")
    own = f" (its own epoch {last - epoch_offset:g} of {epochs:g})" if epoch_offset else ""  # numbered after a phase
    stopped = (f"early stopping (patience {args.early_stopping_patience}) ended {phase} after "
               f"{_when(last, end, epoch_offset + epochs)}{own}"
               if args.early_stopping_patience and state.epoch - epoch_offset < epochs else None)
    return kept, stopped


def _when(epoch: float, step: int, of: float | None = None) -> str:
    """An epoch; or a step and its epoch, for a model from mid-epoch (evaluation by steps, max_steps)."""
    total = f" of {of:g}" if of is not None else ""
    return f"epoch {epoch:g}{total}" if float(epoch).is_integer() else f"step {step} (epoch {epoch:.2f}{total})"


def _reproduce(cfg: RunConfig) -> str:
    """The command and settings that train this model again; a resume's option stays out, as it would continue
    the run in output_dir (or fail where there is none) rather than train the model anew."""
    text = "## Reproduce\n\n"
    if cfg.command:
        text += f"```bash\n{shlex.join(_without_resume(_without_tokens(cfg.command)))}\n```\n\n"
    settings = {key: value for key, value in cfg.non_default().items() if key != "resume_from_checkpoint"}
    text += ("The settings that differ from the defaults, as a config file (`python run.py config.json`); "
             "`resolved_config.json` beside the model holds every setting:\n\n"
             f"```json\n{json.dumps(settings, indent=2, default=str)}\n```\n")
    return text


def _without_resume(command: list[str]) -> list[str]:
    """The command without `--resume_from_checkpoint` and its value (none where the option is a bare flag)."""
    kept, skip_value = [], False
    for word in command:
        if skip_value and not word.startswith("--"):
            skip_value = False
            continue
        skip_value = word == "--resume_from_checkpoint"
        if not (skip_value or word.startswith("--resume_from_checkpoint=")):
            kept.append(word)
    return kept


def _table(header: list[str], rows: list[list]) -> str:
    return "\n".join(table(header, [[cell(str(v)) for v in row] for row in rows]))


def _without_tokens(command: list[str]) -> list[str]:
    """The command with the value of every `--*_token` option hidden: a card is meant to be published."""
    shown, hide_next = [], False
    for word in command:
        key, eq, _ = word.partition("=")
        secret = key.startswith("--") and key.endswith("_token")
        shown.append("<hidden>" if hide_next else f"{key}=<hidden>" if secret and eq else word)
        hide_next = secret and not eq
    return shown
