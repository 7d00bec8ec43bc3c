"""Text the store cannot hold (lone surrogates) and out-of-range timestamps are client errors, not 500s."""

from __future__ import annotations

from typing import Any

import pytest
from records_harness import sign_up

LONE_SURROGATE_JSON = '"bad \\ud800 name"'  # JSON text: a valid escape that decodes to an unpaired surrogate


def _post_raw(account: Any, path: str, json_text: str) -> Any:
    return account.client.post(path, content=json_text, headers={"Content-Type": "application/json"})


def test_a_lone_surrogate_in_a_key_name_is_a_client_error(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    response = _post_raw(alice, "/v1/users/api-keys", '{"name": ' + LONE_SURROGATE_JSON + "}")
    assert response.status_code == 422
    assert (
        response.json()["error"]["message"]
        == "name: Value error, must not contain unpaired UTF-16 surrogates"
    )


@pytest.mark.parametrize(
    "field",
    [
        '"description": ' + LONE_SURROGATE_JSON,
        '"engineConfig": {"threads": ' + LONE_SURROGATE_JSON + "}",
        '"engineConfig": {' + LONE_SURROGATE_JSON + ": 1}",
    ],
)
def test_a_lone_surrogate_in_a_deployment_is_a_client_error(control_plane: Any, field: str) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    response = _post_raw(alice, "/v1/deployments", '{"modelName": "m1", ' + field + "}")
    assert response.status_code == 422
    assert "surrogates" in response.json()["error"]["message"]


def test_a_lone_surrogate_in_the_reference_model_spec_is_a_client_error(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    body = '{"modelName": "m1", "modelSpec": {"engineConfig": {"x": [' + LONE_SURROGATE_JSON + "]}}}"
    assert _post_raw(alice, "/v1/models", body).status_code == 422


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_out_of_range_since_is_a_400(control_plane: Any, since: str) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    response = alice.client.get("/v1/billing/usage", params={"since": since})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_since"
    assert "out of range" in response.json()["error"]["message"]


def test_an_out_of_range_key_expiry_is_a_400(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    response = alice.client.post(
        "/v1/users/api-keys", json={"name": "k", "expiresAt": "9999-12-31T23:59:59-01:00"}
    )
    assert response.status_code == 400
