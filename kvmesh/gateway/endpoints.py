"""The proxied endpoints: where each goes upstream, whether it is metered (dialects: engines/dialects.py)."""

from __future__ import annotations

from dataclasses import dataclass


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
