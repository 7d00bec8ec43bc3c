"""ControlPlaneClient: bearer auth, one automatic refresh on 401, login steps' own error text."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from tm_standin import Standin

from kvmesh.client import ControlPlaneClient, HttpStatusError, LoginError, MissingTokenError, Transport

pytest_plugins = ("tm_fixtures",)  # the `standin` fixture: a stand-in CP + Gateway


def _client(standin: Standin, tmp_path: Path, tokens: dict[str, str] | None) -> ControlPlaneClient:
    auth = tmp_path / "auth.json"
    if tokens is not None:
        auth.write_text(json.dumps(tokens))
    return ControlPlaneClient(standin.base, Transport(), auth)


def test_refreshes_once_and_rewrites_auth_json(standin: Standin, tmp_path: Path) -> None:
    standin.state.access_tokens.clear()
    client = _client(standin, tmp_path, {"access_token": "old", "refresh_token": "rt-1"})
    data, _ = client.profile()
    assert data["user"]["userEmail"] == "alice@example.com"
    assert json.loads((tmp_path / "auth.json").read_text())["access_token"] == "at-2"


def test_a_failed_refresh_reports_the_original_401(standin: Standin, tmp_path: Path) -> None:
    client = _client(standin, tmp_path, {"access_token": "old", "refresh_token": "rt-1"})
    standin.state.fail_next[:] = [401, 401]
    with pytest.raises(HttpStatusError) as caught:
        client.profile()
    assert caught.value.status == 401


def test_no_token_file_is_missing_token(standin: Standin, tmp_path: Path) -> None:
    with pytest.raises(MissingTokenError):
        _client(standin, tmp_path, None).profile()


def test_exchange_pending_then_tokens(standin: Standin, tmp_path: Path) -> None:
    client = _client(standin, tmp_path, None)
    start = client.login_start()
    assert start["cli_code"] == "abc"
    assert client.login_exchange("abc") is None
    assert client.login_exchange("abc")["access_token"] == "at-2"  # type: ignore[index]


def test_exchange_failure_uses_login_format(standin: Standin, tmp_path: Path) -> None:
    with pytest.raises(LoginError, match=r'^Login failed: 400 \{"error"'):
        _client(standin, tmp_path, None).login_exchange("wrong")
