"""A client that hangs up right after `[DONE]` got a whole answer: recorded 200, the replica stays in."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from gateway_harness import GatewayStore, LiveGateway

from kvmesh.gateway.app import create_app
from kvmesh.gateway.settings import GatewaySettings

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


class DoneThenLinger:
    """Streams an answer and `[DONE]`, then keeps the response open for a while (as a slow server may)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
        usage = {"choices": [], "usage": USAGE}
        for event in (chunk, usage):
            await send(
                {
                    "type": "http.response.body",
                    "body": f"data: {json.dumps(event)}\n\n".encode(),
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": True})
        await asyncio.sleep(2.0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _leave_after_done(store: GatewayStore, serve_app: Any, start: Callable[[], LiveGateway]) -> LiveGateway:
    upstream = serve_app(lambda port: DoneThenLinger())
    tenant = store.add_user()
    store.add_deployment(tenant.user_id, "lingering", [upstream.base_url + "/v1"])
    gateway = start()
    body = {"model": "lingering", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {tenant.key}", "X-User-Id": tenant.user_id}
    with httpx.stream(
        "POST", gateway.base_url + "/v1/chat/completions", json=body, headers=headers
    ) as response:
        for line in response.iter_lines():
            if line == "data: [DONE]":
                break  # the client leaves as soon as the answer is complete
    deadline = time.monotonic() + 10
    while not (records := store.usage()):
        assert time.monotonic() < deadline, "no usage record"
        time.sleep(0.05)
    assert [(r.status_code, r.completion_tokens) for r in records] == [(200, 2)]
    return gateway


def test_hanging_up_after_done_is_a_success(
    store: GatewayStore, serve_app: Any, start_gateway: Callable[..., LiveGateway]
) -> None:
    gateway = _leave_after_done(store, serve_app, lambda: start_gateway(usage_flush_interval=0.1))
    assert gateway.app.pool.ejected_ids() == []


def test_hanging_up_after_done_is_a_success_under_another_asgi_server(
    store: GatewayStore, serve_app: Any
) -> None:
    """The generic read/send relay (uvicorn here): closing the upstream on the hang-up fails the pending
    read, which must not turn the finished answer into an error."""
    settings = GatewaySettings(
        database_url=store.url,
        server_secret=store.secret,
        usage_flush_interval=0.1,
        idle_timeout=1.0,
        upstream_allowlist=("127.0.0.1/32",),
    )

    def start() -> LiveGateway:
        live = serve_app(lambda port: create_app(settings))
        return LiveGateway(base_url=live.base_url, app=live.app)

    gateway = _leave_after_done(store, serve_app, start)
    assert gateway.app.pool.ejected_ids() == []
