"""The Gateway ASGI app: a bare ASGI callable (no framework on the hot path) built by `create_app`."""

from __future__ import annotations

import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kvmesh import __version__
from kvmesh.gateway.admission import Admission
from kvmesh.gateway.asgi import (
    GatewayError,
    Receive,
    RequestHeaders,
    Scope,
    Send,
    direct_body,
    send_bytes,
    send_error,
    send_json,
)
from kvmesh.gateway.auth import Authenticator
from kvmesh.gateway.directory import Directory
from kvmesh.gateway.endpoints import PROXIED
from kvmesh.gateway.forwarding import Forwarder
from kvmesh.gateway.key_usage import KeyUseTracker
from kvmesh.gateway.limits import ConcurrencyLimiter, LocalConcurrencyLimiter
from kvmesh.gateway.metering import UsageRecorder
from kvmesh.gateway.metrics import GatewayMetrics
from kvmesh.gateway.replicas import ReplicaPool
from kvmesh.gateway.reservations import BalanceReservations
from kvmesh.gateway.routing import Router, RoutingMetrics
from kvmesh.gateway.settings import GatewaySettings
from kvmesh.gateway.shared_limits import RedisConcurrency, connect, key_rate_limiter
from kvmesh.gateway.spool import UsageSpool
from kvmesh.gateway.upstream import UpstreamClient

log = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = (b"content-type", GatewayMetrics.content_type.encode())
GET_PATHS = ("/health", "/version", "/metrics", "/v1/models")


class RequestIds:
    """Unique request ids without a syscall each: a random per-process prefix plus a counter."""

    def __init__(self) -> None:
        self._prefix = "gw-" + secrets.token_hex(6)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"

    def usage_key(self) -> str:
        """A key unique across Gateway processes and restarts (the prefix is 48 random bits)."""
        return f"{self._prefix}-u{next(self._counter):x}"


class GatewayApp:
    """Routes by exact path; everything long-lived (HTTP pool, usage writer, prober) starts in lifespan."""

    def __init__(
        self,
        settings: GatewaySettings,
        session_factory: Callable[[], Session],
        engine: Engine | None = None,
        limiter: ConcurrencyLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        self.directory = Directory(session_factory, settings)
        self.upstream = UpstreamClient(settings)
        self.router = Router(settings.routing_policy, settings.routing, RoutingMetrics(self.metrics.registry))
        self.pool = ReplicaPool(self.upstream.probe, settings.probe_interval, on_eject=self.router.forget)
        self.reservations = BalanceReservations(session_factory, settings.hold_seconds)
        self.recorder = UsageRecorder(
            session_factory,
            settings.usage_flush_interval,
            settings.usage_batch_size,
            UsageSpool(settings.spool_dir) if settings.spool_dir is not None else None,
            self.reservations.sweep_expired,
        )
        self._shared_slots: RedisConcurrency | None = None
        if limiter is None and settings.redis_url:
            # One cap for every Gateway sharing the Redis; a slot's lease outlives any request.
            limiter = self._shared_slots = RedisConcurrency(
                connect(settings.redis_url), settings.hold_seconds
            )
        self.limiter = limiter if limiter is not None else LocalConcurrencyLimiter()
        self._request_ids = RequestIds()
        self.key_uses = KeyUseTracker(
            session_factory, settings.key_last_used_interval, settings.key_last_used_flush_interval
        )
        self.authenticator = Authenticator(self.directory, settings.server_secret, self.key_uses)
        self.key_limiter = key_rate_limiter(settings.redis_url, settings.key_requests_per_minute)
        self.forwarder = Forwarder(
            self.authenticator,
            self.directory,
            self.pool,
            self.router,
            self.upstream,
            self.recorder,
            self.metrics,
            settings.max_body_bytes,
            Admission(self.directory, self.limiter, self.reservations, settings),
            self._request_ids.usage_key,
            self.key_limiter,
        )
        self._owned_engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def startup(self) -> None:
        await self.upstream.start()
        self.recorder.start()
        self.key_uses.start()
        self.pool.start()

    async def shutdown(self) -> None:
        await self.pool.stop()
        await self.recorder.stop()
        await self.key_uses.stop()
        await self.upstream.stop()
        if self.key_limiter is not None:
            await self.key_limiter.close()
        if self._shared_slots is not None:
            await self._shared_slots.close()
        if self._owned_engine is not None:
            self._owned_engine.dispose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = RequestHeaders(scope["headers"])
        incoming = headers.request_id
        request_id = incoming.decode("latin-1") if _sane_request_id(incoming) else self._request_ids.next()
        rid = request_id.encode("latin-1")
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            endpoint = PROXIED.get(path)
            if endpoint is not None:
                if method != "POST":
                    raise GatewayError(405, f"{path} accepts POST only.", "method_not_allowed")
                await self.forwarder.handle(endpoint, headers, receive, send, request_id, direct_body(scope))
            elif path in GET_PATHS:
                if method not in ("GET", "HEAD"):
                    raise GatewayError(405, f"{path} accepts GET only.", "method_not_allowed")
                await self._get(path, headers, send, rid)
            else:
                raise GatewayError(
                    404,
                    f"Unknown path {path}. See GET /v1/models for what this Gateway serves.",
                    "unknown_path",
                )
        except GatewayError as exc:
            self.metrics.request_done(
                path if path in PROXIED or path in GET_PATHS else "other", "", exc.status
            )
            with contextlib.suppress(Exception):
                await send_error(send, exc, rid)
        except SQLAlchemyError as exc:
            log.error("request %s: store unavailable: %s", request_id, exc)
            with contextlib.suppress(Exception):
                message = "The Gateway cannot read its store right now; try again shortly."
                await send_error(send, GatewayError(503, message, "store_unavailable"), rid)
        except Exception:
            log.exception("request %s failed", request_id)
            with contextlib.suppress(Exception):
                await send_error(send, GatewayError(500, "Internal Gateway error.", "internal_error"), rid)

    async def _get(self, path: str, headers: RequestHeaders, send: Send, rid: bytes) -> None:
        if path == "/health":
            await send_json(send, 200, {"status": "ok"}, rid)
        elif path == "/version":
            await send_json(send, 200, {"version": __version__}, rid)
        elif path == "/metrics":
            self.metrics.usage_pending.set(self.recorder.pending)
            self.metrics.ejected_replicas.set(len(self.pool.ejected_ids()))
            await send_bytes(send, 200, self.metrics.render(), rid, METRICS_CONTENT_TYPE)
        else:
            caller = await self.authenticator.caller(headers)
            names = await self.directory.model_names(
                caller.user_id if caller.surface == "on-demand" else None
            )
            data = [{"id": name, "object": "model", "created": 0, "owned_by": "kvmesh"} for name in names]
            await send_json(send, 200, {"object": "list", "data": data}, rid)


def create_app(settings: GatewaySettings, session_factory: Callable[[], Session] | None = None) -> GatewayApp:
    """Build a Gateway; without a session factory it opens its own engine on `settings.database_url`."""
    if session_factory is not None:
        return GatewayApp(settings, session_factory)
    from kvmesh.store.engine import create_engine_for_url, make_session_factory

    engine = create_engine_for_url(settings.database_url)
    return GatewayApp(settings, make_session_factory(engine), engine)


def _sane_request_id(incoming: bytes) -> bool:
    """A caller's X-Request-Id is echoed and logged only when it is 1-64 visible ASCII characters."""
    return 0 < len(incoming) <= 64 and all(0x21 <= byte <= 0x7E for byte in incoming)
