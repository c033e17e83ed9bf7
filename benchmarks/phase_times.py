"""Time every phase of CE, DIMP and IMP with this project's trainer, and DIMP/IMP the authors' way, side by side.

    python benchmarks/phase_times.py [--rounds 4 --timed_steps 12 ...]    (--help lists the options)

Phases: build the quality checker, build the diversity checker (partly run, the rest estimated), load the checkers
and score the training set (in one chunk per round), and training. Training is timed on a sample of the real
group_by_length run's batches: each round runs every variant on the same batches, in serpentine order (ABCDE, then
EDCBA), from a fresh model, so the shared machine's drift hits all variants alike; see benchmarks/README.md."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification, set_seed  # noqa: E402

from benchmarks.measure import StepTimer, command_line, machine, measured  # noqa: E402
from benchmarks.protocol import Protocol, parse_protocol, plan_rounds, precompute_chunks  # noqa: E402
from benchmarks.report import estimate, headline, markdown_table  # noqa: E402
from benchmarks.seed_style import make_seed_style_trainer  # noqa: E402
from checkers.build import CheckerRecipe, build_checker  # noqa: E402
from checkers.scoring import at_gold, class_probabilities  # noqa: E402
from data.files import data_root  # noqa: E402
from references.models import ModelSource, resolve_model  # noqa: E402
from trainer.atomic import write_json_atomic  # noqa: E402
from trainer.fitting import make_trainer  # noqa: E402
from trainer.modeling import encode, load_classifier, load_tokenizer  # noqa: E402
from data.prepare import load_task  # noqa: E402
from trainer.weighted_trainer import DIVERSITY_PROB, QUALITY_PROB  # noqa: E402

logger = logging.getLogger("benchmarks.phase_times")
COLUMNS = {"quality": QUALITY_PROB, "diversity": DIVERSITY_PROB}


@dataclass(frozen=True)
class Variant:
    name: str
    problem_type: str
    columns: tuple[str, ...]  # checker columns the loss reads
    seed_style: bool = False  # the authors' way: pad to max_length, forward the checkers every step


VARIANTS = (
    Variant("ce", "single_label_classification", ()),
    Variant("dimp", "single_label_classification_dimp", (QUALITY_PROB,)),
    Variant("imp", "single_label_classification_imp", (QUALITY_PROB, DIVERSITY_PROB)),
    Variant("seed_dimp", "single_label_classification_dimp", (QUALITY_PROB,), seed_style=True),
    Variant("seed_imp", "single_label_classification_imp", (QUALITY_PROB, DIVERSITY_PROB), seed_style=True),
)
SEED_STYLE = frozenset(variant.name for variant in VARIANTS if variant.seed_style)


class Bench:
    def __init__(self, protocol: Protocol):
        self.protocol = protocol
        self.work = Path(protocol.work_dir)
        self.cfg = protocol.run_config()
        self.task = load_task(self.cfg)
        self.train = self.task.splits["train"]
        self.source = resolve_model(protocol.model, "model_name_or_path")
        self.tokenizer = load_tokenizer(self.source)
        self.phases: dict[str, dict] = {}
        self.checkers: dict[str, AutoModelForSequenceClassification] = {}
        self.checker_sources: dict[str, ModelSource] = {}
        self.probs = {column: np.full(len(self.train), np.nan, dtype=np.float32) for column in COLUMNS.values()}

    def build_checkers(self) -> None:
        """As the pipeline does (checkers.build.build_checker); the diversity build runs only its first steps."""
        options = self.cfg.checkers
        partial_epochs = (self.protocol.diversity_build_steps - 0.5) / self.protocol.steps_per_epoch
        builds = {
            "quality": (CheckerRecipe("quality", self.task.splits["quality_train"], self.task.splits["validation"]),
                        options, "build_quality_checker"),
            "diversity": (CheckerRecipe("diversity", self.train, self.task.splits["validation"]),
                          replace(options, checker_num_train_epochs=partial_epochs),
                          "build_diversity_checker_partial"),
        }
        for role, (recipe, role_options, phase) in builds.items():
            folder = self.work / "checkers" / role
            logger.info("Building the %s checker", role)
            with measured(self.phases.setdefault(phase, {})):
                build_checker(folder, recipe, self.source, self.task.label_names, self.task.text_columns, role_options,
                              self.cfg.training, self.protocol.max_length)
            with measured(self.phases.setdefault(f"load_{role}_checker", {})):
                self.checker_sources[role] = resolve_model(str(folder), f"{role}_checker_model")
                self.checkers[COLUMNS[role]] = AutoModelForSequenceClassification.from_pretrained(folder)
            logger.info("  %s", self.phases[phase])

    def score_chunk(self, chunk: list[int]) -> dict:
        """The checkers' gold-label probabilities of one chunk of the training set (checkers.scoring)."""
        record = {}
        rows = self.train.select(chunk)
        for role, column in COLUMNS.items():
            with measured(record.setdefault(role, {"examples": len(chunk)})):
                probs = class_probabilities(
                    self.checkers[column], self.checker_sources[role],
                    rows, self.task.text_columns, self.protocol.max_length,
                    max(self.cfg.checkers.checker_batch_size, 64), f"{role}_checker_model")
                self.probs[column][chunk] = at_gold(probs, rows["label"])
        return record

    def run_segment(self, variant: Variant, batches: list[list[int]]) -> dict:
        """1 warm-up + timed_steps optimizer steps of `variant` on exactly `batches`, from a fresh model."""
        indices = [i for batch in batches for i in batch]
        rows = self.train.select(indices)
        # The seed style gets the checkers' probabilities by forwarding them, not from columns.
        columns = () if variant.seed_style else variant.columns
        for column in columns:
            rows = rows.add_column(column, [float(v) for v in self.probs[column][indices]])
        encoded = encode(rows, self.tokenizer, self.task.text_columns, self.protocol.max_length,
                         pad_to_max_length=variant.seed_style, keep_columns=("label", *columns))
        set_seed(self.protocol.seed)
        model = load_classifier(self.source, self.task.label_names)
        args = self.protocol.training_args(str(self.work / "segment"), variant.problem_type, len(batches))
        if variant.seed_style:
            trainer = make_seed_style_trainer(model, self.tokenizer, args, encoded,
                                              *[self.checkers[c] for c in variant.columns])
        else:
            trainer = make_trainer(model, self.tokenizer, args, encoded, None)
        timer = StepTimer()
        trainer.add_callback(timer)
        record = {"variant": variant.name}
        with measured(record):
            trainer.train()
        del trainer, model
        gc.collect()
        return {**record, **timer.steps()}


def peak_rss(phases: dict, chunks: list[dict], segments: list[dict]) -> tuple[float, float]:
    """The highest peak resident memory of this project's phases, and apart from it that of the authors' style's
    training, which pads every input to max_length."""
    own = [p["peak_rss_mb"] for p in phases.values()] + [c[role]["peak_rss_mb"] for c in chunks for role in COLUMNS] \
        + [s["peak_rss_mb"] for s in segments if s["variant"] not in SEED_STYLE]
    return max(own), max(s["peak_rss_mb"] for s in segments if s["variant"] in SEED_STYLE)


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    protocol = parse_protocol(argv)
    started = time.perf_counter()
    load_start = os.getloadavg()
    bench = Bench(protocol)
    logger.info("Protocol: %s", protocol.to_dict())
    lengths = [len(ids) for ids in encode(bench.train, bench.tokenizer, bench.task.text_columns,
                                          protocol.max_length)["input_ids"]]
    try:  # before the checkers are built: minutes of work for a plan that cannot run
        rounds = plan_rounds(lengths, protocol)
    except ValueError as err:
        raise SystemExit(f"error: {err}; give fewer --rounds or --timed_steps, or more --train_examples") from None
    bench.build_checkers()
    chunks, segments = [], []
    for r, (batches, chunk) in enumerate(zip(rounds, precompute_chunks(len(bench.train), rounds, protocol.seed))):
        chunks.append(bench.score_chunk(chunk))
        logger.info("Round %d: scored %d examples %s", r + 1, chunks[-1]["quality"]["examples"],
                    {role: chunks[-1][role]["wall_s"] for role in COLUMNS})
        for variant in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
            segment = {"round": r, **bench.run_segment(variant, batches)}
            segments.append(segment)
            logger.info("Round %d %-9s %.2f s/step (cpu %.2f)", r + 1, variant.name,
                        np.mean(segment["step_wall_s"]), np.mean(segment["step_cpu_s"]))

    wall = estimate(protocol, bench.phases, chunks, segments, "wall")
    cpu = estimate(protocol, bench.phases, chunks, segments, "cpu")
    peak, seed_style_peak = peak_rss(bench.phases, chunks, segments)
    results = {
        **headline(wall, peak),
        "peak_rss_mb_seed_style": seed_style_peak,
        "wall_clock": wall,
        "cpu_clock_crosscheck": cpu,
        "protocol": {**protocol.to_dict(), "data_root": str(data_root()), "model_location": bench.source.location,
                     "quality_checker_validation_examples": len(bench.task.splits["validation"])},
        "raw": {"phases": bench.phases, "precompute_chunks": chunks, "segments": segments},
        "machine": {**machine(), "load_average_start": load_start, "load_average_end": os.getloadavg()},
        "command": command_line("benchmarks/phase_times.py", argv),
        "benchmark_wall_s": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(Path(protocol.output), results)
    print(markdown_table(wall))
    print(json.dumps({k: results[k] for k in ("dimp_total_over_ce", "imp_train_over_ce", "throughput_over_seed_style",
                                              "peak_rss_mb", "benchmark_wall_s")}, indent=1))
    return results


if __name__ == "__main__":
    main()
