"""Evaluation in the order the split is given vs longest first (what run.py and checker builds do), per sampler.

    python benchmarks/eval_order.py      # about 5 min on 2 free CPU cores

MiniLM, the real MRPC validation and test pairs, `trainer.evaluate` with the grid's eval batch of 128, under both
`train_sampling_strategy` values: with `group_by_length` (the default) transformers also samples evaluation batches
by length, with `random` it evaluates in the dataset's order. The orders alternate over the rounds, so drift on a
shared machine hits both alike; each result is the median of the per-round time ratios, written to
benchmarks/results/eval_order.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.measure import command_line, machine  # noqa: E402
from benchmarks.protocol import positive  # noqa: E402
from data.files import data_root  # noqa: E402
from references.models import resolve_model  # noqa: E402
from config.arguments import WeightedTrainingArguments  # noqa: E402
from trainer.atomic import write_text_atomic  # noqa: E402
from trainer.fitting import make_trainer  # noqa: E402
from trainer.modeling import encode, for_evaluation, load_classifier, load_tokenizer  # noqa: E402

from datasets import Dataset, concatenate_datasets  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "eval_order.json"


def mrpc_pairs(tokenizer) -> Dataset:
    splits = [Dataset.from_json(str(data_root() / "mrpc" / f"{name}.jsonl")) for name in ("validation", "test")]
    return encode(concatenate_datasets(splits), tokenizer, ["text", "text_pair"], 128)


def padded_tokens(encoded: Dataset, batch_size: int) -> int:
    """Tokens the model sees when `encoded` is batched in order and each batch is padded to its longest input."""
    lengths = [len(ids) for ids in encoded["input_ids"]]
    return sum(max(batch) * len(batch) for batch in (lengths[i:i + batch_size] for i in range(0, len(lengths), batch_size)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=positive(int), default=2)
    parser.add_argument("--batch-size", "--batch_size", type=positive(int), default=128)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--output", default=str(RESULT))
    options = parser.parse_args(argv)

    source = resolve_model(options.model, "model_name_or_path")
    tokenizer = load_tokenizer(source)
    model = load_classifier(source, ["not_equivalent", "equivalent"])
    given = mrpc_pairs(tokenizer)
    variants = {"as_given": given, "longest_first": for_evaluation(given)}
    result = {"command": command_line("benchmarks/eval_order.py", argv), "model": options.model, "examples": len(given),
              "eval_batch_size": options.batch_size, "samplers": {},
              "padded_tokens_in_order": {name: padded_tokens(d, options.batch_size) for name, d in variants.items()}}
    with tempfile.TemporaryDirectory() as out:
        for sampler in ("random", "group_by_length"):
            args = WeightedTrainingArguments(output_dir=out, per_device_eval_batch_size=options.batch_size,
                                             train_sampling_strategy=sampler, report_to="none", disable_tqdm=True)
            trainer = make_trainer(model, tokenizer, args, given, given)
            trainer.evaluate(given.select(range(options.batch_size)))  # warm-up
            times, metrics = {name: [] for name in variants}, {}
            for round_ in range(options.rounds):
                names = list(variants) if round_ % 2 == 0 else list(reversed(variants))
                for name in names:
                    started = time.perf_counter()
                    metrics[name] = trainer.evaluate(variants[name])
                    times[name].append(round(time.perf_counter() - started, 2))
            ratios = [a / b for a, b in zip(times["as_given"], times["longest_first"])]
            result["samplers"][sampler] = {
                "wall_s": times,
                "speedup_longest_first": round(statistics.median(ratios), 3),
                "same_accuracy": metrics["as_given"]["eval_accuracy"] == metrics["longest_first"]["eval_accuracy"],
            }
    result["machine"] = machine()
    write_text_atomic(Path(options.output), json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["samplers"]))


if __name__ == "__main__":
    main()
