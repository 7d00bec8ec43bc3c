"""The proxied-request path: authenticate, route, pick a replica, forward, relay, meter."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from kvmesh.engines.dialects import NativeDialect, native_dialect
from kvmesh.gateway.admission import Admission
from kvmesh.gateway.asgi import (
    DirectBody,
    GatewayError,
    Receive,
    RequestHeaders,
    Send,
    read_body,
    send_json,
)
from kvmesh.gateway.auth import DEPLOYMENT_KEY_OTHER_MODEL, Authenticator, Caller
from kvmesh.gateway.client_watch import CLIENT_CLOSED, ClientGone, HeldFinalMessage, unless_client_leaves
from kvmesh.gateway.directory import ON_DEMAND, Directory, Route
from kvmesh.gateway.endpoints import ProxiedEndpoint
from kvmesh.gateway.metering import NO_TOKENS, TokenCounts, UsageRecorder, UsageRow
from kvmesh.gateway.metrics import GatewayMetrics
from kvmesh.gateway.relay.stream import relay_stream
from kvmesh.gateway.relay.unary import relay_unary
from kvmesh.gateway.replicas import ReplicaPool, ReplicaState
from kvmesh.gateway.reservations import estimated_prompt_tokens
from kvmesh.gateway.routing import Choice, Outcome, Router, RouteRequest
from kvmesh.gateway.shared_limits import KeyRateLimiter
from kvmesh.gateway.upstream import UpstreamClient, UpstreamFailure, origin_of
from kvmesh.gateway.upstream_http import UpstreamProtocolError, UpstreamResponse

PROMPT_COUNT_TIMEOUT = 5.0


@dataclass(slots=True)
class Exchange:
    """One proxied request's facts, filled in as it goes, then turned into a usage record."""

    request_id: str
    endpoint: ProxiedEndpoint
    caller: Caller
    route: Route
    streamed: bool
    started: float
    status: int = 200
    tokens: TokenCounts = NO_TOKENS
    first_byte_at: float | None = None
    routing: RouteRequest | None = None
    choice: Choice | None = None
    usage_key: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    upstream_reached: bool = False


class Forwarder:
    def __init__(
        self,
        authenticator: Authenticator,
        directory: Directory,
        pool: ReplicaPool,
        router: Router,
        upstream: UpstreamClient,
        recorder: UsageRecorder,
        metrics: GatewayMetrics,
        max_body_bytes: int,
        admission: Admission,
        usage_keys: Callable[[], str],
        key_limiter: KeyRateLimiter | None = None,
    ) -> None:
        self._auth = authenticator
        self._directory = directory
        self._pool = pool
        self._router = router
        self._upstream = upstream
        self._recorder = recorder
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._key_limiter = key_limiter
        self._admission = admission
        self._usage_keys = usage_keys

    async def handle(
        self,
        endpoint: ProxiedEndpoint,
        headers: RequestHeaders,
        receive: Receive,
        send: Send,
        request_id: str,
        direct: DirectBody | None = None,
    ) -> None:
        started = time.perf_counter()
        caller = await self._auth.caller(headers)
        if self._key_limiter is not None:
            decision = await self._key_limiter.hit(caller.api_key_id)
            if not decision.allowed:
                limit = self._key_limiter.limit_per_minute
                raise GatewayError(
                    429,
                    f"Rate limit reached: {limit} requests per minute for this API key; "
                    f"retry in {decision.retry_after_s} s.",
                    "rate_limit_exceeded",
                )
        body = await read_body(receive, self._max_body, headers.content_length)
        request = _parse_request(body)
        model = request.get("model")
        if not isinstance(model, str) or not model.strip():
            raise GatewayError(400, "Missing `model` in the request body.", "missing_model")
        if not model.isascii() and not _encodable(model):
            raise GatewayError(400, "`model` contains unpaired UTF-16 surrogates.", "invalid_model")
        route = await self._route(caller, model)
        stream = endpoint.metered and request.get("stream") is True
        strip_usage = False
        if stream and endpoint.inject_usage:
            options = request.get("stream_options")
            if not (isinstance(options, dict) and options.get("include_usage") is True):
                request["stream_options"] = {
                    **(options if isinstance(options, dict) else {}),
                    "include_usage": True,
                }
                body = json.dumps(request).encode()
                strip_usage = True
        dialect = None if endpoint.metered else native_dialect(route.provider)
        if dialect is not None:
            await self._engine_native(dialect, endpoint, route, request, send, request_id)
            return
        usage_key = self._usage_keys()
        admitted = await self._admission.admit(caller.user_id, route, request, usage_key, endpoint.metered)
        if admitted.body is not None:
            body = admitted.body
        exchange = Exchange(
            request_id, endpoint, caller, route, stream, started, usage_key=usage_key, request=request
        )
        exchange.routing = self._router.describe(
            route.deployment_id or route.model,
            route.model,
            endpoint.path,
            route.routing,
            request,
            headers.session_id,
            [replica.id for replica in route.replicas],
        )
        self._metrics.in_flight.inc()
        # The answer ends only once its usage record is in the spool: the message that ends the response
        # (END_OF_BODY of a stream, piped or not; the body of a unary reply) waits in `final`.
        final = HeldFinalMessage(send)
        try:
            await self._forward(exchange, body, final.send, receive, strip_usage, direct)
        finally:
            self._metrics.in_flight.dec()
            try:
                if endpoint.metered:
                    await self._meter(exchange)
            finally:
                await self._admission.finish(admitted, metered=endpoint.metered)
                await final.release()

    async def _route(self, caller: Caller, model: str) -> Route:
        if caller.surface == ON_DEMAND:
            route = await self._directory.on_demand_route(caller.user_id, model)
            hint = "List your deployed models with `tm models list` or GET /v1/models with X-User-Id."
        else:
            route = await self._directory.serverless_route(model)
            hint = "List serverless models with `tm billing pricing serverless list` or GET /v1/models."
        if route is None:
            raise GatewayError(
                404, f"Model {model!r} not found for this {caller.surface} request. {hint}", "model_not_found"
            )
        # A deployment key is scoped to its deployment for On-Demand. Serverless accepts it: the 0.1.9
        # CLI sends the synced gateway_api_key (a deployment key) to serverless when --api-key is
        # omitted (protocol.md §10 item 14), and scripts written for it must keep working.
        if caller.surface == ON_DEMAND and caller.deployment_id not in (None, route.deployment_id):
            raise GatewayError(
                403, DEPLOYMENT_KEY_OTHER_MODEL.format(model=model), "api_key_deployment_mismatch"
            )
        if not route.replicas:
            raise GatewayError(
                503,
                f"Model {model!r} has no ready replica (deployment status: {route.deployment_status}).",
                "model_not_ready",
            )
        return route

    async def _open(self, exchange: Exchange, body: bytes) -> tuple[UpstreamResponse, ReplicaState]:
        """Open the upstream request. A failure before the first byte ejects the replica and retries once
        on another one; a pooled keep-alive connection the engine had already closed (llama-server
        closes them after 100 requests) is retried at once, up to twice, without blaming the replica."""
        route, endpoint = exchange.route, exchange.endpoint
        request = exchange.routing or RouteRequest(
            route.deployment_id or route.model, route.model, endpoint.path, policy=route.routing
        )
        failure: UpstreamFailure | None = None
        tried: str | None = None
        stale_retries = 0
        while True:
            candidates = self._pool.candidates(route.replicas, exclude=tried)
            if not candidates:
                break
            choice = self._router.choose(request, candidates)
            replica = choice.replica
            assert isinstance(replica, ReplicaState)
            exchange.choice = choice
            base = origin_of(replica.url) if endpoint.at_root else replica.url
            replica.outstanding += 1
            try:
                response = await self._upstream.open(
                    "POST",
                    base + endpoint.upstream_path,
                    body,
                    exchange.request_id,
                    exchange.streamed,
                    api_key=replica.api_key,
                    guarded=replica.guarded,
                )
            except UpstreamFailure as exc:
                replica.outstanding -= 1
                failure = exc
                self._metrics.upstream_errors.labels(exc.kind).inc()
                if exc.kind == "disconnected" and stale_retries < 2:
                    stale_retries += 1
                    continue
                self._pool.eject(replica, exc.message)
                if tried is not None:
                    break
                tried = replica.id
                continue
            except BaseException:  # cancelled: the client left before the answer started
                replica.outstanding -= 1
                raise
            return response, replica
        assert failure is not None
        status = 504 if failure.kind == "timeout" else 502
        raise GatewayError(status, f"Upstream replica failed: {failure.message}", f"upstream_{failure.kind}")

    async def _forward(
        self,
        exchange: Exchange,
        body: bytes,
        send: Send,
        receive: Receive,
        strip_usage: bool,
        direct: DirectBody | None,
    ) -> None:
        exchange.upstream_reached = True
        try:
            response, replica = await unless_client_leaves(self._open(exchange, body), receive, direct)
        except ClientGone:
            exchange.status = CLIENT_CLOSED
            raise GatewayError(
                CLIENT_CLOSED, "Client closed the request before the answer started.", "client_closed"
            ) from None
        except GatewayError as exc:
            exchange.status = exc.status
            raise
        try:
            if exchange.streamed and response.status == 200:
                outcome = await relay_stream(
                    response, send, receive, exchange.request_id.encode(), strip_usage, direct
                )
                exchange.status, exchange.tokens = outcome.status, outcome.tokens
                exchange.first_byte_at = outcome.first_byte_at
                if outcome.failure is not None:
                    self._metrics.upstream_errors.labels(outcome.failure).inc()
                    if outcome.failure == "protocol":
                        self._pool.eject(replica, "stream ended abruptly")
            else:
                exchange.status, exchange.tokens = await relay_unary(
                    exchange.endpoint, response, send, exchange.request_id.encode()
                )
        except GatewayError as exc:
            exchange.status = exc.status
            if exc.code in ("upstream_protocol", "upstream_timeout"):
                self._pool.eject(replica, exc.message)
            raise
        finally:
            replica.outstanding -= 1
            response.close()
            if exchange.routing is not None and exchange.choice is not None:
                # The token counts come from the stream's outcome / the unary reply, read after the relay.
                tokens = exchange.tokens
                reported = Outcome(exchange.status == 200, tokens.prompt_tokens, tokens.cached_tokens)
                self._router.observe(exchange.routing, exchange.choice, reported)

    async def _engine_native(
        self,
        dialect: NativeDialect,
        endpoint: ProxiedEndpoint,
        route: Route,
        request: dict[str, Any],
        send: Send,
        request_id: str,
    ) -> None:
        """An engine whose /tokenize and /detokenize take other shapes: map both ways through its dialect."""
        exchange = Exchange(
            request_id, endpoint, Caller("", "", route.surface), route, False, time.perf_counter()
        )
        template = dialect.template_path
        if template and endpoint.path == "/tokenize" and "messages" in request and "prompt" not in request:
            templated = await self._call_json(exchange, template, {"messages": request["messages"]})
            request = {
                **request,
                "prompt": templated.get("prompt", "") if isinstance(templated, dict) else "",
            }
        mapped = dialect.request(endpoint.path, request)
        reply = await self._call_json(exchange, endpoint.upstream_path, mapped)
        await send_json(send, 200, dialect.response(endpoint.path, reply), request_id.encode())

    async def _call_json(self, exchange: Exchange, path: str, payload: Any) -> Any:
        hop = ProxiedEndpoint(path, path, False, False, at_root=True)
        exchange = Exchange(
            exchange.request_id, hop, exchange.caller, exchange.route, False, exchange.started
        )
        response, replica = await self._open(exchange, json.dumps(payload).encode())
        try:
            raw = await response.read()
            if response.status != 200:
                raise GatewayError(
                    502 if response.status >= 500 else response.status,
                    f"Engine {path} answered HTTP {response.status}: {raw[:300].decode(errors='replace')}",
                    "upstream_status",
                )
            return json.loads(raw)
        except ValueError as exc:
            raise GatewayError(502, f"Engine {path} returned invalid JSON.", "upstream_invalid_json") from exc
        except (TimeoutError, UpstreamProtocolError) as exc:
            raise GatewayError(
                502, f"Engine {path} failed: {type(exc).__name__}", "upstream_protocol"
            ) from exc
        finally:
            replica.outstanding -= 1
            response.close()

    async def _prompt_tokens(self, exchange: Exchange) -> int:
        """The prompt's token count when the engine's usage never arrived (the client hung up, the stream
        died): the engine's own tokenizer where its dialect has one (llama.cpp), else an estimate."""
        request = exchange.request
        dialect = native_dialect(exchange.route.provider)
        if dialect is not None and ("messages" in request or "prompt" in request):
            try:
                async with asyncio.timeout(PROMPT_COUNT_TIMEOUT):
                    return await self._engine_token_count(dialect, exchange)
            except Exception:  # any failure falls back to the estimate
                pass
        return estimated_prompt_tokens(request)

    async def _engine_token_count(self, dialect: NativeDialect, exchange: Exchange) -> int:
        request = exchange.request
        prompt = request.get("prompt")
        if "messages" in request:
            if dialect.template_path is None:
                raise ValueError("the engine renders no chat template")
            templated = await self._call_json(
                exchange, dialect.template_path, {"messages": request["messages"]}
            )
            prompt = templated.get("prompt") if isinstance(templated, dict) else None
        if not isinstance(prompt, str):
            raise ValueError("no prompt text to tokenise")
        mapped = dialect.request("/tokenize", {"prompt": prompt, "add_special_tokens": True})
        reply = dialect.response("/tokenize", await self._call_json(exchange, "/tokenize", mapped))
        tokens = reply.get("tokens") if isinstance(reply, dict) else None
        if not isinstance(tokens, list):
            raise ValueError("the engine's /tokenize answered no token list")
        return len(tokens)

    async def _meter(self, exchange: Exchange) -> None:
        tokens, route, caller = exchange.tokens, exchange.route, exchange.caller
        unreported = tokens.prompt_tokens == 0 and exchange.upstream_reached
        if unreported and (exchange.status == CLIENT_CLOSED or tokens.completion_tokens > 0):
            tokens = exchange.tokens = replace(tokens, prompt_tokens=await self._prompt_tokens(exchange))
        now = time.perf_counter()
        cost = (
            route.cost_micros(tokens.prompt_tokens, tokens.completion_tokens, tokens.cached_tokens)
            if route.priced
            else 0
        )
        await self._recorder.record(
            UsageRow(
                request_id=exchange.request_id,
                user_id=caller.user_id,
                api_key_id=caller.api_key_id,
                deployment_id=route.deployment_id,
                surface=caller.surface,
                model=route.model,
                endpoint=exchange.endpoint.path,
                streamed=exchange.streamed,
                prompt_tokens=tokens.prompt_tokens,
                completion_tokens=tokens.completion_tokens,
                cached_tokens=tokens.cached_tokens,
                latency_ms=int((now - exchange.started) * 1000),
                ttft_ms=int((exchange.first_byte_at - exchange.started) * 1000)
                if exchange.first_byte_at
                else None,
                status_code=exchange.status,
                cost_micros=cost,
                created_at=datetime.now(UTC),
                usage_key=exchange.usage_key,
            )
        )
        self._metrics.request_done(exchange.endpoint.path, caller.surface, exchange.status)
        self._metrics.proxied(
            caller.surface,
            now - exchange.started,
            tokens.prompt_tokens,
            tokens.completion_tokens,
            tokens.cached_tokens,
        )


def _encodable(text: str) -> bool:
    """Whether `text` can be encoded as UTF-8 (a lone surrogate from JSON `"\\ud800"` cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_request(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise GatewayError(400, "Request body is nested too deeply.", "invalid_json") from None
    except ValueError as exc:
        detail = f" ({exc})" if "not valid JSON" in str(exc) else ""
        raise GatewayError(400, f"Request body is not valid JSON{detail}.", "invalid_json") from None
    if not isinstance(request, dict):
        raise GatewayError(400, "Request body must be a JSON object.", "invalid_request")
    return request
