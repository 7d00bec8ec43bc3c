"""Watching the client while an answer is prepared: stop upstream work when it leaves, end answers last."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import TypeVar

from kvmesh.gateway.asgi import DirectBody, Message, Receive, Send

T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's "client closed request" (as in kvmesh.gateway.relay.stream)


class ClientGone(Exception):
    """The client disconnected before the awaited step finished (that step was cancelled)."""


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(step: Awaitable[T], receive: Receive, direct: DirectBody | None = None) -> T:
    """Await `step` in this task, cancelling it (so its upstream request is closed) if the client
    disconnects first; then `ClientGone` is raised.

    `step` runs in the calling task, not a new one, so what it returns (an upstream response whose bytes
    are arriving) is used without an extra scheduling delay. On kvmesh's own server (`direct` given) the
    connection's lost callback cancels the step: no watcher task. Elsewhere a watcher task waits for
    `http.disconnect` from `receive`; only for the time before the response starts, when nothing else
    reads `receive` (ASGI servers keep answering `http.disconnect` once a client is gone, so later
    watchers still see it).
    """
    current = asyncio.current_task()
    assert current is not None
    state = {"finished": False, "gone": False}

    def client_lost() -> None:
        if not state["finished"]:
            state["gone"] = True
            current.cancel()

    async def watch() -> None:
        await _disconnected(receive)
        client_lost()

    watcher: asyncio.Future[None] | None = None
    if direct is not None:
        if direct.client_lost:
            if isinstance(step, Coroutine):
                step.close()  # never started: nothing upstream to cancel
            raise ClientGone
        direct.set_flow_callbacks(None, client_lost)
    else:
        watcher = asyncio.ensure_future(watch())
    try:
        result = await step
    except asyncio.CancelledError:
        if state["gone"]:
            current.uncancel()
            raise ClientGone from None
        raise
    finally:
        state["finished"] = True
        if direct is not None:
            direct.set_flow_callbacks(None, None)
        if watcher is not None:
            watcher.cancel()
    return result


class HeldFinalMessage:
    """A `send` that passes every message through except the one ending the response, held until
    `release()`: the Gateway releases it once the request's usage record is in the spool file, so an
    answer the client saw complete is never an answer whose usage a killed Gateway can lose."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._final: Message | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._final = message
            return
        await self._send(message)

    async def release(self) -> None:
        final, self._final = self._final, None
        if final is not None:
            with contextlib.suppress(OSError, RuntimeError):  # the client may be gone by now
                await self._send(final)
