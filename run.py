#!/usr/bin/env python
"""Train a text classifier with CE, Focal, IMP or DIMP loss.

    python run.py configs/config_DIMP.json [--key value ...]
"""

from app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
