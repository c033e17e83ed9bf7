"""`--help`: every option of this project, grouped, with its help and default, exit status 0."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from config.arguments import CheckerArguments, DataArguments, ModelArguments, PredictArguments, WeightedTrainingArguments
from config.help import TRAINING_ARGUMENTS_DOCS

ROOT = Path(__file__).resolve().parent.parent


def _help(capsys, command: str, flag: str = "--help") -> str:
    assert main([flag], command=command) == 0
    return capsys.readouterr().out


def _own(cls) -> list[str]:
    return [name for name in cls.__dict__["__annotations__"] if name in {f.name for f in dataclasses.fields(cls)}]


def test_run_help_lists_every_option_of_the_project_once(capsys):
    text = _help(capsys, "run")
    assert text.startswith("usage: python run.py [CONFIG.json]")
    names = [f.name for cls in (ModelArguments, DataArguments, CheckerArguments) for f in dataclasses.fields(cls)]
    names += _own(WeightedTrainingArguments)
    for name in names:
        assert len(re.findall(rf"^  --{name} ", text, flags=re.M)) == 1, name
    for title in ("Model:", "Data:", "Checkers:", "Loss and weighting:", "Training and model selection:",
                  "Hugging Face hub:"):
        assert f"\n{title}\n" in text
    assert TRAINING_ARGUMENTS_DOCS in text.replace("\n", "")


def test_score_help_lists_what_scoring_reads_and_leaves_the_training_options_to_run_help(capsys):
    text = _help(capsys, "score")
    assert text.startswith("usage: python score.py [CONFIG.json]")
    names = [f.name for cls in (ModelArguments, DataArguments, CheckerArguments) for f in dataclasses.fields(cls)]
    names += ["problem_type", "weight_epsilon", "output_dir", "overwrite_output_dir", "report_to", "seed", "use_cpu"]
    for name in names:
        assert len(re.findall(rf"^  --{name} ", text, flags=re.M)) == 1, name
    for name in ("learning_rate", "num_train_epochs", "early_stopping_patience", "push_to_hub", "max_steps"):
        assert f"--{name} " not in text, name
    assert "\nOutput and run:\n" in text and "Training and model selection:" not in text
    assert "run.py's training options (python run.py --help) are accepted too" in " ".join(text.split())


def test_help_shows_each_option_help_and_default(capsys):
    text = " ".join(_help(capsys, "run", "-h").split())
    assert "--learning_rate NUMBER Peak learning rate. (default: 6e-05)" in text
    assert "--pad_to_max_length true|false Pad every input" in text
    # the flags-only default beside the dataclass's, from configs/config_recommended.json
    assert re.search(r"--num_train_epochs NUMBER Training epochs\. \(default: 5\.0; without a config file: \d", text)
    assert "--real_validation_fraction NUMBER Without a validation split" in text and "(default: 0.2)" in text
    assert "--seed INT Random seed" in text  # a Hugging Face option, with transformers' own help
    # defaults as a config file writes them; every type an option takes
    assert "--test_file TEXT Test data, evaluated once at the end. (default: null)" in text
    assert "(default: false)" in text.split("--pad_to_max_length ", 1)[1].split(" --", 1)[0]
    assert "--report_to LIST|TEXT Loggers" in text
    # each loss once, the authors' name beside ours, and what it weighs by; and what the project adds to an HF option
    assert ("single_label_classification_dimp or single_label_classification_myloss_v2 (DIMP, w = P'/P, P the model "
            "being trained)") in text
    assert "single_label_classification_quality_only (DIMP without diversity checker, w = P')" in text
    assert "--disable_tqdm true|false Disable tqdm progress bars." in text and "Here true also turns off" in text


def test_predict_help(capsys):
    text = " ".join(_help(capsys, "predict").split())
    assert text.startswith("usage: python predict.py --model OUTPUT_DIR --input FILE --output FILE")
    for f in dataclasses.fields(PredictArguments):
        assert f"--{f.name} " in text
    assert "--model TEXT The trained model" in text and "(required)" in text
    assert TRAINING_ARGUMENTS_DOCS not in text  # predict.py takes no training option
    # its max_seq_length is its own, not the recommended training config's (128, a run's without a config file)
    assert "the training run's, else 128. (default: null)" in text and "without a config file" not in text
    # its disable_tqdm is its own too: what run.py's adds about the Trainer is not said of it
    assert "--disable_tqdm true|false No progress bar" in text and "Trainer" not in text


@pytest.mark.parametrize("columns, widest", [(60, 60), (300, 110)])
def test_help_fits_the_terminal_up_to_a_readable_width(capsys, monkeypatch, columns, widest):
    monkeypatch.setenv("COLUMNS", str(columns))
    lines = _help(capsys, "run").splitlines()[1:]  # the usage line and option names are not wrapped
    assert max(len(line) for line in lines if not line.startswith("  --")) <= widest
    assert all(line.startswith(("  --", " " * 6)) for line in lines if line.startswith(" "))  # help under its option


def test_the_real_command_prints_help_and_exits_0():
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # transformers itself prints this line on import whenever WANDB_MODE=offline (as in CI)
    out = done.stdout.removeprefix("[INFO] Running in WANDB offline mode\n")
    assert out.startswith("usage: python run.py") and "error" not in done.stderr


def test_the_help_and_a_mistyped_option_are_told_without_importing_the_trainer():
    """Importing the Trainer took half of `run.py --help`'s time here (seconds), and neither needs it."""
    driver = ("import sys\nfrom app.cli import main\n"
              "for argv in (['--help'], ['--learning_rat', '1e-4']):\n"
              "    print(main(argv), 'transformers.trainer' in sys.modules, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", driver], cwd=ROOT, capture_output=True, text=True, timeout=120)
    mistyped = "error: command line: unknown option 'learning_rat'; did you mean 'learning_rate'?"
    assert done.stderr.splitlines()[-3:] == ["0 False", mistyped, "2 False"], done.stderr


def test_help_into_a_closed_pipe_ends_quietly():
    """`python run.py --help | head` (or a pager quit early): the reader is gone before the help is written, as
    `true` is; exit status 0 and no BrokenPipeError traceback. (Without WANDB_MODE=offline, under which
    transformers prints a line to stdout when imported, before any of this code runs.)"""
    env = {key: value for key, value in os.environ.items() if key != "WANDB_MODE"}
    shown = subprocess.run(["bash", "-c", f"{sys.executable} {ROOT / 'run.py'} --help | true; echo ${{PIPESTATUS[0]}}"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert (shown.stdout, shown.stderr) == ("0\n", "")
