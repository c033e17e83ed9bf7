"""Argument dataclasses. One JSON config fills all of them (HfArgumentParser), as in the
authors' `run.py`; keys are flat, so a key belongs to whichever dataclass declares it."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from losses.weighting import DEFAULT_EPSILON, PROBLEM_TYPES, LossKind, loss_kind


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="sentence-transformers/all-MiniLM-L6-v2",
        metadata={"help": "Local folder, Hugging Face hub id, or (with use_wandb_model) a W&B artifact reference."},
    )
    config_name: str | None = field(default=None, metadata={"help": "Config name or path, if not the model's."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer name or path, if not the model's."})
    cache_dir: str | None = field(default=None, metadata={"help": "Where hub downloads are cached."})
    use_fast_tokenizer: bool = field(default=True, metadata={"help": "Use a fast (Rust) tokenizer."})
    model_revision: str = field(default="main", metadata={"help": "Hub revision: branch, tag or commit."})
    ignore_mismatched_sizes: bool = field(
        default=False, metadata={"help": "Load a checkpoint whose classification head has another size."}
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
        metadata={"help": "Start training from the quality checker's weights (CE on the real set) instead of "
                  "model_name_or_path. Needs quality_checker_model of the same architecture."},
    )


@dataclass
class DataArguments:
    train_file: str | None = field(default=None, metadata={"help": "Training data (jsonl, json, csv or tsv)."})
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
    split_seed: int = field(default=0, metadata={"help": "Seed of the split_file split."})
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
    max_seq_length: int = field(default=128, metadata={"help": "Longer inputs are truncated to this many tokens."})
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
    data_work_dir: str | None = field(
        default=None,
        metadata={"help": "Where the run keeps its data as memory-mapped Arrow files (read, tokenized), in a new "
                  "folder removed when the run ends; about twice the size of the data files. Default: the system's "
                  "temporary folder ($TMPDIR)."},
    )
    name: str | None = field(default=None, metadata={"help": "W&B run name."})
    save_model: bool = field(default=False, metadata={"help": "Log the trained model as a W&B artifact."})

    def __post_init__(self):
        if self.max_seq_length <= 0:
            raise ValueError(f"max_seq_length: expected a positive integer, got {self.max_seq_length}")
        ratios = self.split_fractions
        if len(ratios) != 3 or any(not 0 <= r <= 1 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
            raise ValueError(f"split_ratios: expected three fractions in [0, 1] summing to 1, got {self.split_ratios!r}")
        for key in ("noise_duplicate_ratio", "noise_swap_ratio", "noise_unrelated_ratio"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{key}: expected a ratio in [0, 1], got {value}")
        for key in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ValueError(f"{key}: expected a positive integer or null, got {value}")

    @property
    def split_fractions(self) -> list[float]:
        try:
            return [float(part) for part in self.split_ratios.split(",")]
        except ValueError:
            raise ValueError(f"split_ratios: expected comma-separated numbers, got {self.split_ratios!r}") from None

    @property
    def text_columns(self) -> list[str] | None:
        if not self.text_column_names:
            return None
        return [name.strip() for name in self.text_column_names.split(",") if name.strip()]


@dataclass
class CheckerArguments:
    quality_checker_model: str | None = field(
        default=None,
        metadata={"help": "Quality checker P': local folder, hub id, or W&B artifact 'entity/project/name:version'. "
                  "If it does not exist and quality_checker_train_file is set, it is trained there and cached."},
    )
    diversity_checker_model: str | None = field(
        default=None,
        metadata={"help": "Diversity checker Q (IMP): like quality_checker_model; built by CE on the training data."},
    )
    quality_checker_train_file: str | None = field(
        default=None, metadata={"help": "The small real labelled set the quality checker is trained on (never the test "
                                "split). If it is the training file itself (train_file or split_file), the checker's "
                                "examples are held out of the training data."}
    )
    quality_checker_validation_file: str | None = field(
        default=None, metadata={"help": "Real held-out data to pick the quality checker's best epoch. Default: validation_file."}
    )
    quality_checker_max_train_samples: int | None = field(
        default=500, metadata={"help": "At most this many real examples (a seeded random sample) for the quality checker."}
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
    checker_batch_size: int = field(default=32, metadata={"help": "Batch size for building and scoring with a checker."})
    drop_label_issues: bool = field(
        default=False,
        metadata={"help": "Drop the training examples cleanlab's find_label_issues flags on the quality checker's "
                  "probabilities before training (the cleanlab baseline; combine with any loss)."},
    )
    match_labels_by: str = field(
        default="name",
        metadata={"help": "How a checker's labels must match the task's: 'name' (when both have names) or 'id' (count only)."},
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
        for key in ("checker_num_train_epochs", "diversity_checker_num_train_epochs"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ValueError(f"{key}: expected > 0, got {value}")
        if self.checker_learning_rate <= 0:
            raise ValueError(f"checker_learning_rate: expected > 0, got {self.checker_learning_rate}")
        if self.checker_calibration not in ("none", "temperature"):
            raise ValueError(f"checker_calibration: expected 'none' or 'temperature', got {self.checker_calibration!r}")
        if self.quality_checker_folds < 1:
            raise ValueError(f"quality_checker_folds: expected a positive integer, got {self.quality_checker_folds}")
        if self.match_labels_by not in ("name", "id"):
            raise ValueError(f"match_labels_by: expected 'name' or 'id', got {self.match_labels_by!r}")
        if self.checker_batch_size <= 0:
            raise ValueError(f"checker_batch_size: expected a positive integer, got {self.checker_batch_size}")
        if self.filter_min_weight is not None and not self.filter_min_weight >= 0:
            raise ValueError(f"filter_min_weight: expected a weight >= 0 or null, got {self.filter_min_weight}")
        if self.filter_keep_top_fraction is not None and not 0 < self.filter_keep_top_fraction <= 1:
            raise ValueError(f"filter_keep_top_fraction: expected a fraction in (0, 1] or null, "
                             f"got {self.filter_keep_top_fraction}")

    @property
    def filtering(self) -> bool:
        return self.filter_min_weight is not None or self.filter_keep_top_fraction is not None


@dataclass
class WeightedTrainingArguments(TrainingArguments):
    """TrainingArguments with the loss options and the authors' defaults."""

    problem_type: str = field(
        default="single_label_classification",
        metadata={"help": "Loss: " + ", ".join(sorted(PROBLEM_TYPES))},
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
    track_test_each_epoch: bool = field(
        default=False,
        metadata={"help": "Also evaluate the test split each epoch, for training-dynamics plots. It is reported "
                  "only: the best epoch is still chosen on validation."},
    )
    average_checkpoints: bool = field(
        default=False,
        metadata={"help": "End with the mean of the model's weights at the end of every epoch (checkpoint averaging) "
                  "instead of the best or last epoch's."},
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
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Reload the best checkpoint after training."})
    metric_for_best_model: str | None = field(default="accuracy", metadata={"help": "Metric that picks the best checkpoint."})
    logging_strategy: str = field(default="epoch", metadata={"help": "When to log: no, steps, epoch."})
    report_to: None | str | list[str] = field(default="wandb", metadata={"help": "Loggers: wandb (default) or none."})
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={"help": "Training sampler: group_by_length (default; batches of similar length, less padding) or random."},
    )

    def __post_init__(self):
        loss_kind(self.problem_type)
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate: expected > 0, got {self.learning_rate}")
        if self.focal_gamma < 0:
            raise ValueError(f"focal_gamma: expected >= 0, got {self.focal_gamma}")
        if self.real_set_weight is not None and not self.real_set_weight >= 0:
            raise ValueError(f"real_set_weight: expected a weight >= 0, got {self.real_set_weight}")
        if not 0 < self.weight_epsilon < 1:
            raise ValueError(f"weight_epsilon: expected a value in (0, 1), got {self.weight_epsilon}")
        if self.num_train_epochs <= 0 and self.max_steps <= 0:
            raise ValueError(f"num_train_epochs: expected > 0, got {self.num_train_epochs}")
        if self.per_device_train_batch_size <= 0:
            raise ValueError(f"per_device_train_batch_size: expected a positive integer, got {self.per_device_train_batch_size}")
        if self.average_checkpoints:
            self.load_best_model_at_end = False  # the average replaces any single epoch's weights
        super().__post_init__()

    @property
    def loss_kind(self) -> LossKind:
        return loss_kind(self.problem_type)


ARGUMENT_CLASSES = (ModelArguments, DataArguments, CheckerArguments, WeightedTrainingArguments)
