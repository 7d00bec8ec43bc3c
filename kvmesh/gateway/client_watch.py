"""Watching the client while an answer is prepared: stop upstream work when it leaves, end answers last."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from kvmesh.gateway.asgi import Message, Receive, Send

T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's "client closed request"


class ClientGone(Exception):
    """The client disconnected before the awaited step finished (that step was cancelled)."""


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(step: Awaitable[T], receive: Receive) -> T:
    """Await `step` in this task, cancelling it (so its upstream request is closed) if the client
    disconnects first.

    `step` runs in the calling task, not a new one, so what it returns (an upstream response whose bytes
    are arriving) is used without an extra scheduling delay. Only for the time before the response
    starts, when nothing else reads `receive`; uvicorn keeps answering `http.disconnect` once a client is
    gone, so later watchers still see it.
    """
    current = asyncio.current_task()
    assert current is not None
    state = {"finished": False, "gone": False}

    async def watch() -> None:
        await _disconnected(receive)
        if not state["finished"]:
            state["gone"] = True
            current.cancel()

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
