"""Engine-native request dialects: how an engine's own endpoints differ from the vLLM shapes clients send.

The Gateway exposes `/tokenize` and `/detokenize` in vLLM's shape. vLLM answers them as they are;
llama-server names the fields differently and renders chat messages through its own
`/apply-template`. Each provider whose engine needs a translation registers a dialect here, keyed
by the provider name, so the Gateway looks it up instead of switching on engine names.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["DIALECTS", "LlamaCppDialect", "NativeDialect", "native_dialect"]


class NativeDialect(Protocol):
    """Translate a vLLM-shaped engine-native request and its reply."""

    template_path: str | None
    """Where the engine renders `{"messages": [...]}` into `{"prompt": ...}`; None: it takes messages."""

    def request(self, path: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def response(self, path: str, reply: Any) -> Any: ...


class LlamaCppDialect:
    """llama-server: `content`/`add_special` in, `tokens` out; `/detokenize` answers `content`."""

    template_path: str | None = "/apply-template"

    def request(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        if path == "/tokenize":
            mapped: dict[str, Any] = {"content": request.get("prompt", "")}
            if "add_special_tokens" in request:
                mapped["add_special"] = bool(request["add_special_tokens"])
            return mapped
        if path == "/detokenize":
            return {"tokens": request.get("tokens", [])}
        return request

    def response(self, path: str, reply: Any) -> Any:
        if not isinstance(reply, dict):
            return reply
        if path == "/tokenize" and isinstance(reply.get("tokens"), list):
            return {"count": len(reply["tokens"]), "tokens": reply["tokens"], "max_model_len": None}
        if path == "/detokenize" and "content" in reply:
            return {"prompt": reply["content"]}
        return reply


DIALECTS: dict[str, NativeDialect] = {"llamacpp": LlamaCppDialect()}


def native_dialect(provider: str) -> NativeDialect | None:
    """The dialect of `provider`'s engine-native endpoints; None when it speaks vLLM's shapes."""
    return DIALECTS.get(provider)
