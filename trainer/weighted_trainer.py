"""A Trainer whose `compute_loss` applies the per-example weights of CE, Focal, IMP or DIMP."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import Trainer, TrainerState
from transformers.integrations import WandbCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from data.task import REAL_EXAMPLE
from losses.weighting import LossKind, example_weights, gold_probabilities, weighted_nll_sum, with_fixed_weight
from trainer.atomic import as_umask_allows, full_disk_named, write_json_atomic, write_text_atomic
from trainer.diverged import TrainingDiverged
from trainer.metrics import class_metrics, predicted_ids, printable
from trainer.modeling import label_names_of
from trainer.selection import PREDICTIONS_FILE, CheckpointAverage, ValidationPredictions
from trainer.weight_history import WeightHistory

logger = logging.getLogger(__name__)

# Per-example checker probabilities, computed once before training and carried as dataset columns.
QUALITY_PROB = "quality_prob"
DIVERSITY_PROB = "diversity_prob"
# Each example's row in the training set, so the weights the loss used can be written back beside its text.
EXAMPLE_INDEX = "example_index"
WEIGHT_COLUMNS = (QUALITY_PROB, DIVERSITY_PROB, EXAMPLE_INDEX, REAL_EXAMPLE)
# Losses whose weight depends on the model being trained, so it changes from epoch to epoch.
MODEL_DEPENDENT_WEIGHTS = (LossKind.DIMP, LossKind.FOCAL)
# The evaluation split's name when several are evaluated each epoch (see the pipeline's track_test_each_epoch).
VALIDATION_PREFIXES = ("eval", "eval_validation")
# The split evaluated each epoch only to report it (track_test_each_epoch).
REPORT_ONLY_PREFIX = "eval_test"
# In each checkpoint: the sum of the training loss over its steps, so that a resumed run's train_loss is the mean over
# every step, as an uninterrupted run's is (the Trainer's counts only the steps since the resume).
LOSS_SUM_FILE = "train_loss_sum.json"


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped order drawn from (seed, epoch) rather than the global RNG, so that a run resumed from a
    checkpoint sees the same batches as the run that was interrupted."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator.manual_seed(self.seed + self.epoch)
        return super().__iter__()


class WeightedTrainer(Trainer):
    # compute_loss already divides by the examples of the whole accumulated batch.
    loss_is_scaled_for_ga = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._weight_sum = 0.0
        self._weight_count = 0
        # Recorded only where the training set says which example each row is (the pipeline's always does).
        records = EXAMPLE_INDEX in getattr(self.train_dataset, "column_names", ())
        self.weight_history = WeightHistory() if records and self.args.loss_kind in MODEL_DEPENDENT_WEIGHTS else None
        if self.weight_history is not None:
            self.add_callback(self.weight_history)
        self.checkpoint_average = CheckpointAverage() if self.args.average_checkpoints else None
        if self.checkpoint_average is not None:
            self.add_callback(self.checkpoint_average)
        self.validation_predictions = None
        self.first_phase: TrainerState | None = None  # the weighted training's, when this trainer fine-tunes its model
        self._loss_before_resume: float | None = None  # the loss summed over the steps before a resume (LOSS_SUM_FILE)
        # The logging interval a resume cut: its steps before the checkpoint, which the first log after joins.
        self._unlogged: Unlogged | None = None
        self._seeded_sampler: SeededLengthGroupedSampler | None = None  # the length-grouped order, once drawn
        self._trained = False
        self.model_card: str | None = None  # the run's own card (reports/model_card.py), once written

    @property
    def epoch_offset(self) -> int:
        """The epochs trained before this trainer took over the model (see fitting.fine_tune)."""
        return round(self.first_phase.epoch) if self.first_phase else 0

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        checkpoint = get_last_checkpoint(self.args.output_dir) if resume_from_checkpoint is True \
            else resume_from_checkpoint
        if checkpoint and self.weight_history is not None:
            self.weight_history.load(Path(checkpoint), self.is_world_process_zero())
        if checkpoint and self.checkpoint_average is not None:
            self.checkpoint_average.load(Path(checkpoint))
        resumed_at = None
        if checkpoint:
            self._loss_before_resume, saved = _loss_sums(Path(checkpoint))
            resumed_at = TrainerState.load_from_json(str(Path(checkpoint) / TRAINER_STATE_NAME)).global_step
            self._unlogged = Unlogged.load(saved, resumed_at)
        if self.args.save_validation_predictions and self.is_world_process_zero() and not self.validation_predictions:
            self.validation_predictions = ValidationPredictions(Path(self.args.output_dir) / PREDICTIONS_FILE,
                                                                resume=bool(checkpoint))
        result = super().train(resume_from_checkpoint, *args, **kwargs)
        if self.state.global_step == resumed_at:  # a finished run resumed: its train metrics count no step
            logger.warning("resume_from_checkpoint: %s ends the training it resumes, so no step is trained again; "
                           "its model's results are written anew", checkpoint)
        if self.checkpoint_average is not None:
            self.checkpoint_average.apply(self.model)
            logger.info("The model is the mean of its weights at the end of its %d epochs (average_checkpoints)",
                        self.checkpoint_average.count)
        self._trained = True
        return result

    def _save_checkpoint(self, model, trial):
        folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        with full_disk_named(folder.parent):
            super()._save_checkpoint(model, trial)
        if self.weight_history is not None:
            self.weight_history.save(folder, self.is_world_process_zero())
        if self.checkpoint_average is not None and self.is_world_process_zero():
            self.checkpoint_average.save(folder)
        loss, weight_sum, weight_count = self._unlogged_sums()  # every process takes part
        if self.is_world_process_zero():  # the Trainer's sum so far: logged steps' losses and those not yet logged
            loss_sum = (self._loss_before_resume or 0.0) + self._total_loss_scalar + loss
            unlogged = Unlogged(loss, self.state.global_step - self._globalstep_last_logged, weight_sum, weight_count)
            if self._unlogged is not None:  # resumed, and not logged since
                unlogged = unlogged.joined(self._unlogged)
            write_json_atomic(folder / LOSS_SUM_FILE,
                              {"loss_sum": loss_sum, "global_step": self.state.global_step, **unlogged.saved()})

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        # With push_to_hub the Trainer would push here too, with its draft card and no metrics; the run pushes once,
        # at its end, with its own card (app.pipeline).
        super().save_model(output_dir, _internal_call=True)

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        folder = Path(output_dir if output_dir is not None else self.args.output_dir)
        with full_disk_named(folder):
            super()._save(output_dir, state_dict)
        if self.args.should_save:
            as_umask_allows(folder)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        if metric_key_prefix != REPORT_ONLY_PREFIX:
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        # Every DataLoader draws its base seed from the global RNG: without the fork, reporting the test split would
        # shift the dropout masks of every later step, and the model would depend on whether the test was tracked.
        with torch.random.fork_rng(devices=[]):
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.validation_predictions is not None and metric_key_prefix in VALIDATION_PREFIXES:
            name = "final" if self._trained else f"epoch{round(self.state.epoch) + self.epoch_offset}"
            self.validation_predictions.record(name, output.predictions, output.label_ids)
        if self._trained and output.label_ids is not None:  # the final model's evaluations: class by class too
            output.metrics.update(class_metrics(predicted_ids(output.predictions), output.label_ids,
                                                label_names_of(self.model.config), metric_key_prefix))
        return output

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            self._seeded_sampler = SeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, seed)
            return self._seeded_sampler
        return sampler

    def _run_epoch(self, *args, **kwargs):
        # The epoch's order is drawn from the epoch the loop is in: accelerate's set_epoch does not reach a sampler
        # inside both its shard and its skip wrappers (a resume mid-epoch under torchrun), which then drew epoch 0's.
        if self._seeded_sampler is not None:
            self._seeded_sampler.set_epoch(kwargs["epoch"])
        return super()._run_epoch(*args, **kwargs)

    def _set_signature_columns_if_needed(self):
        # remove_unused_columns keeps only what model.forward accepts; the weight columns must survive it.
        super()._set_signature_columns_if_needed()
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *WEIGHT_COLUMNS]))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        quality = inputs.pop(QUALITY_PROB, None)
        diversity = inputs.pop(DIVERSITY_PROB, None)
        index = inputs.pop(EXAMPLE_INDEX, None)
        real = inputs.pop(REAL_EXAMPLE, None)
        outputs = model(**inputs)
        logits = outputs.logits
        if model.training:
            weights = example_weights(
                self.args.loss_kind, logits, labels, quality, diversity, self.args.focal_gamma, self.args.weight_epsilon
            )
            if real is not None and self.args.real_set_weight is not None:
                weights = with_fixed_weight(weights, real, self.args.real_set_weight)
            total = weighted_nll_sum(logits, labels, weights, self.args.label_smoothing_factor)
            loss = self._scale(total, labels.numel(), num_items_in_batch)
            if not torch.isfinite(loss):  # stop before a NaN or infinite gradient reaches the optimizer
                raise TrainingDiverged(
                    f"learning_rate: the training loss became {loss.item()} at step {self.state.global_step + 1} "
                    f"(epoch {self.state.epoch or 0:.2f}); the model diverged. Lower learning_rate "
                    f"({self.args.learning_rate:g}) or keep max_grad_norm > 0")
            if weights is not None:
                self._weight_sum += float(weights.sum())
                self._weight_count += weights.numel()
            if self.weight_history is not None:
                self.weight_history.record(index, gold_probabilities(logits.detach(), labels), weights)
        else:
            # Evaluation reports plain cross-entropy (no weights, no label smoothing), comparable across losses.
            loss = weighted_nll_sum(logits, labels, None) / labels.numel()
        return (loss, outputs) if return_outputs else loss

    def _scale(self, total: torch.Tensor, batch_size: int, num_items_in_batch) -> torch.Tensor:
        """Turn a sum over this micro-batch into its share of the mean over the optimizer step's batch."""
        if num_items_in_batch is None:
            # The Trainer sets the attribute in its training loop; a call from outside it (a user's own loop or
            # check) accumulates nothing.
            return total / batch_size / getattr(self, "current_gradient_accumulation_steps", 1)
        loss = total / num_items_in_batch
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            # num_items_in_batch was summed over processes, and DDP averages gradients over them.
            loss = loss * self.accelerator.num_processes
        return loss

    def _finalize_training(self, *args, **kwargs):
        if self.args.world_size > 1:  # the steps since the last log: their loss over every process, as a log's is
            self._tr_loss = self.accelerator.reduce(self._tr_loss.detach().clone(), "mean")
        return super()._finalize_training(*args, **kwargs)

    def _unlogged_sums(self) -> tuple[float, float, int]:
        """Since the last log: the loss summed over the steps (each step's the mean over the processes, as the
        Trainer logs it), and the sum and count of the weights of every process's examples. Under torchrun every
        process must call it."""
        sums = [self._tr_loss.item(), self._weight_sum, self._weight_count]
        if self.args.world_size > 1:
            summed = self.accelerator.reduce(torch.tensor(sums, dtype=torch.float64, device=self.args.device), "sum")
            sums = [summed[0].item() / self.args.world_size, summed[1].item(), round(summed[2].item())]
        return sums[0], sums[1], int(sums[2])

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._unlogged is not None:  # the interval's mean, its steps before the resume too
            before, self._unlogged = self._unlogged, None
            after = self.state.global_step - before.resumed_at
            logs["loss"] = (before.loss + logs["loss"] * after) / (before.steps + after)
            if self.is_world_process_zero():  # every process's weights, summed once below
                self._weight_sum += before.weight_sum
                self._weight_count += before.weight_count
        if "loss" in logs:  # a training log, which every process makes
            _, weight_sum, weight_count = self._unlogged_sums()
            if weight_count:
                logs["train_weight_mean"] = round(weight_sum / weight_count, 4)
            self._weight_sum, self._weight_count = 0.0, 0
        if "train_loss" in logs and self._loss_before_resume is not None:  # in place: it is the run's train metrics
            logs["train_loss"] = (self._loss_before_resume + self._total_loss_scalar) / max(self.state.global_step, 1)
        super().log(printable(logs, label_names_of(self.model.config)), *args, **kwargs)

    def log_metrics(self, split, metrics) -> None:
        shown = printable(metrics, label_names_of(self.model.config))
        super().log_metrics(split, shown)
        if len(shown) < len(metrics) and self.is_world_process_zero():
            logger.info("Each of the %d labels' precision, recall, F1 and examples: %s_results.json",
                        self.model.config.num_labels, split)

    def create_model_card(self, *args, **kwargs) -> None:
        """The run's own card once there is one, also when push_to_hub writes the card before uploading;
        the Trainer's draft before."""
        if self.model_card is None:
            return super().create_model_card(*args, **kwargs)
        if self.is_world_process_zero():
            write_text_atomic(Path(self.args.output_dir) / "README.md", self.model_card)

    def save_metrics(self, split, metrics, combined=True):
        """As Trainer.save_metrics, but each file is replaced atomically."""
        if not self.is_world_process_zero():
            return
        out = Path(self.args.output_dir)
        write_json_atomic(out / f"{split}_results.json", metrics)
        if combined:
            path = out / "all_results.json"
            merged = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            write_json_atomic(path, {**merged, **metrics})


class SafeWandbCallback(WandbCallback):
    """W&B logging whose failures (network, disk, service) are logged once and then ignored: training goes on."""

    def _guard(self, event: str, *args, **kwargs):
        if getattr(self, "_broken", False):
            return None
        try:
            return getattr(super(), event)(*args, **kwargs)
        except Exception as err:  # W&B raises many types; none of them may stop training
            self._broken = True
            logger.warning("W&B failed during %s (%s); training continues, offline files are kept.", event, err)
            return None

    def setup(self, *args, **kwargs):
        return self._guard("setup", *args, **kwargs)

    def on_train_begin(self, *args, **kwargs):
        return self._guard("on_train_begin", *args, **kwargs)

    def on_train_end(self, *args, **kwargs):
        return self._guard("on_train_end", *args, **kwargs)

    def on_log(self, *args, **kwargs):
        return self._guard("on_log", *args, **kwargs)

    def on_save(self, *args, **kwargs):
        return self._guard("on_save", *args, **kwargs)

    def on_predict(self, *args, **kwargs):
        return self._guard("on_predict", *args, **kwargs)


@dataclass
class Unlogged:
    """The steps since the last logged loss: their loss and weights summed (a checkpoint keeps them in LOSS_SUM_FILE),
    and the step a run resumed at."""

    loss: float
    steps: int
    weight_sum: float
    weight_count: int
    resumed_at: int = 0

    def joined(self, earlier: "Unlogged") -> "Unlogged":
        return Unlogged(self.loss + earlier.loss, self.steps + earlier.steps, self.weight_sum + earlier.weight_sum,
                        self.weight_count + earlier.weight_count, self.resumed_at)

    def saved(self) -> dict:
        """Its entries in LOSS_SUM_FILE, which `load` reads."""
        return {"unlogged_loss": self.loss, "unlogged_steps": self.steps, "unlogged_weight_sum": self.weight_sum,
                "unlogged_weight_count": self.weight_count}

    @classmethod
    def load(cls, saved: dict, resumed_at: int) -> "Unlogged | None":
        """From LOSS_SUM_FILE's entries; None for a checkpoint saved right after a log, or before checkpoints kept
        these."""
        try:
            unlogged = cls(float(saved["unlogged_loss"]), int(saved["unlogged_steps"]),
                           float(saved["unlogged_weight_sum"]), int(saved["unlogged_weight_count"]), resumed_at)
        except (ValueError, KeyError, TypeError):
            return None
        return unlogged if unlogged.steps > 0 else None


def _loss_sums(checkpoint: Path) -> tuple[float | None, dict]:
    """The training loss summed over the steps before `checkpoint`, and all of LOSS_SUM_FILE's entries; None and {}
    for a checkpoint saved without the file."""
    try:
        saved = json.loads((checkpoint / LOSS_SUM_FILE).read_text(encoding="utf-8"))
        return float(saved["loss_sum"]), saved
    except (OSError, ValueError, KeyError, TypeError) as err:  # saved before the file was, or edited since
        problem = "holds no" if isinstance(err, FileNotFoundError) else "has an unreadable"
        logger.warning("%s %s %s: train_loss will be the mean over the steps after the resume only",
                       checkpoint, problem, LOSS_SUM_FILE)
        return None, {}
