"""The proxied endpoints: where each goes upstream, whether it is metered, and engine-specific mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ProxiedEndpoint:
    """`upstream_path` is appended to the replica's OpenAI base (`.../v1`) or, when `at_root`, its origin."""

    path: str
    upstream_path: str
    metered: bool
    inject_usage: bool
    at_root: bool = False
    missing_upstream_status: int = 501  # what a 404 from the engine becomes (404 = pass it through)


PROXIED: dict[str, ProxiedEndpoint] = {
    "/v1/chat/completions": ProxiedEndpoint(
        "/v1/chat/completions", "/chat/completions", True, True, False, 404
    ),
    "/v1/completions": ProxiedEndpoint("/v1/completions", "/completions", True, True, False, 404),
    "/v1/responses": ProxiedEndpoint("/v1/responses", "/responses", True, False),
    "/tokenize": ProxiedEndpoint("/tokenize", "/tokenize", False, False, at_root=True),
    "/detokenize": ProxiedEndpoint("/detokenize", "/detokenize", False, False, at_root=True),
}


def llamacpp_request(path: str, request: dict[str, Any]) -> dict[str, Any] | None:
    """Map a vLLM-style tokenize/detokenize body to llama-server's; None when it needs no mapping."""
    if path == "/tokenize":
        mapped: dict[str, Any] = {"content": request.get("prompt", "")}
        if "add_special_tokens" in request:
            mapped["add_special"] = bool(request["add_special_tokens"])
        return mapped
    if path == "/detokenize":
        return {"tokens": request.get("tokens", [])}
    return None


def llamacpp_response(path: str, reply: Any) -> Any:
    """Map llama-server's tokenize/detokenize reply to the vLLM shape the client reads."""
    if not isinstance(reply, dict):
        return reply
    if path == "/tokenize" and isinstance(reply.get("tokens"), list):
        return {"count": len(reply["tokens"]), "tokens": reply["tokens"], "max_model_len": None}
    if path == "/detokenize" and "content" in reply:
        return {"prompt": reply["content"]}
    return reply
