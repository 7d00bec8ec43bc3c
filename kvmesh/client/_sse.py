"""Line-based Server-Sent Events reader for chat/completions streams (protocol.md §4.8).

Each `data:` line must hold one whole JSON document; `[DONE]` ends the stream; other lines
(`event:`, `id:`, comments) are skipped. An object carrying an `error` key aborts the stream.
The idle timeout is enforced by the transport's socket read timeout (see `StreamResponse.lines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kvmesh.client._json import parse_json


class StreamEventError(Exception):
    """A malformed or error event; `str()` is the user-facing text."""


def iter_events(lines: Iterable[str]) -> Iterator[Any]:
    """Yield each decoded `data:` payload until `[DONE]` or the end of the lines."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if not payload:
            continue
        if payload == "[DONE]":
            return
        try:
            event = parse_json(payload)
        except (ValueError, RecursionError):
            raise StreamEventError(f"Invalid stream event JSON: {payload[:200]}") from None
        if isinstance(event, dict) and "error" in event:
            raise StreamEventError(f"Stream error: {event['error']}")
        yield event


def chat_delta_texts(event: Any) -> Iterator[tuple[int, str]]:
    """`(choice index, text)` pairs of a chat chunk: `delta.content`, else `message.content`."""
    if not isinstance(event, dict) or not isinstance(event.get("choices"), list):
        return
    for choice in event["choices"]:
        if not isinstance(choice, dict):
            continue
        index = choice.get("index", 0)
        text = None
        for holder_key in ("delta", "message"):
            holder = choice.get(holder_key)
            if isinstance(holder, dict) and isinstance(holder.get("content"), str):
                text = holder["content"]
                break
        if text:
            yield (index if isinstance(index, int) else 0), text


def completion_texts(event: Any) -> str:
    """Concatenated `choices[*].text` of a text-completion chunk."""
    if not isinstance(event, dict) or not isinstance(event.get("choices"), list):
        return ""
    return "".join(
        c["text"] for c in event["choices"] if isinstance(c, dict) and isinstance(c.get("text"), str)
    )
