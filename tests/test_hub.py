"""push_to_hub is checked before any work: a token, a reachable hub, and a token the hub accepts."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from config.loading import ConfigError
from trainer import hub
from trainer.hub import check_hub_access


def _args(**changes) -> SimpleNamespace:
    return SimpleNamespace(**{"push_to_hub": True, "hub_token": "hf_x", "hub_model_id": None, "output_dir": "out",
                              **changes})


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    return monkeypatch


def test_nothing_is_checked_without_push_to_hub(monkeypatch):
    monkeypatch.setattr(hub, "get_token", lambda: pytest.fail("looked for a token"))
    check_hub_access(_args(push_to_hub=False, hub_token=None))


def test_an_unreachable_hub_is_said_to_be_unreachable_before_the_token_is_sent(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(hub.HfApi, "whoami", lambda self, token: pytest.fail("asked the hub"))
    with pytest.raises(ConfigError, match=r"^push_to_hub: the Hugging Face hub is unreachable \(no network"):
        check_hub_access(_args())


@pytest.mark.parametrize("error", [PermissionError("401 Unauthorized"), ValueError("Invalid user token.")])
def test_a_token_the_hub_refuses_stops_the_run_before_any_work(online, error):
    def refuse(self, token):
        assert token == "hf_x"
        raise error

    online.setattr(hub.HfApi, "whoami", refuse)
    refused = rf"^push_to_hub: the hub did not accept the token \({type(error).__name__}\); log in again with `hf auth "
    with pytest.raises(ConfigError, match=refused + "login`$"):
        check_hub_access(_args())


@pytest.mark.parametrize("hub_token, hub_model_id, where", [("hf_x", "someone/model", "someone/model"),
                                                            (None, None, "out")])
def test_an_accepted_token_says_where_the_model_goes_and_as_whom(online, tmp_path, caplog, hub_token, hub_model_id,
                                                                 where):
    online.setattr(hub, "get_token", lambda: "hf_x")  # `hf auth login`'s, where hub_token is not given
    online.setattr(hub.HfApi, "whoami", lambda self, token: {"name": "me"} if token == "hf_x" else {})
    online.chdir(tmp_path)
    with caplog.at_level(logging.INFO):
        check_hub_access(_args(hub_token=hub_token, hub_model_id=hub_model_id))
    assert f"push_to_hub: the model will be pushed to {where} as me at the end of training" in caplog.messages
