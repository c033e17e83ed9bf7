"""The progress bars of the libraries underneath: datasets' (tokenizing, flattening) and transformers' (loading and
saving weights), which the Trainer's `disable_tqdm` does not reach."""

from __future__ import annotations

from contextlib import contextmanager

import datasets
import transformers


@contextmanager
def library_bars_off():
    """Turn them off for a while, and back on after if they were on."""
    shown = not datasets.are_progress_bars_disabled(), transformers.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown[0]:
            datasets.enable_progress_bars()
        if shown[1]:
            transformers.utils.logging.enable_progress_bar()
