"""A request's prompt as text and as a hash chain over fixed-size blocks of it.

The prompt is hashed as rendered text, not token ids: measured in bench/prefix_hashing.py, hashing
the text costs microseconds in-process while asking llama-server to tokenize costs a loopback round
trip (and a chat-template call) per request, on the hot path, before a replica can be chosen.
"""

from __future__ import annotations

import json
from hashlib import blake2b
from typing import Any

MESSAGE_END = "\x1e"
ROLE_END = "\x1f"


def rendered_prompt(body: dict[str, Any]) -> str:
    """The prompt as one string: chat messages in order (role + content), or a completions prompt.

    Each message ends with a separator, so turn N's rendering is a prefix of turn N+1's.
    """
    messages = body.get("messages")
    if isinstance(messages, list):
        tools = body.get("tools")
        parts = [_canonical(tools) + MESSAGE_END] if tools else []
        for message in messages:
            if isinstance(message, dict):
                content = message.get("content")
                text = content if isinstance(content, str) else _canonical(content)
                parts.append(f"{message.get('role', '')}{ROLE_END}{text}{MESSAGE_END}")
        return "".join(parts)
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    return _canonical(prompt) if prompt is not None else ""


def block_hashes(text: str, block_chars: int) -> tuple[int, ...]:
    """64-bit chained hashes of each full `block_chars` block: hash i covers blocks 0..i."""
    hashes: list[int] = []
    previous = b""
    for start in range(0, len(text) - block_chars + 1, block_chars):
        digest = blake2b(previous + text[start : start + block_chars].encode(), digest_size=8).digest()
        hashes.append(int.from_bytes(digest, "big"))
        previous = digest
    return tuple(hashes)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
