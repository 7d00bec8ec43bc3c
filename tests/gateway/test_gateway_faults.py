"""Upstream faults end in a clean client error, the Gateway stays up, and what was served is metered."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import SERVED_NAME, Scenario
from gateway_standin import STALL_SECONDS


def _client(scenario: Scenario) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=scenario.gateway.base_url + "/v1",
        api_key=scenario.tenant.key,
        default_headers={"X-User-Id": scenario.tenant.user_id},
        max_retries=0,
        timeout=20,
    )


def _chat(client: openai.OpenAI, content: str, stream: bool) -> Any:
    reply = client.chat.completions.create(
        model=SERVED_NAME,
        messages=[{"role": "user", "content": content}],
        max_tokens=6,
        stream=stream,  # type: ignore[call-overload]
    )
    return reply


def _records_after_flush(scenario: Scenario, count: int) -> list[Any]:
    deadline = time.monotonic() + 10
    while scenario.store.usage_count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return scenario.store.usage()


def _gateway_still_serves(scenario: Scenario) -> None:
    assert httpx.get(scenario.gateway.base_url + "/health").json() == {"status": "ok"}
    assert _chat(_client(scenario), "hi", stream=False).choices[0].message.content


def test_upstream_death_mid_stream_ends_with_error_event(scenario: Scenario) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError, match="died mid-stream"):
        for chunk in _chat(_client(scenario), "fault:die", stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["t0 ", "t1 ", "t2 "]
    record = _records_after_flush(scenario, 1)[0]
    assert (record.status_code, record.completion_tokens, record.streamed) == (502, 3, True)
    _gateway_still_serves(scenario)


def test_stalled_stream_times_out_with_error_event(scenario: Scenario) -> None:
    with pytest.raises(openai.APIError, match="idle"):
        list(_chat(_client(scenario), "fault:stall", stream=True))
    record = _records_after_flush(scenario, 1)[0]
    assert (record.status_code, record.completion_tokens) == (504, 1)
    _gateway_still_serves(scenario)


def test_invalid_json_reply_is_502(scenario: Scenario) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        _chat(_client(scenario), "fault:bad-json", stream=False)
    assert caught.value.status_code == 502 and "invalid JSON" in caught.value.message
    assert _records_after_flush(scenario, 1)[0].status_code == 502
    _gateway_still_serves(scenario)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_500_is_502_with_wire_body(scenario: Scenario, stream: bool) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        reply = _chat(_client(scenario), "fault:500", stream=stream)
        list(reply) if stream else None
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_status"  # type: ignore[index]
    assert _records_after_flush(scenario, 1)[0].status_code == 502
    _gateway_still_serves(scenario)


def test_silent_replica_is_ejected_and_request_retried_on_another(
    scenario: Scenario, serve_app: Any, standin: Any
) -> None:
    """A replica that accepts connections but never answers costs one first-byte timeout, then is skipped."""
    from gateway_standin import StandInUpstream

    silent = serve_app(lambda port: _SilentUpstream())
    healthy = serve_app(lambda port: StandInUpstream("healthy"))
    user = scenario.store.add_user()
    scenario.store.add_deployment(
        user.user_id, "two-replicas", [silent.base_url + "/v1", healthy.base_url + "/v1"]
    )
    headers = {"Authorization": f"Bearer {user.key}", "X-User-Id": user.user_id}
    body = {"model": "two-replicas", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    for _ in range(3):
        response = httpx.post(
            scenario.gateway.base_url + "/v1/chat/completions", json=body, headers=headers, timeout=20
        )
        assert response.status_code == 200 and response.json()["model"] == "healthy"
    assert silent.app.calls == 1


def test_unreachable_only_replica_is_502(scenario: Scenario) -> None:
    user = scenario.store.add_user()
    scenario.store.add_deployment(user.user_id, "gone", ["http://127.0.0.1:9/v1"])
    body = {"model": "gone", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {user.key}", "X-User-Id": user.user_id},
    )
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_connect"


class _SilentUpstream:
    """Accepts the request, then never sends a response head."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import asyncio

        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["path"] == "/v1/chat/completions":
            self.calls += 1
        await asyncio.sleep(STALL_SECONDS)


def test_client_disconnect_cancels_the_upstream_request(scenario: Scenario) -> None:
    body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "fault:stall"}], "stream": True}
    url = scenario.gateway.base_url + "/v1/chat/completions"
    with httpx.stream("POST", url, json=body, headers=scenario.on_demand_headers()) as response:
        assert next(response.iter_bytes()).startswith(b"data: ")
    record = _records_after_flush(scenario, 1)[0]
    assert record.status_code == 499
    deadline = time.monotonic() + 5
    while scenario.upstream.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scenario.upstream.disconnects == 1


def test_ejected_replica_is_probed_back_into_service(scenario: Scenario) -> None:
    """A replica that refused connections is ejected, then returns once its /health answers."""
    import socket
    import threading

    import uvicorn
    from gateway_standin import StandInUpstream

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    user = scenario.store.add_user()
    scenario.store.add_deployment(user.user_id, "comes-back", [origin + "/v1"])
    headers = {"Authorization": f"Bearer {user.key}", "X-User-Id": user.user_id}
    body = {"model": "comes-back", "messages": [{"role": "user", "content": "hi"}]}
    url = scenario.gateway.base_url + "/v1/chat/completions"
    assert httpx.post(url, json=body, headers=headers).status_code == 502
    assert len(scenario.gateway.app.pool.ejected_ids()) == 1

    server = uvicorn.Server(uvicorn.Config(StandInUpstream(), log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while scenario.gateway.app.pool.ejected_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scenario.gateway.app.pool.ejected_ids() == []
        assert httpx.post(url, json=body, headers=headers).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def test_connection_closed_before_answering_is_retried_without_ejecting(scenario: Scenario) -> None:
    """What a stale kept-alive connection looks like: the replica drops it without a response head."""
    import asyncio
    import json

    import aiohttp

    answered: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                v
                for k, v in (h.split(b":", 1) for h in head.split(b"\r\n")[1:] if b":" in h)
                if k.lower() == b"content-length"
            )
        )
        await reader.readexactly(length)
        if not answered:
            answered.append(0)
            writer.close()  # no response at all
            return
        reply = json.dumps(
            {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}
        )
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(reply), reply.encode())
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    user = scenario.store.add_user()
    scenario.store.add_deployment(user.user_id, "flaky-socket", [f"http://127.0.0.1:{port}/v1"])
    headers = {"Authorization": f"Bearer {user.key}", "X-User-Id": user.user_id}
    body = {"model": "flaky-socket", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(scenario.gateway.base_url + "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        assert r.status == 200
    assert scenario.gateway.app.pool.ejected_ids() == []
    server.close()
    await server.wait_closed()
