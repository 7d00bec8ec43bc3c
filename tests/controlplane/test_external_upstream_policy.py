"""External deployments: users cannot point an upstream at loopback, private or metadata addresses."""

from __future__ import annotations

from typing import Any

import pytest
from records_harness import sign_up

from kvmesh.engines.upstream_policy import ADMIN_APPROVED
from kvmesh.store.models import Deployment


def _create(account: Any, url: str, **extra: Any) -> Any:
    body = {"modelName": "ext", "provider": "external", "upstreamUrl": url, **extra}
    return account.client.post("/v1/deployments", json=body)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8081/v1",
        "http://localhost:8080",
        "http://[::ffff:127.0.0.1]:8080",
        "http://2130706433:8080",
        "http://169.254.169.254/latest",
        "http://10.0.0.7:8000",
    ],
)
def test_a_user_cannot_create_an_upstream_on_a_local_address(control_plane: Any, url: str) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    response = _create(alice, url)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "upstream_not_allowed"
    assert "an admin must allow it" in error["message"]
    assert alice.client.get("/v1/deployments").json()["deployments"] == []


def test_every_base_url_of_a_deployment_is_checked(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    response = _create(alice, "http://93.184.216.34/v1", engineConfig={"base_urls": ["http://[::1]:1/v1"]})
    assert response.status_code == 403


def test_the_operator_allowlist_admits_a_network(control_plane: Any) -> None:
    live = control_plane(upstream_allowlist=("127.0.0.0/8",))
    alice = sign_up(live, "alice@example.com")
    assert _create(alice, "http://127.0.0.1:9/v1").status_code == 201
    assert _create(alice, "http://192.168.1.1/v1", modelName="ext2").status_code == 403


def test_an_admin_may_create_a_local_upstream_and_it_is_marked_trusted(control_plane: Any) -> None:
    live = control_plane()
    owner = sign_up(live, "owner@example.com", admin=True)
    response = _create(owner, "http://127.0.0.1:9/v1")
    assert response.status_code == 201
    with live.app.state.services.session_factory() as session:
        deployment = session.get(Deployment, response.json()["deployment"]["deploymentId"])
        assert deployment is not None and deployment.engine_config[ADMIN_APPROVED] is True


def test_a_user_cannot_mark_an_upstream_trusted_themselves(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    response = _create(alice, "http://127.0.0.1:9/v1", engineConfig={ADMIN_APPROVED: True})
    assert response.status_code == 403
    public = _create(alice, "http://93.184.216.34/v1", engineConfig={ADMIN_APPROVED: True})
    assert public.status_code == 201
    with live.app.state.services.session_factory() as session:
        deployment = session.get(Deployment, public.json()["deployment"]["deploymentId"])
        assert deployment is not None and ADMIN_APPROVED not in deployment.engine_config
