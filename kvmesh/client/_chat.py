"""Chat request input, body building, response normalisation and the streaming `<think>` filter (§4)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from kvmesh.client._json import parse_json


class ChatInputError(ValueError):
    """Bad user input for a chat request (the CLI turns it into a usage error, exit 2)."""


def _parse(text: str, prefix: str) -> Any:
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise ChatInputError(f"{prefix}: {exc}") from None


def _parse_file(path: Path, read_prefix: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChatInputError(f"{read_prefix}: {path}: {exc}") from None
    return _parse(text, f"Invalid JSON in file: {path}")


def load_request_json(
    json_arg: str | None, file_arg: str | None, stdin: TextIO | None, *, required: bool = True
) -> Any:
    """`--json` (or `@path`) > `--file` > piped non-blank stdin; no input is an error when `required`."""
    if json_arg is not None:
        if json_arg.startswith("@"):
            return _parse_file(Path(json_arg[1:]).expanduser(), "Failed to read JSON file")
        return _parse(json_arg, "Invalid JSON")
    if file_arg is not None:
        return _parse_file(Path(file_arg).expanduser(), "Failed to read file")
    if stdin is not None and not stdin.isatty():
        raw = stdin.read()
        if raw.strip():
            return _parse(raw, "Invalid JSON on stdin")
    if required:
        raise ChatInputError("No input provided. Use --json, --file, or pipe JSON on stdin.")
    return None


def input_model(source: Any) -> str | None:
    """The `model` of an object input when it is a non-blank string."""
    if isinstance(source, dict) and isinstance(source.get("model"), str) and source["model"].strip():
        return str(source["model"])
    return None


def build_chat_body(
    source: Any, model: str | None, *, stream: bool, sampling: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The request body per §4.5; `sampling` entries (only those given) are added on top."""
    if isinstance(source, list):
        if not model:
            raise ChatInputError("Missing --model (required when input is a messages array).")
        body: dict[str, Any] = {"model": model, "messages": source}
    elif isinstance(source, dict):
        body = dict(source)
        if model:
            body["model"] = model
        if not isinstance(body.get("model"), str) or not body["model"].strip():
            raise ChatInputError("Missing model. Provide --model or include it in the JSON payload.")
        if "messages" not in body:
            raise ChatInputError(
                "Missing messages. Provide a messages array or include it in the JSON payload."
            )
    else:
        raise ChatInputError("Input JSON must be an object (request) or an array (messages).")
    if body.get("stream") is True and not stream:
        raise ChatInputError(
            "Input JSON enables streaming. Re-run with `--stream` or remove `stream` from the JSON payload."
        )
    for key, value in (sampling or {}).items():
        if value is not None:
            body[key] = value
    if stream:
        body["stream"] = True
    return body


_LEADING_THINK = re.compile(r"^\s*(?:<think>.*?</think>\s*)+", re.DOTALL)
_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def split_leading_reasoning(content: Any, reasoning: Any) -> tuple[Any, Any]:
    """Cut leading `<think>` blocks from `content`; they become `reasoning` unless one is already set."""
    if not isinstance(content, str):
        return content, reasoning
    match = _LEADING_THINK.match(content)
    if match is None:
        return content, reasoning
    blocks = [part.strip() for part in _THINK_BLOCK.findall(match.group(0)) if part.strip()]
    remaining = content[match.end() :] or None
    if reasoning is not None or not blocks:
        return remaining, reasoning
    return remaining, "\n\n".join(blocks)


_TOP_KEYS = ("id", "object", "created", "model", "choices", "usage", "perf_metrics", "prompt_token_ids")
_CHOICE_KEYS = ("index", "message", "finish_reason", "logprobs", "raw_output", "stop_reason", "token_ids")
_MESSAGE_KEYS = (
    "role",
    "content",
    "refusal",
    "annotations",
    "audio",
    "function_call",
    "tool_calls",
    "reasoning",
)
_USAGE_KEYS = ("prompt_tokens", "total_tokens", "completion_tokens", "prompt_tokens_details")


def _ordered(data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """Known keys first in `known` order (nulls dropped), then the rest as they came (nulls kept)."""
    out = {key: data[key] for key in known if data.get(key) is not None}
    out.update({key: value for key, value in data.items() if key not in known})
    return out


def _normalise_message(message: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(message.get("role"), str):
        raise ValueError("message.role")
    content, reasoning = split_leading_reasoning(message.get("content"), message.get("reasoning"))
    fixed = dict(message)
    fixed["content"] = content
    fixed["reasoning"] = reasoning
    return _ordered(fixed, _MESSAGE_KEYS)


def _normalise_choice(choice: Any) -> dict[str, Any]:
    if not isinstance(choice, Mapping) or not isinstance(choice.get("message"), Mapping):
        raise ValueError("choice")
    fixed = dict(choice)
    fixed["index"] = int(choice["index"])
    fixed["message"] = _normalise_message(choice["message"])
    return _ordered(fixed, _CHOICE_KEYS)


def normalise_chat_completion(data: Any) -> Any:
    """Reshape a chat completion like the reference SDK round-trip (§4.7); anything odd is returned as-is."""
    if not isinstance(data, Mapping) or not {"id", "created", "model", "choices"} <= data.keys():
        return data
    try:
        fixed = dict(data)
        fixed["created"] = int(data["created"])
        fixed["object"] = data.get("object") or "chat.completion"
        if not isinstance(data["choices"], list):
            raise ValueError("choices")
        fixed["choices"] = [_normalise_choice(choice) for choice in data["choices"]]
        usage = data.get("usage")
        if usage is not None:
            if not isinstance(usage, Mapping) or "prompt_tokens" not in usage or "total_tokens" not in usage:
                raise ValueError("usage")
            fixed["usage"] = _ordered(usage, _USAGE_KEYS)
        return _ordered(fixed, _TOP_KEYS)
    except (KeyError, TypeError, ValueError):
        return data


def first_message_text(data: Any) -> str | None:
    """`choices[0].message.content` when it has visible characters."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) and content.strip() else None


class ThinkFilter:
    """Hides a leading `<think>…</think>` region of streamed text, even with tags split across chunks."""

    _OPEN = "<think>"
    _CLOSE = "</think>"

    def __init__(self) -> None:
        self._pending = ""
        self._state = "start"  # start | thinking | visible

    def feed(self, text: str) -> str:
        """Return the part of `text` that should be shown now."""
        if self._state == "visible":
            return text
        self._pending += text
        while self._state != "visible":
            if self._state == "thinking":
                end = self._pending.find(self._CLOSE)
                if end < 0:
                    return ""
                self._pending = self._pending[end + len(self._CLOSE) :]
                self._state = "start"
                continue
            head = self._pending.lstrip()
            if not head or self._OPEN.startswith(head):
                return ""
            if head.startswith(self._OPEN):
                self._pending = head[len(self._OPEN) :]
                self._state = "thinking"
                continue
            self._state = "visible"
        shown, self._pending = self._pending, ""
        return shown
