"""Relay a streamed upstream reply: SSE bytes as they arrive, an error event on failure, hang-ups cancel."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from kvmesh.gateway.asgi import SSE_CONTENT_TYPE, Receive, Send, sse_error_event
from kvmesh.gateway.metering import TokenCounts, token_counts
from kvmesh.gateway.sse import SseRelay

CLIENT_CLOSED = 499
NO_TOKENS = TokenCounts()
SSE_HEADERS = (SSE_CONTENT_TYPE, (b"cache-control", b"no-cache"))


@dataclass(slots=True)
class StreamOutcome:
    """What happened, filled in as the relay goes (it may be cancelled half-way)."""

    status: int = 200
    tokens: TokenCounts = NO_TOKENS
    first_byte_at: float | None = None
    upstream_done: bool = False
    failure: str | None = None  # idle | protocol
    client_gone: bool = False


async def relay_stream(
    response: aiohttp.ClientResponse, send: Send, receive: Receive, request_id: bytes, strip_usage: bool
) -> StreamOutcome:
    """Relay until the upstream ends. If the client disconnects first, the upstream connection is closed
    (which cancels the request there and ends the relay) and the outcome is 499."""
    outcome = StreamOutcome()
    watcher = asyncio.ensure_future(_close_upstream_on_disconnect(receive, response, outcome))
    try:
        await _relay(response, send, request_id, strip_usage, outcome)
    finally:
        watcher.cancel()
    if outcome.client_gone and not outcome.upstream_done:  # hanging up right after `[DONE]` is fine
        outcome.status, outcome.failure = CLIENT_CLOSED, None
    return outcome


async def _relay(
    response: aiohttp.ClientResponse, send: Send, request_id: bytes, strip_usage: bool, outcome: StreamOutcome
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*SSE_HEADERS, (b"x-request-id", request_id)],
        }
    )
    relay = SseRelay(strip_usage)
    try:
        try:
            read = response.content.readany
            while data := await read():
                out = relay.feed(data)
                if out:
                    if outcome.first_byte_at is None:
                        outcome.first_byte_at = time.perf_counter()
                    if relay.done:
                        outcome.upstream_done = True
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            outcome.upstream_done = True
            tail = relay.finish()
            if tail:
                await send({"type": "http.response.body", "body": tail, "more_body": True})
        except (TimeoutError, aiohttp.ClientError) as exc:
            if relay.done and outcome.client_gone:
                # The client hung up right after `[DONE]` and the watcher closed the upstream while the
                # relay still awaited its last bytes: a finished answer, not a broken replica.
                outcome.upstream_done = True
            else:
                await _send_stream_failure(send, outcome, isinstance(exc, TimeoutError))
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        counts = token_counts(relay.usage)
        outcome.tokens = counts if counts is not None else TokenCounts(completion_tokens=max(relay.events, 0))


async def _send_stream_failure(send: Send, outcome: StreamOutcome, idle: bool) -> None:
    outcome.status, outcome.failure = (504, "idle") if idle else (502, "protocol")
    message = (
        "Upstream replica went idle mid-stream." if idle else "Upstream replica connection died mid-stream."
    )
    event = sse_error_event(message, outcome.status, f"upstream_{outcome.failure}")
    await send({"type": "http.response.body", "body": event, "more_body": True})


async def _close_upstream_on_disconnect(
    receive: Receive, response: aiohttp.ClientResponse, outcome: StreamOutcome
) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    outcome.client_gone = True
    response.close()
