"""An in-process stand-in OpenAI upstream for gateway tests, with faults real engines cannot do on demand.

The behaviour is chosen by the last message's content (or a completions prompt):
`fault:die` (3 chunks then the connection dies), `fault:stall` (1 chunk then silence),
`fault:stall-head` (no response head for a long time), `fault:bad-json` (200 with a broken body),
`fault:500` (HTTP 500), `fault:slow` (a normal stream, 0.1 s between chunks), `fault:flood`
(`max_tokens` events of ~1 KB each, as fast as the reader takes them); anything else is a normal answer
of `max_tokens` (default 5) tokens.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

PROMPT_TOKENS = 7
FLOOD_PADDING = 900
STALL_SECONDS = 3.0  # past the idle (1 s) and first-byte (2 s) timeouts the tests configure
SLOW_CHUNK_SECONDS = 0.1


class StandInUpstream:
    """A bare ASGI app; counts requests and the tokens it reported so tests can compare with metering."""

    def __init__(self, name: str = "standin") -> None:
        self.name = name
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.bodies: list[dict[str, Any]] = []
        self.disconnects = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        if path in ("/health", "/v1/models"):
            await _send(send, 200, {"status": "ok"} if path == "/health" else {"object": "list", "data": []})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body)
        with self._lock:
            self.requests += 1
            self.bodies.append(request)
        fault = _fault_of(request)
        if fault == "stall-head":
            await self._stall_unless_disconnected(receive)
        if fault == "500":
            await _send(send, 500, None, b"internal engine failure")
            return
        if fault == "bad-json":
            await _send(send, 200, None, b'{"choices": [ this is not json')
            return
        tokens = int(request.get("max_tokens") or 5)
        if path == "/v1/chat/completions" and request.get("stream"):
            await self._stream(request, tokens, fault, receive, send)
            return
        self._count(tokens)
        await _send(send, 200, self._completion(path, tokens))

    async def _stall_unless_disconnected(self, receive: Any) -> None:
        try:
            message = await asyncio.wait_for(receive(), STALL_SECONDS)
        except TimeoutError:
            return
        if message["type"] == "http.disconnect":
            with self._lock:
                self.disconnects += 1
            raise ConnectionError("the Gateway closed the upstream request")

    async def _stream(
        self, request: dict[str, Any], tokens: int, fault: str, receive: Any, send: Any
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for index in range(tokens):
            if fault == "die" and index == 3:
                self._count(3, prompt=False)
                raise ConnectionError("stand-in dies mid-stream")
            if fault == "stall" and index == 1:
                await self._stall_unless_disconnected(receive)
            if fault == "slow":
                await asyncio.sleep(SLOW_CHUNK_SECONDS)
            content = f"t{index} " + ("x" * FLOOD_PADDING if fault == "flood" else "")
            chunk = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": self.name,
                "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
            }
            await send({"type": "http.response.body", "body": _event(chunk), "more_body": True})
        self._count(tokens)
        options = request.get("stream_options") or {}
        if options.get("include_usage"):
            usage_chunk = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": self.name,
                "choices": [],
                "usage": _usage(tokens),
            }
            await send({"type": "http.response.body", "body": _event(usage_chunk), "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    def _completion(self, path: str, tokens: int) -> dict[str, Any]:
        text = "".join(f"t{index} " for index in range(tokens))
        if path == "/v1/completions":
            choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": "length"}
            kind = "text_completion"
        else:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length",
            }
            kind = "chat.completion"
        return {
            "id": "cmpl-standin",
            "object": kind,
            "created": 1700000000,
            "model": self.name,
            "choices": [choice],
            "usage": _usage(tokens),
        }

    def _count(self, completion: int, prompt: bool = True) -> None:
        with self._lock:
            self.completion_tokens += completion
            self.prompt_tokens += PROMPT_TOKENS if prompt else 0


def _fault_of(request: dict[str, Any]) -> str:
    messages = request.get("messages")
    text = request.get("prompt", "")
    if isinstance(messages, list) and messages:
        text = messages[-1].get("content", "")
    return text[6:] if isinstance(text, str) and text.startswith("fault:") else ""


def _usage(tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": tokens,
        "total_tokens": PROMPT_TOKENS + tokens,
        "prompt_tokens_details": {"cached_tokens": 2},
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


async def _send(send: Any, status: int, payload: Any, raw: bytes | None = None) -> None:
    body = raw if raw is not None else json.dumps(payload).encode()
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})
