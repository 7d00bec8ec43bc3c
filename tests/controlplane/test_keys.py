"""User API keys: the listed `id` is the usable key, create/expire/revoke, and the last key is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from records_harness import deploy, sign_up
from sqlalchemy import select

from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.store.models import ApiKey, utcnow
from kvmesh.store.secrets import encrypt_api_key
from kvmesh.store.users import find_active_api_key


def test_listed_id_is_the_clear_key_that_authenticates(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    keys = alice.client.get("/v1/users/api-keys", params={"userId": alice.user_id}).json()["apiKeys"]
    assert [key["id"] for key in keys] == [alice.account_key]
    assert keys[0]["prefix"] == alice.account_key[:12] and keys[0]["deletedAt"] is None
    services = live.app.state.services
    with services.session_factory() as session:
        row = find_active_api_key(session, services.secret, keys[0]["id"])
        assert row is not None and row.id == keys[0]["keyId"]


def test_created_key_is_returned_once_in_clear_with_its_metadata(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    expires = format_rfc3339(utcnow() + timedelta(days=7))
    response = alice.client.post(
        "/v1/users/api-keys",
        json={"userId": alice.user_id, "name": "ci", "scopes": ["inference"], "expiresAt": expires},
    )
    assert response.status_code == 200, response.text
    created = response.json()["apiKey"]
    assert created["id"].startswith("tmk_") and created["name"] == "ci" and created["scopes"] == ["inference"]
    assert created["expiresAt"] == expires
    listed = alice.client.get("/v1/users/api-keys").json()["apiKeys"]
    assert listed[0]["id"] == created["id"]  # newest first


def test_past_or_malformed_expiry_is_refused(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    for bad in [format_rfc3339(utcnow() - timedelta(minutes=1)), "tomorrow"]:
        response = alice.client.post("/v1/users/api-keys", json={"expiresAt": bad})
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_expires_at"


def test_delete_by_key_or_key_id_revokes_and_shows_deleted_at(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    second = alice.client.post("/v1/users/api-keys", json={"name": "2"}).json()["apiKey"]
    third = alice.client.post("/v1/users/api-keys", json={"name": "3"}).json()["apiKey"]
    by_key = alice.client.delete(
        "/v1/users/api-keys", params={"apiKey": second["id"], "userId": alice.user_id}
    )
    assert by_key.status_code == 200 and by_key.json() == {"empty": {}}
    assert alice.client.delete("/v1/users/api-keys", params={"keyId": third["keyId"]}).status_code == 200
    active = alice.client.get("/v1/users/api-keys").json()["apiKeys"]
    assert [key["id"] for key in active] == [alice.account_key]
    everything = alice.client.get("/v1/users/api-keys", params={"includeDeleted": "true"}).json()["apiKeys"]
    assert sorted(key["name"] for key in everything if key["deletedAt"]) == ["2", "3"]
    again = alice.client.delete("/v1/users/api-keys", params={"apiKey": second["id"]})
    assert again.status_code == 404


def test_last_active_account_key_cannot_be_deleted(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    response = alice.client.delete("/v1/users/api-keys", params={"apiKey": alice.account_key})
    assert response.status_code == 409 and response.json()["error"]["code"] == "last_api_key"
    assert alice.client.delete("/v1/users/api-keys").status_code == 400


def test_deployment_keys_are_listed_on_request_and_deleted_only_with_their_deployment(
    control_plane: Any,
) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice)
    default = alice.client.get("/v1/users/api-keys").json()["apiKeys"]
    assert all(key["deploymentId"] is None for key in default)
    both = alice.client.get("/v1/users/api-keys", params={"includeDeploymentKeys": "true"}).json()["apiKeys"]
    bound = [key for key in both if key["deploymentId"] == record["deploymentId"]]
    assert [key["id"] for key in bound] == [record["apiKey"]]
    response = alice.client.delete("/v1/users/api-keys", params={"apiKey": record["apiKey"]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "deployment_key"


def test_a_key_sealed_under_another_server_secret_does_not_break_listings(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice)
    with live.app.state.services.session_factory() as session:
        for row in session.scalars(select(ApiKey).where(ApiKey.user_id == alice.user_id)):
            row.key_encrypted = encrypt_api_key(b"another-server-secret-of-32-bytes!", "tmk_x")
        session.commit()
    keys = alice.client.get("/v1/users/api-keys").json()["apiKeys"]
    assert [key["id"] for key in keys] == [keys[0]["keyId"]]
    model = alice.client.get(f"/v1/models/{record['deploymentId']}").json()["model"]
    assert model["apiKey"] is None
