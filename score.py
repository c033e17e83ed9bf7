#!/usr/bin/env python
"""Score the training data with the checkers, without training: weights.csv, weights_report.md and its plots.

    python score.py configs/config_IMP.json [--key value ...]
"""

from app.cli import main

if __name__ == "__main__":
    raise SystemExit(main(command="score"))
