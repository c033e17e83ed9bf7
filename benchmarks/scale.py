"""Reading and scoring many generated pairs with score.py, to see how peak memory and time grow with their number.

The pairs are the CTRL-generated MRPC training pairs repeated to size. The checker is a small random BERT (2 layers,
hidden size 32) with MiniLM's tokenizer, so that inputs have their real token counts: scoring a million pairs with
MiniLM itself would take hours on 2 CPU cores, and this part measures the data path, not the model.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from itertools import cycle, islice
from pathlib import Path

from data.files import data_root

GENERATED = "synthetic/mrpc_fewgen_ctrl_seed13/train.jsonl"
TOKENIZER = "sentence-transformers/all-MiniLM-L6-v2"


def make_pairs(count: int, folder: Path) -> Path:
    """`count` generated pairs, the file's lines repeated, with its labels.json beside them."""
    source = data_root() / GENERATED
    path = folder / f"pairs-{count}" / "train.jsonl"
    if path.is_file() and sum(1 for _ in path.open("rb")) == count:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [line for line in source.read_bytes().splitlines(keepends=True) if line.strip()]
    with path.open("wb") as out:
        out.writelines(islice(cycle(lines), count))
    shutil.copy(source.parent / "labels.json", path.parent / "labels.json")
    return path


def small_checker(folder: Path) -> Path:
    """A 2-layer BERT of hidden size 32, random (seeded), with MiniLM's tokenizer and the task's label names."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, set_seed

    from references.models import resolve_model

    if (folder / "config.json").is_file():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(TOKENIZER, "tokenizer").location)
    names = json.loads((data_root() / GENERATED).with_name("labels.json").read_text())
    set_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=len(names), id2label={int(k): v for k, v in names.items()},
                        label2id={v: int(k) for k, v in names.items()})
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def scale(work: Path, env: dict, job_class, trees: dict[str, tuple[Path, list[int]]], earlier: list[dict]) -> dict:
    """score.py on each size of each tree (name -> its folder and its sizes). A tree given no sizes keeps its
    `earlier` runs (the base commit's, say, when only the new tree is measured again)."""
    checker = small_checker(work / "small-checker")
    runs = []
    for name, (tree, tree_sizes) in trees.items():
        for count in tree_sizes:
            pairs = make_pairs(count, work)
            out = work / f"scale-{name}-{count}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            config = out / "config.json"
            config.write_text(json.dumps({
                "model_name_or_path": str(checker), "quality_checker_model": str(checker),
                "train_file": str(pairs), "max_seq_length": 128, "report_to": "none",
                "output_dir": str(out / "output")}))
            job = job_class([sys.executable, str(tree / "score.py"), str(config)], out, out / "log.txt", env).run()
            rows = None
            if job["exit_code"] == 0:
                with (out / "output" / "weights.csv").open(newline="", encoding="utf-8") as f:
                    rows = sum(1 for _ in csv.reader(f)) - 1
            runs.append({"tree": name, "pairs": count, "file_mb": round(pairs.stat().st_size / 2**20, 1),
                         "weights_csv_rows": rows, **job})
            print(f"scale {name} {count}: {runs[-1]}", flush=True)
    runs += [run for run in earlier if run["tree"] in trees and not trees[run["tree"]][1]]
    return {"checker": "BERT, 2 layers, hidden 32, MiniLM's tokenizer (random weights)", "runs": runs}
