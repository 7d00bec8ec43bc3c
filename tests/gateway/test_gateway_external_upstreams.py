"""External upstreams through the Gateway: their own API key is sent, and local addresses stay off limits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from gateway_harness import GatewayStore, LiveGateway
from gateway_standin import StandInUpstream

from kvmesh.engines.upstream_policy import ADMIN_APPROVED
from kvmesh.store.models import Deployment, Replica
from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY, encrypt_secret

UPSTREAM_KEY = "sk-upstream-only"


class KeyRequiringUpstream:
    """The stand-in upstream behind a key check on every path (as hosted OpenAI-compatible APIs do)."""

    def __init__(self) -> None:
        self.inner = StandInUpstream()
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            authorization = headers.get(b"authorization", b"").decode()
            self.seen.append((scope["path"], authorization))
            if authorization != f"Bearer {UPSTREAM_KEY}":
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b'{"error": "bad key"}'})
                return
        await self.inner(scope, receive, send)


def _external(store: GatewayStore, user_id: str, name: str, url: str, **config: Any) -> str:
    """An external deployment as the Control Plane stores it: upstream key encrypted in engine_config."""
    engine_config = {
        "base_url": url,
        ENCRYPTED_UPSTREAM_KEY: encrypt_secret(store.secret, UPSTREAM_KEY),
        **config,
    }
    with store.sessions() as session, session.begin():
        deployment = Deployment(
            user_id=user_id,
            served_name=name,
            status="ready",
            provider="external",
            engine_config=engine_config,
        )
        session.add(deployment)
        session.flush()
        session.add(Replica(deployment_id=deployment.id, ordinal=0, url=url, status="ready"))
        return deployment.id


def _chat(gateway: LiveGateway, key: str, user_id: str, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}", "X-User-Id": user_id}
    return httpx.post(gateway.base_url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def test_the_gateway_sends_the_upstream_key_of_an_external_deployment(
    store: GatewayStore, serve_app: Any, start_gateway: Callable[..., LiveGateway]
) -> None:
    upstream = KeyRequiringUpstream()
    base = serve_app(lambda port: upstream).base_url
    tenant = store.add_user()
    _external(store, tenant.user_id, "ext", base + "/v1")
    response = _chat(start_gateway(), tenant.key, tenant.user_id, "ext")
    assert response.status_code == 200, response.text
    assert ("/v1/chat/completions", f"Bearer {UPSTREAM_KEY}") in upstream.seen
    assert tenant.key not in str(upstream.seen)  # the caller's gateway key never goes upstream


def test_the_probe_that_readmits_an_ejected_replica_sends_the_key_too(
    store: GatewayStore, start_gateway: Callable[..., LiveGateway]
) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, not listening: refused until the upstream starts on it
    tenant = store.add_user()
    _external(store, tenant.user_id, "comes-back", f"http://127.0.0.1:{sock.getsockname()[1]}/v1")
    gateway = start_gateway()
    assert _chat(gateway, tenant.key, tenant.user_id, "comes-back").status_code == 502
    assert len(gateway.app.pool.ejected_ids()) == 1
    upstream = KeyRequiringUpstream()
    server = uvicorn.Server(uvicorn.Config(upstream, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while gateway.app.pool.ejected_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gateway.app.pool.ejected_ids() == []
        assert ("/health", f"Bearer {UPSTREAM_KEY}") in upstream.seen
    finally:
        server.should_exit = True
        thread.join(5)


def test_a_users_upstream_on_a_local_address_is_refused_on_connect(
    store: GatewayStore, serve_app: Any, start_gateway: Callable[..., LiveGateway]
) -> None:
    """Whatever the Control Plane let through (or DNS says later), the Gateway checks the address itself."""
    upstream = KeyRequiringUpstream()
    base = serve_app(lambda port: upstream).base_url
    tenant = store.add_user()
    _external(store, tenant.user_id, "sneaky", base + "/v1")
    response = _chat(start_gateway(upstream_allowlist=()), tenant.key, tenant.user_id, "sneaky")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_refused" and "loopback" in error["message"]
    assert upstream.seen == []


def test_an_admin_created_upstream_may_be_local(
    store: GatewayStore, serve_app: Any, start_gateway: Callable[..., LiveGateway]
) -> None:
    upstream = KeyRequiringUpstream()
    base = serve_app(lambda port: upstream).base_url
    tenant = store.add_user()
    _external(store, tenant.user_id, "trusted", base + "/v1", **{ADMIN_APPROVED: True})
    assert (
        _chat(start_gateway(upstream_allowlist=()), tenant.key, tenant.user_id, "trusted").status_code == 200
    )
