"""`tm models list|get|delete` and `tm users api-keys ...` against the stand-in Control Plane."""

from __future__ import annotations

import json
from pathlib import Path

from tm_harness import Invoke, signed_in
from tm_standin import USER_ID, Standin

pytest_plugins = ("tm_fixtures",)


def test_models_list_prints_inventory(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    data = json.loads(tm("--output", "json", "models", "list").stdout)
    assert data["models"][0]["modelName"] == "smollm2-135m-instruct"


def test_models_get_unknown_is_a_404(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("models", "get", "a/b")
    assert result.exit_code == 1
    assert f"url={standin.base}/v1/models/a%2Fb" in result.stderr


def test_models_delete_declined_aborts(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("models", "delete", "dep-1", input="n\n")
    assert result.exit_code == 1
    assert "Aborted!" in result.output


def test_api_key_create_uses_own_user_id(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("--output", "json", "users", "api-keys", "create", "--name", "ci", "--yes")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["apiKey"]["id"] == "tmk_new_0"
    assert standin.state.requests[-1]["body"] == {"userId": USER_ID, "name": "ci"}


def test_api_key_list_and_delete(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.api_keys.append({"id": "tmk_abc", "createdAt": "2026-01-01T00:00:00Z"})
    assert "tmk_abc" in tm("users", "api-keys", "list").stdout
    assert tm("users", "api-keys", "delete", "--api-key", "tmk_abc", "--yes").exit_code == 0
    assert standin.state.api_keys == []


def test_api_key_delete_without_key_is_a_usage_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("users", "api-keys", "delete", "--yes")
    assert result.exit_code == 2
    assert "Missing API key. Provide --api-key or pass JSON via --json/--file/stdin." in result.stderr
