"""Gateway (inference) client: OpenAI-compatible chat, completions, responses, tokenize and info endpoints."""

from __future__ import annotations

from typing import Any

from kvmesh.client._http import HttpResponse, StreamResponse, Transport

SERVERLESS_BASE = "https://serverless.tensormesh.ai"

ON_DEMAND_HINTS: dict[int, str] = {
    401: "set --api-key, configure gateway_api_key, or run `tm init --sync`. "
    "Control plane tokens (`tm auth login`) do not authenticate the gateway.",
    400: "ensure X-User-Id is set via --user-id, config/runtime, or `tm auth login` plus `tm init --sync` "
    "so tm can derive it.",
    404: "ensure X-User-Id is set via --user-id, config/runtime, or `tm auth login` plus `tm init --sync` "
    "so tm can derive it.",
}
SERVERLESS_HINTS: dict[int, str] = {
    401: "set --api-key explicitly or configure gateway_api_key. "
    "Control plane tokens (`tm auth login`) do not authenticate the serverless endpoint.",
}


class GatewayClient:
    """One gateway base; on-demand requests carry `X-User-Id`, serverless ones do not."""

    def __init__(
        self,
        base: str,
        transport: Transport,
        *,
        api_key: str | None,
        user_id: str | None = None,
        serverless: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.base = base.rstrip("/")
        self.transport = transport
        self.api_key = api_key
        self.user_id = user_id
        self.hints = SERVERLESS_HINTS if serverless else ON_DEMAND_HINTS
        self.timeout = timeout

    def _headers(self, accept: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.user_id:
            headers["X-User-Id"] = self.user_id
        if accept:
            headers["Accept"] = accept
        return headers

    def post(self, path: str, body: Any) -> HttpResponse:
        """A non-stream POST (never retried)."""
        return self.transport.request(
            "POST",
            self.base + path,
            headers=self._headers(),
            json_body=body,
            timeout=self.timeout,
            hints=self.hints,
        )

    def get(self, path: str) -> HttpResponse:
        return self.transport.request(
            "GET", self.base + path, headers=self._headers(), timeout=self.timeout, hints=self.hints
        )

    def open_stream(self, path: str, body: Any, idle_timeout: float) -> StreamResponse:
        """POST with `Accept: text/event-stream`; reads time out after `idle_timeout` seconds of silence."""
        return self.transport.open_stream(
            "POST",
            self.base + path,
            headers=self._headers("text/event-stream"),
            json_body=body,
            connect_timeout=self.timeout,
            read_timeout=idle_timeout,
            hints=self.hints,
        )

    def chat(self, body: Any) -> HttpResponse:
        return self.post("/v1/chat/completions", body)

    def completions(self, body: Any) -> HttpResponse:
        return self.post("/v1/completions", body)

    def responses(self, body: Any) -> HttpResponse:
        return self.post("/v1/responses", body)

    def tokenize(self, body: Any) -> HttpResponse:
        return self.post("/tokenize", body)

    def detokenize(self, body: Any) -> HttpResponse:
        return self.post("/detokenize", body)

    def models(self) -> HttpResponse:
        return self.get("/v1/models")

    def health(self) -> HttpResponse:
        return self.get("/health")

    def version(self) -> HttpResponse:
        return self.get("/version")
