"""Isolation: another user's resources are 404, another user's `userId` is 403, admins may look."""

from __future__ import annotations

from typing import Any

from records_harness import deploy, record_usage, sign_up


def test_another_users_model_is_not_found_for_get_or_delete(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    mallory = sign_up(live, "mallory@example.com")
    model_id = deploy(alice)["deploymentId"]
    for method, path in [
        ("GET", f"/v1/models/{model_id}"),
        ("DELETE", f"/v1/models/{model_id}"),
        ("GET", f"/v1/deployments/{model_id}"),
        ("DELETE", f"/v1/deployments/{model_id}"),
    ]:
        response = mallory.client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "model_not_found"
    assert mallory.client.get("/v1/models").json() == {"models": []}
    assert alice.client.get(f"/v1/models/{model_id}").json()["model"]["status"] == "MODEL_STATUS_PENDING"


def test_another_users_api_key_cannot_be_deleted_or_listed(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    mallory = sign_up(live, "mallory@example.com")
    spare = alice.client.post("/v1/users/api-keys", json={"name": "spare"}).json()["apiKey"]
    for params in ({"apiKey": spare["id"]}, {"keyId": spare["keyId"]}):
        response = mallory.client.delete("/v1/users/api-keys", params=params)
        assert response.status_code == 404, params
    listed = mallory.client.get("/v1/users/api-keys").json()["apiKeys"]
    assert [key["id"] for key in listed] == [mallory.account_key]
    assert len(alice.client.get("/v1/users/api-keys").json()["apiKeys"]) == 2


def test_naming_another_user_id_is_forbidden(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    mallory = sign_up(live, "mallory@example.com")
    record_usage(live, alice.user_id)
    foreign = {"userId": alice.user_id}
    for path in [
        "/v1/models",
        "/v1/deployments",
        "/v1/users/api-keys",
        "/v1/billing/balance",
        "/v1/billing/transactions",
        "/v1/billing/usage",
        "/v1/billing/spending/summary",
        "/v1/billing/spending/history",
    ]:
        response = mallory.client.get(path, params=foreign)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden_user"
    for path, body in [
        ("/v1/users/api-keys", {"userId": alice.user_id}),
        ("/v1/deployments", {"modelName": "x", "userId": alice.user_id}),
        ("/v1/models", {"modelName": "x", "userId": alice.user_id}),
        ("/v1/models:validate", {"modelName": "x", "userId": alice.user_id}),
    ]:
        assert mallory.client.post(path, json=body).status_code == 403, path
    assert mallory.client.get("/v1/billing/usage").json()["usage"] == []
    assert mallory.client.get("/v1/billing/balance", params={"userId": "not-a-uuid"}).status_code == 400


def test_admin_may_read_another_users_records_but_not_their_keys_in_clear(control_plane: Any) -> None:
    live = control_plane()
    admin = sign_up(live, "root@example.com", admin=True)
    alice = sign_up(live, "alice@example.com")
    deploy(alice)
    as_alice = {"userId": alice.user_id.upper()}
    assert admin.client.get("/v1/billing/balance", params=as_alice).status_code == 200
    models = admin.client.get("/v1/models", params=as_alice).json()["models"]
    assert len(models) == 1 and models[0]["apiKey"] is None
    keys = admin.client.get("/v1/users/api-keys", params=as_alice).json()["apiKeys"]
    assert keys[0]["id"] == keys[0]["keyId"] and keys[0]["id"] != alice.account_key


def test_requests_without_a_valid_token_are_401(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    for path in ["/v1/models", "/v1/users/api-keys", "/v1/billing/serverless-pricing", "/v1/billing/balance"]:
        anonymous = alice.client.get(path, headers={"Authorization": ""})
        assert anonymous.status_code == 401, path
        forged = alice.client.get(path, headers={"Authorization": f"Bearer {alice.account_key}"})
        assert forged.status_code == 401, path
