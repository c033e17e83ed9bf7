"""The libraries' own progress bars are off while predict.py draws one bar of its own, or a run asked for none
(disable_tqdm), and as they were after."""

from __future__ import annotations

import datasets
import pytest
import transformers

from trainer.progress import library_bars_off

SWITCHES = ((datasets.enable_progress_bars, datasets.disable_progress_bars),
            (transformers.utils.logging.enable_progress_bar, transformers.utils.logging.disable_progress_bar))


def _shown() -> tuple[bool, bool]:
    return not datasets.are_progress_bars_disabled(), transformers.utils.logging.is_progress_bar_enabled()


def _set(shown: tuple[bool, bool]) -> None:
    for on, (enable, disable) in zip(shown, SWITCHES):
        (enable if on else disable)()


@pytest.mark.parametrize("before", [(True, True), (False, True), (True, False), (False, False)])
def test_library_bars_are_off_inside_and_as_they_were_after(before):
    suite = _shown()
    _set(before)
    try:
        with pytest.raises(KeyError):
            with library_bars_off():
                assert _shown() == (False, False)
                raise KeyError("a failure inside")
        assert _shown() == before
    finally:
        _set(suite)
