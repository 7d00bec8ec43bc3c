"""Relay a streamed upstream reply: SSE bytes as they arrive, an error event on failure, hang-ups cancel.

On kvmesh's own server the relay is a pipe: each upstream chunk goes through the SSE relay and out to
the client inside the upstream connection's protocol callback, so an event costs a parse and a write,
not a task switch. A full client socket pauses reading the replica until it drains. Under another ASGI
server the same steps run in a read/send loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from kvmesh.gateway.asgi import SSE_CONTENT_TYPE, DirectBody, Receive, Send, sse_error_event
from kvmesh.gateway.metering import NO_TOKENS, TokenCounts, token_counts
from kvmesh.gateway.relay.sse_events import SseEventFilter
from kvmesh.gateway.upstream_http import UpstreamProtocolError, UpstreamResponse

CLIENT_CLOSED = 499
SSE_HEADERS = (SSE_CONTENT_TYPE, (b"cache-control", b"no-cache"))
IDLE_MESSAGE = "Upstream replica went idle mid-stream."
DIED_MESSAGE = "Upstream replica connection died mid-stream."
END_OF_BODY = {"type": "http.response.body", "body": b"", "more_body": False}


@dataclass(slots=True)
class StreamOutcome:
    """What happened, filled in as the relay goes (it may be cancelled half-way)."""

    status: int = 200
    tokens: TokenCounts = NO_TOKENS
    first_byte_at: float | None = None
    upstream_done: bool = False
    failure: str | None = None  # idle | protocol
    client_gone: bool = False


class StreamRelay:
    """The steps of relaying one stream, whoever drives them: `forward` what arrived, `end` or `fail`."""

    __slots__ = ("_sse", "outcome")

    def __init__(self, strip_usage: bool) -> None:
        self._sse = SseEventFilter(strip_usage)
        self.outcome = StreamOutcome()

    def forward(self, data: bytes) -> bytes:
        out = self._sse.feed(data)
        if out:
            outcome = self.outcome
            if outcome.first_byte_at is None:
                outcome.first_byte_at = time.perf_counter()
            if self._sse.done:
                outcome.upstream_done = True
        return out

    def end(self) -> bytes:
        self.outcome.upstream_done = True
        return self._sse.finish()

    def fail(self, error: BaseException) -> bytes:
        """The error event that ends the client's stream."""
        outcome = self.outcome
        idle = isinstance(error, TimeoutError)
        outcome.status, outcome.failure = (504, "idle") if idle else (502, "protocol")
        message = (
            "Upstream replica went idle mid-stream."
            if idle
            else "Upstream replica connection died mid-stream."
        )
        return sse_error_event(message, outcome.status, f"upstream_{outcome.failure}")

    def settle(self) -> StreamOutcome:
        """Token counts (from the usage event, else the events relayed) and the client-closed status."""
        outcome = self.outcome
        counts = token_counts(self._sse.usage)
        outcome.tokens = (
            counts if counts is not None else TokenCounts(completion_tokens=max(self._sse.events, 0))
        )
        if outcome.client_gone and not outcome.upstream_done:  # hanging up right after `[DONE]` is fine
            outcome.status, outcome.failure = CLIENT_CLOSED, None
        return outcome


async def relay_stream(
    response: UpstreamResponse,
    send: Send,
    receive: Receive,
    request_id: bytes,
    strip_usage: bool,
    direct: DirectBody | None = None,
) -> StreamOutcome:
    """Relay until the upstream ends. If the client disconnects first, the upstream connection is closed
    (which cancels the request there and ends the relay) and the outcome is 499."""
    relay = StreamRelay(strip_usage)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*SSE_HEADERS, (b"x-request-id", request_id)],
        }
    )
    try:
        if direct is not None:
            await _pipe(response, direct, relay)
        else:
            await _read_and_send(response, send, receive, relay)
        await send(END_OF_BODY)
    finally:
        outcome = relay.settle()
    return outcome


class _Pipe:
    """Upstream body → SSE relay → client, called from the upstream connection's protocol callbacks."""

    __slots__ = ("_client", "_relay", "_response", "done")

    def __init__(self, response: UpstreamResponse, client: DirectBody, relay: StreamRelay) -> None:
        self._response = response
        self._client = client
        self._relay = relay
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_data(self, data: bytes) -> None:
        out = self._relay.forward(data)
        if out:
            client = self._client
            client.write(out)
            if client.paused:
                self._response.pause_reading()

    def on_end(self) -> None:
        self._finish(self._relay.end())

    def on_error(self, error: BaseException) -> None:
        self._finish(self._relay.fail(error))

    def on_writable(self) -> None:
        self._response.resume_reading()

    def on_client_lost(self) -> None:
        self._relay.outcome.client_gone = True
        self._response.close()
        self._finish(b"")

    def _finish(self, tail: bytes) -> None:
        if self.done.done():
            return
        if tail:
            self._client.write(tail)
        self.done.set_result(None)


async def _pipe(response: UpstreamResponse, client: DirectBody, relay: StreamRelay) -> None:
    pipe = _Pipe(response, client, relay)
    client.set_flow_callbacks(pipe.on_writable, pipe.on_client_lost)
    try:
        response.pipe(pipe)
        await pipe.done
    finally:
        client.set_flow_callbacks(None, None)


async def _read_and_send(
    response: UpstreamResponse, send: Send, receive: Receive, relay: StreamRelay
) -> None:
    watcher = asyncio.ensure_future(_close_upstream_on_disconnect(receive, response, relay.outcome))
    try:
        try:
            read = response.readany
            while data := await read():
                out = relay.forward(data)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            tail = relay.end()
        except (TimeoutError, UpstreamProtocolError) as exc:
            tail = relay.fail(exc)
        if tail:
            await send({"type": "http.response.body", "body": tail, "more_body": True})
    finally:
        watcher.cancel()


async def _close_upstream_on_disconnect(
    receive: Receive, response: UpstreamResponse, outcome: StreamOutcome
) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    outcome.client_gone = True
    response.close()
