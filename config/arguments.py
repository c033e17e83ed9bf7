"""Argument dataclasses. One JSON config fills all of them (HfArgumentParser), as in the
authors' `run.py`; keys are flat, so a key belongs to whichever dataclass declares it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments
from transformers.training_args import trainer_log_levels

from config.ranges import RangeError, check_ranges
from losses.weighting import DEFAULT_EPSILON, PROBLEM_TYPES, LossKind, loss_kind

# Each loss's weight, for problem_type's help (the authors' names beside ours).
LOSS_WEIGHTS = {
    LossKind.CE: "CE, w = 1",
    LossKind.FOCAL: "Focal, w = (1 - P)^focal_gamma",
    LossKind.IMP: "IMP, w = P'/Q",
    LossKind.DIMP: "DIMP, w = P'/P, P the model being trained",
    LossKind.QUALITY_ONLY: "DIMP without diversity checker, w = P'",
}


def text_column_list(value: str | None) -> list[str] | None:
    """text_column_names' columns: names separated by commas (a JSON list is refused, not read as one name)."""
    if not value:
        return None
    if value.lstrip().startswith("["):
        raise ValueError(f"text_column_names: expected column names separated by commas (a,b), got {value!r}")
    return [name.strip() for name in value.split(",") if name.strip()]


def check_text_columns(value: str | None) -> None:
    columns = text_column_list(value) or []
    if len(columns) > 2 or len(set(columns)) != len(columns):
        raise ValueError(f"text_column_names: expected one text column or two different ones (a text and its pair), "
                         f"got {value!r}")


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="sentence-transformers/all-MiniLM-L6-v2",
        metadata={"help": "Local folder, Hugging Face hub id, or (with use_wandb_model) a W&B artifact reference."},
    )
    config_name: str | None = field(
        default=None, metadata={"help": "Not supported (null): the model's own config is used. Kept because the "
                                "authors' configs set it null."})
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Not supported (null): the model's own tokenizer is used. Kept because the "
                                "authors' configs set it null."})
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where the model's and the checkers' hub downloads are cached, and looked for "
                                "when the hub is unreachable. Default: the hub's own cache."}
    )
    use_fast_tokenizer: bool = field(default=True, metadata={"help": "Use a fast (Rust) tokenizer."})
    model_revision: str = field(default="main", metadata={"help": "Hub revision: branch, tag or commit."})
    ignore_mismatched_sizes: bool = field(
        default=False, metadata={"help": "Load a checkpoint whose classification head has another size, drawing a "
                                "new head (for the checkers built from it too)."}
    )
    use_wandb_model: bool = field(
        default=False, metadata={"help": "Treat model_name_or_path as a W&B artifact reference."}
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Run Python code that ships with a model or checker. Off unless you trust it."}
    )
    allow_pickle_checkpoints: bool = field(
        default=False,
        metadata={"help": "Allow loading models or checkers stored only as pickle (.bin) files. Off: safetensors only."},
    )
    init_from_quality_checker: bool = field(
        default=False,
        metadata={"help": "Start training from the quality checker (CE on the real set), its weights and tokenizer, "
                  "instead of model_name_or_path, which then only names the checkers' base model."},
    )


@dataclass
class DataArguments:
    train_file: str | None = field(default=None, metadata={
        "help": "Training data (jsonl, json, csv, tsv or parquet; the text formats may be compressed: .gz, .bz2, "
                ".xz)."})
    validation_file: str | None = field(default=None, metadata={"help": "Validation data, evaluated each epoch."})
    test_file: str | None = field(default=None, metadata={"help": "Test data, evaluated once at the end."})
    augmented_train_file: str | None = field(
        default=None, metadata={"help": "Extra training data appended to train_file."}
    )
    split_file: str | None = field(
        default=None, metadata={"help": "One labelled file split into train/validation/test (stratified, seeded), "
                                "for data with no official split; instead of train_file/validation_file/test_file."}
    )
    split_ratios: str = field(default="0.7,0.1,0.2", metadata={"help": "train,validation,test fractions for split_file."})
    split_seed: int = field(
        default=0, metadata={"help": "Seed of the split_file split and of the real set's split (real_validation_fraction)."}
    )
    dataset_name: str | None = field(default=None, metadata={"help": "A dataset on the Hugging Face hub."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "The hub dataset's configuration."})
    use_wandb_dataset: bool = field(default=False, metadata={"help": "Read the data from the wandb_dataset artifact."})
    wandb_dataset: str | None = field(
        default=None, metadata={"help": "W&B artifact 'entity/project/name:version' holding train/validation/test files."}
    )
    wandb_augmented_dataset: str | None = field(
        default=None, metadata={"help": "W&B artifact whose training file is appended to the training data."}
    )
    wandb_generalization_dataset: str | None = field(
        default=None, metadata={"help": "W&B artifact whose files are extra test sets."}
    )
    text_column_names: str | None = field(
        default=None,
        metadata={"help": "Comma-separated text column(s). Default: the first two non-label columns, as the authors do."},
    )
    label_column_name: str = field(default="label", metadata={"help": "The label column."})
    max_seq_length: int = field(
        default=128,
        metadata={"help": "Longer inputs are truncated to this many tokens (at most what the model reads)."})
    pad_to_max_length: bool = field(
        default=False,
        metadata={"help": "Pad every input to max_seq_length (the authors' way). Off: pad each batch to its longest."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use a random subset of this many training examples."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use the first this-many validation examples."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Use the first this-many test examples."})
    noise_duplicate_ratio: float = field(
        default=0.0, metadata={"help": "Add this fraction of the training set again as duplicates (tag 'duplicate')."}
    )
    noise_swap_ratio: float = field(
        default=0.0, metadata={"help": "Give this fraction of training examples another label (tag 'swap')."}
    )
    noise_unrelated_ratio: float = field(
        default=0.0, metadata={"help": "Add this fraction of examples from noise_unrelated_file, random labels (tag 'unrelated')."}
    )
    noise_unrelated_file: str | None = field(default=None, metadata={"help": "Another benchmark's data, for unrelated examples."})
    noise_seed: int = field(default=0, metadata={"help": "Seed of the noise injection."})
    real_set_in_training: bool = field(
        default=False,
        metadata={"help": "Train on the quality checker's real examples too, appended to the (generated) training "
                  "data after subsampling and noise; their loss weight is real_set_weight. Needs "
                  "quality_checker_train_file."},
    )
    real_validation_fraction: float = field(
        default=0.2,
        metadata={"help": "Without a validation split (no validation_file, split_file or hub/W&B dataset), this "
                  "fraction of the real set (quality_checker_train_file) is held out, stratified by label and seeded "
                  "by split_seed, to score every epoch (and pick the best, with load_best_model_at_end): neither the "
                  "quality checker nor the model trains on it; beside a validation split, unused (the log says so). "
                  "0: no validation split."},
    )
    data_work_dir: str | None = field(
        default=None,
        metadata={"help": "Where the run keeps its data as memory-mapped Arrow files (read, tokenized), in a new "
                  "folder removed when the run ends; about twice the size of the data files. Default: the system's "
                  "temporary folder ($TMPDIR)."},
    )
    name: str | None = field(default=None, metadata={"help": "W&B run name (run_name, where given, wins), and the name "
                                                             "of the model artifact save_model logs."})
    save_model: bool = field(
        default=False,
        metadata={"help": "Log the trained model as a W&B artifact (output_dir without its checkpoints)."})

    def __post_init__(self):
        check_ranges(self)
        check_text_columns(self.text_column_names)
        ratios = self.split_fractions
        if len(ratios) != 3 or any(not 0 <= r <= 1 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
            raise ValueError(f"split_ratios: expected three fractions in [0, 1] summing to 1, got {self.split_ratios!r}")

    @property
    def split_fractions(self) -> list[float]:
        try:
            return [float(part) for part in self.split_ratios.split(",")]
        except ValueError:
            raise ValueError(f"split_ratios: expected comma-separated numbers, got {self.split_ratios!r}") from None

    @property
    def text_columns(self) -> list[str] | None:
        return text_column_list(self.text_column_names)

    @property
    def reads_wandb_dataset(self) -> bool:
        """Whether the splits come from the wandb_dataset artifact: when asked, or when no train_file is given;
        train_file, validation_file and test_file then name files inside it."""
        return self.use_wandb_dataset or bool(self.wandb_dataset and not self.train_file)


@dataclass
class CheckerArguments:
    quality_checker_model: str | None = field(
        default=None,
        metadata={"help": "Quality checker P': local folder, hub id, or W&B artifact 'entity/project/name:version'. "
                  "If it does not exist and quality_checker_train_file is set, it is trained there and cached. "
                  "Without a config file: ./cache/checkers/quality-checker_<real file's folder>-<its name>_"
                  "<checker_base_model's or the model's name> (+ _warm with quality_checker_warm_start, + _folds3 with "
                  "quality_checker_folds 3, + _e20, "
                  "_lr0.0001, _bs16 for a checker_num_train_epochs, checker_learning_rate or checker_batch_size "
                  "other than the recommended one)."},
    )
    diversity_checker_model: str | None = field(
        default=None,
        metadata={"help": "Diversity checker Q (IMP): like quality_checker_model; built by CE on the training data. "
                  "Without a config file: ./cache/checkers/diversity-checker_<training file's folder>-<its name>_"
                  "<checker_base_model's or the model's name> (+ _e20, _lr0.0001, _bs16 as for "
                  "quality_checker_model)."},
    )
    quality_checker_train_file: str | None = field(
        default=None, metadata={"help": "The small real labelled set the quality checker is trained on (never the test "
                                "split). If it is the training file itself (train_file or split_file), the checker's "
                                "examples are held out of the training data: quality_checker_max_train_samples of "
                                "them, by default a tenth."}
    )
    quality_checker_validation_file: str | None = field(
        default=None, metadata={"help": "Real held-out data to pick the quality checker's best epoch. Default: the "
                                "run's validation split (validation_file, or the part held out of the real set)."}
    )
    quality_checker_max_train_samples: int | None = field(
        default=None, metadata={"help": "At most this many real examples (a seeded random sample) for the quality "
                                        "checker, and for real_set_in_training. Default: all of them (a tenth of "
                                        "the training file, when it is the real set too)."}
    )
    checker_base_model: str | None = field(
        default=None, metadata={"help": "Model a checker is fine-tuned from when built. Default: model_name_or_path."}
    )
    quality_checker_warm_start: bool = field(
        default=False,
        metadata={"help": "Build the quality checker by fine-tuning the diversity checker (CE on the generated data) "
                  "on the real set, instead of checker_base_model: it starts knowing the task's form. Needs "
                  "diversity_checker_model (built there when missing)."},
    )
    quality_checker_folds: int = field(
        default=1,
        metadata={"help": "Cross-fitting: split the real set into this many folds (stratified, seeded) and build one "
                  "quality checker per fold on the others. P' of a generated example is the mean of the fold "
                  "checkers'; P' of a real example comes from the checker that did not train on it. 1: one checker."},
    )
    checker_calibration: str = field(
        default="none",
        metadata={"help": "'temperature': rescale each checker's logits by one temperature fitted on held-out real "
                  "data (the real examples each fold checker did not see with quality_checker_folds > 1, else the "
                  "validation split), so P' and Q are equally sure of themselves. 'none': as trained."},
    )
    checker_num_train_epochs: float = field(default=5.0, metadata={"help": "Epochs when building a checker."})
    diversity_checker_num_train_epochs: float | None = field(
        default=None, metadata={"help": "Epochs when building the diversity checker. Default: checker_num_train_epochs."}
    )
    checker_learning_rate: float = field(default=6e-5, metadata={"help": "Learning rate when building a checker."})
    checker_batch_size: int = field(
        default=32,
        metadata={"help": "Batch size for building a checker: the whole batch, split over the processes under torchrun "
                  "(a multiple of their number); scoring with one uses at least 64."})
    drop_label_issues: bool = field(
        default=False,
        metadata={"help": "Drop the training examples cleanlab's find_label_issues flags on the quality checker's "
                  "probabilities before training (the cleanlab baseline; combine with any loss)."},
    )
    match_labels_by: str = field(
        default="name",
        metadata={"help": "How a checker's labels must match the task's: 'name' (when both have names; a checker "
                  "that numbers them otherwise is read by name) or 'id' (count only). A model started from a "
                  "classifier (model_name_or_path, init_from_quality_checker, a warm start) has its head's rows "
                  "matched the same way."},
    )
    filter_min_weight: float | None = field(
        default=None,
        metadata={"help": "Before training, drop the examples whose static weight is below this. The static weight is "
                  "P'/Q when diversity_checker_model is set, else P'; works with any loss (CE too) and needs "
                  "quality_checker_model. The number dropped is train_filtered_out in all_results.json."},
    )
    filter_keep_top_fraction: float | None = field(
        default=None,
        metadata={"help": "Before training, keep only this fraction, in (0, 1], of the examples with the highest "
                  "static weight (see filter_min_weight; both may be set, then both apply)."},
    )

    def __post_init__(self):
        check_ranges(self)
        if self.checker_calibration not in ("none", "temperature"):
            raise ValueError(f"checker_calibration: expected 'none' or 'temperature', got {self.checker_calibration!r}")
        if self.match_labels_by not in ("name", "id"):
            raise ValueError(f"match_labels_by: expected 'name' or 'id', got {self.match_labels_by!r}")
        processes = int(os.environ.get("WORLD_SIZE", "1"))  # checked here, before any checker folder is made
        if self.checker_batch_size % processes:
            raise ValueError(f"checker_batch_size: {self.checker_batch_size} examples do not split evenly over the "
                             f"{processes} processes; expected a multiple of {processes}")

    @property
    def filtering(self) -> bool:
        return self.filter_min_weight is not None or self.filter_keep_top_fraction is not None

    def epochs_for(self, role: str) -> float:
        """The epochs a checker of `role` ('quality' or 'diversity') is built with."""
        if role == "diversity" and self.diversity_checker_num_train_epochs is not None:
            return self.diversity_checker_num_train_epochs
        return self.checker_num_train_epochs


@dataclass
class WeightedTrainingArguments(TrainingArguments):
    """TrainingArguments with the loss options and the authors' defaults."""

    problem_type: str = field(
        default="single_label_classification",
        metadata={"help": "Loss: " + "; ".join(
            f"{' or '.join(name for name, kind in PROBLEM_TYPES.items() if kind is loss)} ({described})"
            for loss, described in LOSS_WEIGHTS.items())},
    )
    focal_gamma: float = field(default=1.0, metadata={"help": "gamma of the Focal loss, w = (1 - P)^gamma."})
    weight_epsilon: float = field(
        default=DEFAULT_EPSILON,
        metadata={"help": "Probabilities in a weight's denominator are clamped to at least this (no inf weights)."},
    )
    real_set_weight: float | None = field(
        default=1.0,
        metadata={"help": "The loss weight of every real example (real_set_in_training), whatever the loss gives "
                  "the generated ones: the real set is trusted as it is. null: the loss's own weight, with P' of "
                  "each real example from a checker that did not train on it (needs quality_checker_folds > 1)."},
    )
    real_set_finetune_epochs: float = field(
        default=0.0,
        metadata={"help": "After the (weighted) training, fine-tune the model with CE on the quality checker's real "
                  "set for this many epochs, keeping one of them by the first phase's rule (the last, the best "
                  "with load_best_model_at_end, or with average_checkpoints the average of its epochs' models). 0: "
                  "no second phase."},
    )
    real_set_finetune_learning_rate: float | None = field(
        default=None, metadata={"help": "Learning rate of the real-set fine-tuning. Default: learning_rate."}
    )
    track_test_each_epoch: bool = field(
        default=False,
        metadata={"help": "Also evaluate the test split each epoch, for training-dynamics plots. It is reported "
                  "only: the kept epoch is still chosen on validation (or is the last), and the model trained is "
                  "the same as without it."},
    )
    average_checkpoints: bool = field(
        default=False,
        metadata={"help": "End with the mean of the model's weights at the end of every epoch (checkpoint averaging) "
                  "instead of the best or last epoch's."},
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop training after this many evaluations in a row without improving metric_for_best_model "
                  "on the validation split (the Trainer's EarlyStoppingCallback); the best checkpoint is kept. "
                  "Needs validation data and load_best_model_at_end. null: train every epoch."},
    )
    early_stopping_threshold: float = field(
        default=0.0,
        metadata={"help": "How much metric_for_best_model must improve to count as an improvement (early stopping)."},
    )
    save_validation_predictions: bool = field(
        default=False,
        metadata={"help": "Write every evaluation's class probabilities of the validation split to "
                  "validation_predictions.npz, to compare model selection rules afterwards."},
    )
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Allow writing into an output_dir that already holds results."}
    )
    output_dir: str = field(default="output", metadata={"help": "Where checkpoints, metrics and the config go."})
    learning_rate: float = field(default=6e-5, metadata={"help": "Peak learning rate."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Evaluation batch size per device."})
    num_train_epochs: float = field(default=5.0, metadata={"help": "Training epochs."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate: no, steps, epoch."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to checkpoint: no, steps, epoch, best."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Keep at most this many checkpoints (plus the best)."})
    load_best_model_at_end: bool = field(default=True, metadata={
        "help": "Reload the checkpoint of the best metric_for_best_model on validation after training; false keeps the "
                "last epoch (the recommended config's choice: results/README.md, model selection)."})
    metric_for_best_model: str | None = field(default="accuracy", metadata={"help": "Metric that picks the best checkpoint."})
    logging_strategy: str = field(default="epoch", metadata={"help": "When to log: no, steps, epoch."})
    restore_callback_states_from_checkpoint: bool = field(default=True, metadata={
        "help": "A resume restores the callbacks' states the checkpoint saved, early stopping's count of epochs "
                "without improvement among them, so that it ends where the uninterrupted run would (transformers' "
                "default, false, starts that count again)."})
    report_to: None | str | list[str] = field(
        default="wandb",
        metadata={"help": "Loggers: wandb (default) or none. null means W&B, as in the authors' configs."},
    )
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={"help": "Training sampler: group_by_length (default; batches of similar length, less padding) or random."},
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={"help": "Resume an interrupted run: a checkpoint folder, or 'last' for the newest checkpoint-* in "
                  "output_dir."},
    )
    push_to_hub: bool = field(
        default=False,
        metadata={"help": "Push the model, its tokenizer and its model card (README.md) to the Hugging Face hub "
                  "repository hub_model_id, through the Trainer's own push. Without a token or the hub the run "
                  "stops before any work."},
    )

    def __post_init__(self):
        loss_kind(self.problem_type)
        check_ranges(self)
        if self.num_train_epochs == 0 and self.max_steps == -1:
            raise RangeError("num_train_epochs", "num_train_epochs: expected > 0 (or set max_steps), got 0")
        if self.average_checkpoints:
            self.load_best_model_at_end = False  # the average replaces any single epoch's weights
        self._check_early_stopping()
        self._check_choices()
        super().__post_init__()
        if not torch.accelerator.is_available():
            self.dataloader_pin_memory = False  # pinning needs an accelerator; on CPU it only warns every epoch

    def _check_early_stopping(self) -> None:
        if self.early_stopping_patience is None:
            return
        if self.average_checkpoints:
            raise ValueError("early_stopping_patience: cannot be combined with average_checkpoints, which keeps the "
                             "mean of every epoch rather than the best one")
        if not self.load_best_model_at_end:
            raise ValueError("early_stopping_patience: needs load_best_model_at_end true, so that the run ends with "
                             "the best checkpoint rather than the one after the evaluations that did not improve")
        if self.eval_strategy == "no":
            raise ValueError("early_stopping_patience: needs an evaluation to watch; eval_strategy is 'no'")

    def _check_choices(self) -> None:
        """Choices transformers reads only later: an unknown log level was a KeyError before training, an unknown
        compile mode a RuntimeError once the model was compiled."""
        for key in ("log_level", "log_level_replica"):
            if getattr(self, key) not in trainer_log_levels:
                raise ValueError(f"{key}: expected one of {', '.join(trainer_log_levels)}, got {getattr(self, key)!r}")
        if self.torch_compile_mode is not None:
            from torch._inductor import list_mode_options  # a second's import, only where a mode is named

            if self.torch_compile_mode not in list_mode_options():
                raise ValueError(f"torch_compile_mode: expected one of {', '.join(list_mode_options())}, got "
                                 f"{self.torch_compile_mode!r}")

    @property
    def loss_kind(self) -> LossKind:
        return loss_kind(self.problem_type)


ARGUMENT_CLASSES = (ModelArguments, DataArguments, CheckerArguments, WeightedTrainingArguments)


@dataclass
class PredictArguments:
    """predict.py's options."""

    model: str | None = field(
        default=None,
        metadata={"help": "The trained model: a run's output_dir, a hub id, or a W&B artifact reference.", "required": True},
    )
    input: str | None = field(
        default=None,
        metadata={"help": "The texts to label: .csv, .tsv, .jsonl, .json, .parquet, or .txt (one text per line); all "
                          "but parquet may be compressed (.gz, .bz2, .xz).", "required": True},
    )
    output: str | None = field(
        default=None,
        metadata={"help": "Where the predictions go, one row per input: .csv, .tsv or .jsonl (by the suffix; "
                  "compressed when it ends in .gz, .bz2 or .xz, as predictions.csv.gz). Each row holds the input's "
                  "columns, predicted_label and prob_<label> for every class.", "required": True},
    )
    text_column_names: str | None = field(
        default=None,
        metadata={"help": "Comma-separated text column(s) of the input; two for text pairs. Default: the columns the "
                  "model was trained on (resolved_config.json beside it), else the first two non-label columns."},
    )
    label_column_name: str | None = field(
        default=None,
        metadata={"help": "The input's gold label column (label names or ids): the predictions are scored against it "
                  "(accuracy beside the majority label's, macro-F1, recall by class, logged). Default: the column "
                  "the model was trained on, else 'label', scored when the input has it."},
    )
    metrics_output: str | None = field(
        default=None,
        metadata={"help": "A .json file for the score against the input's labels, which every record must then have: "
                  "predict_accuracy, predict_majority_accuracy, predict_f1 (macro), predict_samples and each "
                  "class's predict_examples_<label> and, where defined, predict_precision_/recall_/f1_<label>."},
    )
    batch_size: int = field(default=64, metadata={"help": "Texts per batch (batches are sorted by length)."})
    max_seq_length: int | None = field(
        default=None,
        metadata={"help": "Longer inputs are truncated to this many tokens. Default: the training run's, else 128."},
    )
    overwrite_output: bool = field(
        default=False, metadata={"help": "Replace an existing output (and metrics_output) file."}
    )
    disable_tqdm: bool = field(
        default=False, metadata={"help": "No progress bar (for a log file), as run.py's disable_tqdm."}
    )

    def __post_init__(self):
        for key in ("model", "input", "output"):
            if not getattr(self, key):
                raise ValueError(f"{key}: required; usage: python predict.py --model OUTPUT_DIR --input FILE --output FILE")
        check_text_columns(self.text_column_names)
        if self.batch_size <= 0:
            raise ValueError(f"batch_size: expected a positive integer, got {self.batch_size}")
        if self.max_seq_length is not None and self.max_seq_length <= 0:
            raise ValueError(f"max_seq_length: expected a positive integer, got {self.max_seq_length}")

    @property
    def text_columns(self) -> list[str] | None:
        return text_column_list(self.text_column_names)
