"""Byte-level SSE event filter: passes whole events on as they arrive and reads only those carrying usage."""

from __future__ import annotations

import json
from typing import Any

USAGE_MARKS = (b'"usage":{', b'"usage": {')
EVENT_END = b"\n\n"
CRLF_EVENT_END = b"\r\n\r\n"
MAX_PARTIAL_EVENT = 1 << 20


class SseEventFilter:
    """Feed upstream bytes in, get the bytes to forward out.

    Events are forwarded unchanged and whole (a partial event waits for its end). Only an event whose
    bytes contain a non-null `"usage"` object is parsed, to take the token counts; a usage-only event
    (no choices) is dropped when `strip_usage_only` is set, i.e. when the Gateway asked for usage and
    the client did not. `events` counts data events forwarded, the estimate of what was served when
    a stream dies before its usage event; `done` is set once `[DONE]` went through.
    """

    __slots__ = ("_buffer", "_strip", "done", "events", "usage")

    def __init__(self, strip_usage_only: bool) -> None:
        self._strip = strip_usage_only
        self._buffer = b""
        self.usage: dict[str, Any] | None = None
        self.events = 0
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if self._buffer:
            data = self._buffer + data
        cut = data.rfind(EVENT_END) + 2
        if cut < 2:
            cut = data.rfind(CRLF_EVENT_END) + 4  # servers built on sse-starlette end events with CRLF
            if cut < 4:
                if len(data) > MAX_PARTIAL_EVENT:
                    self._buffer = b""
                    return data
                self._buffer = data
                return b""
        self._buffer = data[cut:]
        out = data[:cut] if self._buffer else data
        return self._inspect(out)

    def finish(self) -> bytes:
        """Whatever is left at a clean end of stream (an unterminated last event)."""
        rest, self._buffer = self._buffer, b""
        return self._inspect(rest) if rest.strip() else rest

    def _inspect(self, block: bytes) -> bytes:
        done = block.count(b"[DONE]")
        self.events += block.count(b"data:") - done
        if done:
            self.done = True
        if USAGE_MARKS[0] not in block and USAGE_MARKS[1] not in block:
            return block
        kept: list[bytes] = []
        for event in block.split(EVENT_END):
            if event and (USAGE_MARKS[0] in event or USAGE_MARKS[1] in event) and self._take_usage(event):
                self.events -= 1
                continue
            kept.append(event)
        return EVENT_END.join(kept)

    def _take_usage(self, event: bytes) -> bool:
        """Record the usage in `event`; True when the event should be dropped (usage-only, stripped)."""
        payload = _data_payload(event)
        try:
            parsed = json.loads(payload)
        except ValueError:
            return False
        if not isinstance(parsed, dict):
            return False
        usage = parsed.get("usage")
        if not isinstance(usage, dict):
            response = parsed.get("response")
            usage = response.get("usage") if isinstance(response, dict) else None
        if isinstance(usage, dict):
            self.usage = usage
        return self._strip and usage is not None and not parsed.get("choices") and "choices" in parsed


def _data_payload(event: bytes) -> bytes:
    lines = [line[5:].rstrip(b"\r") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines).strip()
