"""A stand-in Control Plane + Gateway on a loopback port: the documented shapes, plus faults on demand.

It is a real HTTP server (stdlib, one thread per request) so the CLI's transport, timeouts and
SSE reader run for real. `StandinState` holds the data and the fault switches tests flip.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

USER_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
GATEWAY_KEY = "tmk_gateway_key_0123456789"


def _now() -> str:
    return "2026-11-25T00:00:00Z"


@dataclass
class StandinState:
    access_tokens: set[str] = field(default_factory=lambda: {"at-1"})
    refresh_tokens: set[str] = field(default_factory=lambda: {"rt-1"})
    token_counter: int = 1
    pending_polls: int = 1
    gateway_keys: set[str] = field(default_factory=lambda: {GATEWAY_KEY})
    served_models: set[str] = field(default_factory=lambda: {"smollm2-135m-instruct"})
    models: list[dict[str, Any]] = field(default_factory=list)
    api_keys: list[dict[str, Any]] = field(default_factory=list)
    pricing: list[dict[str, Any]] = field(default_factory=list)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    reply: str = "Hello there"
    stream_chunks: list[str] = field(default_factory=lambda: ["Hel", "lo", " world"])
    stream_fault: str | None = None  # "stall" | "drop" | "error" | "badjson"
    stall_seconds: float = 5.0
    revoked: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses returned (once each) before normal handling
    canned: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)  # (method, path) -> reply

    def issue_tokens(self) -> dict[str, Any]:
        self.token_counter += 1
        access, refresh = f"at-{self.token_counter}", f"rt-{self.token_counter}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": 3600}


def default_model_record(endpoint: str) -> dict[str, Any]:
    return {
        "modelId": "dep-1",
        "deploymentId": "dep-1",
        "userId": USER_ID,
        "modelName": "smollm2-135m-instruct",
        "status": "MODEL_STATUS_UP",
        "createdAt": _now(),
        "updatedAt": _now(),
        "infra": {"cloudProvider": "CLOUD_PROVIDER_ONPREM", "onpremRegion": "local"},
        "endpoint": endpoint,
        "apiKey": GATEWAY_KEY,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -----------------------------------------------------------------------------------
    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode()

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", "req-123")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "type": "error", "code": None}})

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = self._body() if method in ("POST", "PUT", "PATCH") else None
        state.requests.append(
            {
                "method": method,
                "path": parts.path,
                "query": query,
                "headers": dict(self.headers),
                "body": body,
            }
        )
        if state.fail_next:
            status = state.fail_next.pop(0)
            self._send(
                status,
                {"error": {"message": "transient", "type": "error", "code": None}},
                {"Retry-After": "0"},
            )
            return
        if (method, parts.path) in state.canned:
            status, raw = state.canned[(method, parts.path)]
            self._send(status, raw)
            return
        route = ROUTES.get((method, parts.path))
        if (
            route is None
            and method in ("GET", "DELETE", "PATCH")
            and parts.path.startswith("/v1/deployments/")
        ):
            route = _deployment_item
        if route is None:
            self._error(404, f"no route {method} {parts.path}")
            return
        route(self, state, query, body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def cp_user(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") in self.server.state.access_tokens:
            return True
        self._error(401, "invalid or expired access token")
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: StandinState

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-stream are expected here; stay quiet (CliRunner captures stderr)."""


# -- Control Plane -------------------------------------------------------------------------------------
def _start(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    h._send(200, {"auth_url": f"{h.server.base}/cli-login?code=abc", "cli_code": "abc", "interval": 0.01})


def _exchange(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if not isinstance(b, dict) or b.get("cli_code") != "abc":
        h._error(400, "bad cli_code")
    elif s.pending_polls > 0:
        s.pending_polls -= 1
        h._send(202, {"status": "pending"})
    else:
        h._send(200, s.issue_tokens())


def _refresh(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    token = b.get("refresh_token") if isinstance(b, dict) else None
    if token not in s.refresh_tokens:
        h._error(401, "invalid refresh token")
        return
    s.refresh_tokens.discard(token)
    h._send(200, s.issue_tokens())


def _logout(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    token = h.headers.get("Authorization", "").removeprefix("Bearer ")
    s.revoked.append(token)
    s.access_tokens.discard(token)
    h._send(200, {})


def _profile(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if h.cp_user():
        h._send(200, {"user": {"id": USER_ID, "userEmail": "alice@example.com", "displayName": "Alice"}})


def _models(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if h.headers.get("Authorization", "").removeprefix("Bearer ") in s.gateway_keys:
        _gw_models(h, s, q, b)
    elif h.cp_user():
        h._send(200, {"models": s.models})


def _api_keys(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if not h.cp_user():
        return
    if h.command == "POST":
        record = {"id": f"tmk_new_{len(s.api_keys)}", "name": (b or {}).get("name"), "createdAt": _now()}
        s.api_keys.append(record)
        h._send(200, {"apiKey": record})
    elif h.command == "DELETE":
        s.api_keys = [k for k in s.api_keys if k["id"] != q.get("apiKey")]
        h._send(200, {})
    else:
        h._send(200, {"apiKeys": s.api_keys})


def _serverless_pricing(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if not h.cp_user():
        return
    items = [p for p in s.pricing if "model" not in q or p.get("model") == q["model"]]
    if q.get("activeOnly") == "true":
        items = [p for p in items if p.get("isActive")]
    h._send(200, {"pricing": items})


def _simple(payload: dict[str, Any]) -> Any:
    def route(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
        if h.cp_user():
            h._send(200, payload)

    return route


def _deployments(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if not h.cp_user():
        return
    if h.command == "POST":
        dep_id = f"dep-{len(s.deployments) + 1}"
        record = {
            "deploymentId": dep_id,
            "modelId": dep_id,
            "modelName": (b or {}).get("modelName"),
            "status": "MODEL_STATUS_PENDING",
            "polls": 0,
            "lastError": "",
            "events": [],
            "routing": (b or {}).get("routing") or "default",
        }
        s.deployments[dep_id] = record
        h._send(201, {"deployment": record})
    else:
        h._send(200, {"deployments": list(s.deployments.values())})


def _deployment_item(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if not h.cp_user():
        return
    dep_id = h.path.split("?")[0].rsplit("/", 1)[1]
    record = s.deployments.get(dep_id)
    if record is None:
        h._error(404, f"deployment {dep_id} not found")
    elif h.command == "DELETE":
        record["status"] = "MODEL_STATUS_DELETED"
        h._send(200, {})
    elif h.command == "PATCH":
        record["routing"] = (b or {}).get("routing") or "default"
        h._send(200, {"deployment": record})
    else:
        record["polls"] += 1
        if (
            record["polls"] >= 2
            and record["status"] != "MODEL_STATUS_DELETED"
            and record["modelName"] != "slow"
        ):
            record["status"] = "MODEL_STATUS_FAILED" if record["modelName"] == "broken" else "MODEL_STATUS_UP"
            if record["status"] == "MODEL_STATUS_FAILED":
                record["lastError"] = "engine exited with status 1"
        h._send(200, {"deployment": record})


# -- Gateway --------------------------------------------------------------------------------------------
def _gateway_ok(h: _Handler, s: StandinState, b: Any) -> bool:
    if h.headers.get("Authorization", "").removeprefix("Bearer ") not in s.gateway_keys:
        h._error(401, "invalid api key")
        return False
    if isinstance(b, dict) and "model" in b and b["model"] not in s.served_models:
        h._error(404, f"model {b['model']!r} not found")
        return False
    return True


def _chat(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if not _gateway_ok(h, s, b):
        return
    if isinstance(b, dict) and b.get("stream"):
        _stream(h, s, b)
        return
    h._send(
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": b.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": s.reply},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            "system_fingerprint": None,
        },
    )


def _chunk(text: str, model: str) -> bytes:
    event = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": {"content": text}}],
    }
    return f"data: {json.dumps(event)}\n\n".encode()


def _write_chunk(h: _Handler, data: bytes) -> None:
    h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    h.wfile.flush()


def _stream(h: _Handler, s: StandinState, b: dict[str, Any]) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream; charset=utf-8")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    model = str(b.get("model"))
    for text in s.stream_chunks:
        _write_chunk(h, _chunk(text, model))
    if s.stream_fault == "stall":
        time.sleep(s.stall_seconds)
    elif s.stream_fault == "drop":
        h.wfile.flush()
        h.connection.shutdown(socket.SHUT_RDWR)
        h.close_connection = True
        return
    elif s.stream_fault == "error":
        _write_chunk(h, b'data: {"error": {"message": "boom"}}\n\n')
    elif s.stream_fault == "badjson":
        _write_chunk(h, b"data: {not json\n\n")
    _write_chunk(h, b"data: [DONE]\n\n")
    h.wfile.write(b"0\r\n\r\n")


def _completions(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if _gateway_ok(h, s, b):
        h._send(
            200,
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 1,
                "model": b.get("model"),
                "choices": [{"index": 0, "text": s.reply, "finish_reason": "stop"}],
            },
        )


def _gw_models(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if _gateway_ok(h, s, b):
        h._send(
            200, {"object": "list", "data": [{"id": m, "object": "model"} for m in sorted(s.served_models)]}
        )


def _gw_health(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    h._send(200, {"status": "ok"})


def _gw_version(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    h._send(200, {"version": "0.0-standin"})


def _tokenize(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if _gateway_ok(h, s, b):
        h._send(200, {"tokens": [1, 2, 3], "count": 3})


def _detokenize(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if _gateway_ok(h, s, b):
        h._send(200, {"prompt": "hi there"})


def _responses(h: _Handler, s: StandinState, q: dict[str, str], b: Any) -> None:
    if _gateway_ok(h, s, b):
        h._send(
            200,
            {
                "id": "resp-1",
                "output": [{"type": "message", "content": [{"type": "output_text", "text": s.reply}]}],
            },
        )


ROUTES: dict[tuple[str, str], Any] = {
    ("POST", "/auth/cli/start"): _start,
    ("POST", "/auth/cli/exchange"): _exchange,
    ("POST", "/auth/cli/refresh"): _refresh,
    ("POST", "/auth/logout"): _logout,
    ("GET", "/auth/profile"): _profile,
    ("GET", "/v1/models"): _models,
    ("GET", "/v1/users/api-keys"): _api_keys,
    ("POST", "/v1/users/api-keys"): _api_keys,
    ("DELETE", "/v1/users/api-keys"): _api_keys,
    ("GET", "/v1/billing/serverless-pricing"): _serverless_pricing,
    ("GET", "/v1/billing/gpu-pricing"): _simple({"pricing": [{"gpuType": "cpu", "cloudProvider": "onprem"}]}),
    ("GET", "/v1/billing/balance"): _simple({"balance": {"currencyCode": "USD", "units": "10", "nanos": 0}}),
    ("GET", "/v1/billing/transactions"): _simple({"transactions": [], "nextPageToken": ""}),
    ("GET", "/v1/billing/spending/summary"): _simple({"spend24h": {"units": "0"}}),
    ("GET", "/v1/billing/spending/history"): _simple({"buckets": []}),
    ("GET", "/v1/billing/usage"): _simple({"usage": []}),
    ("POST", "/v1/deployments"): _deployments,
    ("GET", "/v1/deployments"): _deployments,
    ("POST", "/v1/chat/completions"): _chat,
    ("POST", "/v1/completions"): _completions,
    ("POST", "/v1/responses"): _responses,
    ("POST", "/tokenize"): _tokenize,
    ("POST", "/detokenize"): _detokenize,
    ("GET", "/health"): _gw_health,
    ("GET", "/version"): _gw_version,
}


class Standin:
    """Start with `Standin()`; `.base` is `http://127.0.0.1:PORT`; `stop()` when done."""

    def __init__(self, state: StandinState | None = None) -> None:
        self.state = state or StandinState()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.state = self.state
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.server.base = self.base  # type: ignore[attr-defined]
        if not self.state.models:
            self.state.models.append(default_model_record(self.base))
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
