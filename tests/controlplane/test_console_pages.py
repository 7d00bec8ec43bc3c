"""The web console over HTTP (what a browser sends): sign-in and redirect, CSRF on every form, tenant
isolation (404 for others' ids), admin checks, and pages that read the rollup (CSV equals the sums)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from records_harness import PASSWORD, deploy, record_usage, sign_up

from kvmesh.store.models import utcnow

PAGES = ["", "/usage", "/usage?period=7d", "/savings", "/billing", "/keys", "/deployments", "/playground"]


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def browser(live: Any, email: str) -> httpx.Client:
    """A cookie-keeping client signed in to the console as `email`."""
    client = httpx.Client(base_url=live.base_url, timeout=30)
    form = client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_from(form.text),
            "next": "/console/keys",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/keys"
    return client


@pytest.fixture
def two_users(control_plane: Any) -> dict[str, Any]:
    live = control_plane()
    alice, bob = sign_up(live, "alice@example.com"), sign_up(live, "bob@example.com")
    return {"live": live, "alice": alice, "bob": bob, "web": browser(live, "alice@example.com")}


def test_signed_out_requests_redirect_to_sign_in_with_the_page_to_return_to(control_plane: Any) -> None:
    live = control_plane()
    response = httpx.get(f"{live.base_url}/console/usage?period=7d")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/signin?next=%2Fconsole%2Fusage%3Fperiod%3D7d"


def test_every_page_renders_for_a_signed_in_user(two_users: dict[str, Any]) -> None:
    web = two_users["web"]
    for page in PAGES:
        response = web.get(f"/console{page}")
        assert response.status_code == 200, (page, response.text[:300])
        assert "alice@example.com" in response.text
        assert "script-src 'self'" in response.headers["content-security-policy"]


def test_wrong_password_is_refused_on_the_sign_in_page(control_plane: Any) -> None:
    live = control_plane()
    sign_up(live, "alice@example.com")
    client = httpx.Client(base_url=live.base_url)
    token = csrf_from(client.get("/console/signin").text)
    response = client.post(
        "/console/signin", data={"email": "alice@example.com", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401 and "Wrong email or password." in response.text


@pytest.mark.parametrize(
    "path",
    ["/console/keys", "/console/deployments", "/console/logout", "/console/signin"],
)
def test_forms_without_the_csrf_token_are_refused(two_users: dict[str, Any], path: str) -> None:
    web = two_users["web"]
    response = web.post(
        path, data={"name": "x", "served_name": "x", "email": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert len(sign_up_keys(web)) == 1  # nothing was created


def sign_up_keys(web: httpx.Client) -> list[str]:
    return re.findall(r'data-key-id="([^"]+)"', web.get("/console/keys").text)


def test_a_forged_csrf_token_does_not_revoke(two_users: dict[str, Any]) -> None:
    web = two_users["web"]
    token = csrf_from(web.get("/console/keys").text)
    web.post("/console/keys", data={"name": "second", "csrf_token": token})
    key_id = sign_up_keys(web)[0]
    response = web.post(f"/console/keys/{key_id}/revoke", data={"csrf_token": "0" * 64, "confirm": "yes"})
    assert response.status_code == 403 and key_id in sign_up_keys(web)


def test_key_create_shows_it_once_then_revoke_needs_confirmation(two_users: dict[str, Any]) -> None:
    web = two_users["web"]
    token = csrf_from(web.get("/console/keys").text)
    created = web.post("/console/keys", data={"name": "laptop", "csrf_token": token})
    secret = re.search(r'<code id="new-key">([^<]+)</code>', created.text)
    assert secret and secret.group(1) not in web.get("/console/keys").text
    key_id = sign_up_keys(web)[0]
    revealed = web.post(f"/console/keys/{key_id}/reveal", data={"csrf_token": token})
    assert f'<code id="revealed-key">{secret.group(1)}</code>' in revealed.text
    assert "Revoke API key?" in web.get(f"/console/keys/{key_id}/revoke").text
    unconfirmed = web.post(f"/console/keys/{key_id}/revoke", data={"csrf_token": token})
    assert unconfirmed.status_code == 400 and key_id in sign_up_keys(web)
    done = web.post(f"/console/keys/{key_id}/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and key_id not in sign_up_keys(web)


def test_another_users_keys_and_deployments_answer_404(two_users: dict[str, Any]) -> None:
    web, bob = two_users["web"], two_users["bob"]
    bob_key = bob.client.get("/v1/users/api-keys").json()["apiKeys"][0]["keyId"]
    bob_deployment = deploy(bob)["deploymentId"]
    token = csrf_from(web.get("/console/keys").text)
    assert web.get(f"/console/keys/{bob_key}/revoke").status_code == 404
    assert web.post(f"/console/keys/{bob_key}/reveal", data={"csrf_token": token}).status_code == 404
    revoke = web.post(f"/console/keys/{bob_key}/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert revoke.status_code == 404
    for path in (f"/console/deployments/{bob_deployment}", f"/console/deployments/{bob_deployment}/delete"):
        assert web.get(path).status_code == 404
    delete = web.post(
        f"/console/deployments/{bob_deployment}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert delete.status_code == 404
    assert (
        bob.client.get(f"/v1/deployments/{bob_deployment}").json()["deployment"]["status"]
        != "MODEL_STATUS_DELETED"
    )
    assert "bob@example.com" not in web.get("/console/deployments").text


def test_another_users_usage_is_invisible(two_users: dict[str, Any]) -> None:
    live, web = two_users["live"], two_users["web"]
    record_usage(live, two_users["bob"].user_id, model="bobs-secret-model", cost_micros=5_000_000)
    usage = web.get("/console/usage").text
    assert "bobs-secret-model" not in usage
    assert "bobs-secret-model" not in web.get("/console/usage.csv").text


def test_usage_csv_rows_sum_to_the_usage_in_the_period(two_users: dict[str, Any]) -> None:
    live, web, alice = two_users["live"], two_users["web"], two_users["alice"]
    now = utcnow()
    for days, cost in ((0, 1_000), (3, 20_000), (20, 300_000), (40, 999)):
        record_usage(live, alice.user_id, model="m", cost_micros=cost, created_at=now - timedelta(days=days))
    response = web.get("/console/usage.csv?period=30d&model=m")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(r["requests"]) for r in rows) == 3
    assert sum(float(r["cost_usd"]) for r in rows) == pytest.approx(0.321)
    assert "period=30d" in web.get("/console/usage?period=30d&model=m").text  # filters stay in the URL


def test_deployment_is_created_from_the_catalog_and_deleted_after_confirmation(
    two_users: dict[str, Any],
) -> None:
    web = two_users["web"]
    token = csrf_from(web.get("/console/deployments").text)
    created = web.post(
        "/console/deployments",
        data={
            "catalog_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "served_name": "my-smol",
            "replicas": "1",
            "csrf_token": token,
        },
    )
    assert created.status_code == 303
    listing = web.get("/console/deployments").text
    deployment_id = re.search(r'data-deployment-id="([^"]+)"', listing)
    assert deployment_id and "my-smol" in listing
    detail = web.get(f"/console/deployments/{deployment_id.group(1)}").text
    assert "CREATED" in detail
    bad = web.post("/console/deployments", data={"served_name": "Bad Name!", "csrf_token": token})
    assert bad.status_code == 400 and "invalid" in bad.text
    gone = web.post(
        f"/console/deployments/{deployment_id.group(1)}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert gone.status_code == 303 and "my-smol" not in web.get("/console/deployments").text


def test_admin_pages_refuse_users_and_let_admins_grant_credit(two_users: dict[str, Any]) -> None:
    live, web, bob = two_users["live"], two_users["web"], two_users["bob"]
    token = csrf_from(web.get("/console/keys").text)
    assert web.get("/console/admin/users").status_code == 403
    refused = web.post(
        f"/console/admin/users/{bob.user_id}/credit", data={"amount": "5", "csrf_token": token}
    )
    assert refused.status_code == 403
    sign_up(live, "root@example.com", admin=True)
    admin = browser(live, "root@example.com")
    page = admin.get("/console/admin/users")
    assert page.status_code == 200 and "bob@example.com" in page.text
    admin_token = csrf_from(page.text)
    granted = admin.post(
        f"/console/admin/users/{bob.user_id}/credit", data={"amount": "2.5", "csrf_token": admin_token}
    )
    assert granted.status_code == 303
    balance = bob.client.get("/v1/billing/balance").json()["balance"]
    assert balance["units"] == "12" and balance["nanos"] == 500_000_000
    bad = admin.post(
        f"/console/admin/users/{bob.user_id}/credit", data={"amount": "-1", "csrf_token": admin_token}
    )
    assert bad.status_code == 400
