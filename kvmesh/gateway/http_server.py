"""The Gateway's HTTP/1.1 server: an `asyncio.Protocol` with the httptools parser that runs an ASGI app.

Why not uvicorn: every relayed SSE event goes through the server's `send`, and uvicorn's generic path
(message validation, flow-control objects, per-call header checks) cost most of the Gateway's CPU per
event (see docs/benchmarks.md, "Gateway hot path"). This server implements the part of ASGI 3 the
Gateway uses — `http` scopes, `http.request`/`http.disconnect` receives, `http.response.start`/`body`
sends and `lifespan` — with a send path that is one `transport.write` of the chunk's framing.

What it keeps from a general server: HTTP/1.1 keep-alive with an idle timeout, pipelining (requests on
one connection answered in order), `Content-Length` and chunked request bodies, flow control both ways
(a slow client pauses `send`, hence the upstream read; a large body pauses reading the socket), a clean
500 when the app fails before answering, and graceful shutdown that lets in-flight requests finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import httptools

from kvmesh.gateway.asgi import DIRECT_BODY_EXTENSION

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
AsgiApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Any], Awaitable[None]]

MAX_HEAD_BYTES = 64 * 1024  # request line + headers; more is answered 431
BODY_BUFFER_HIGH = 256 * 1024  # buffered request body above which the socket is not read
KEEPALIVE_SECONDS = 5.0

_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus
}
_DISCONNECT: Message = {"type": "http.disconnect"}
_INTERNAL_ERROR = (
    b'{"error": {"message": "Internal server error.", "type": "server_error", "code": "internal_error"}}'
)


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    return line if line is not None else f"HTTP/1.1 {status} \r\n".encode()


class _Clock:
    """The `Date` header, formatted at most once a second."""

    __slots__ = ("_header", "_second")

    def __init__(self) -> None:
        self._second = 0
        self._header = b""

    def date_header(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._header = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._header


class ServerState:
    """What the connections of one server share: the app, open connections, and the shutdown flag."""

    def __init__(self, app: AsgiApp, keepalive_seconds: float = KEEPALIVE_SECONDS) -> None:
        self.app = app
        self.keepalive_seconds = keepalive_seconds
        self.connections: set[HttpConnection] = set()
        self.clock = _Clock()
        self.closing = False


class RequestCycle:
    """One request on a connection: the ASGI `receive` and `send` for the app, and the response state."""

    __slots__ = (
        "_body_ready",
        "_chunked",
        "_conn",
        "_delivered",
        "_no_body",
        "_on_lost",
        "_on_writable",
        "_pending",
        "_pending_size",
        "_started",
        "body_complete",
        "complete",
        "keep_alive",
        "scope",
    )

    def __init__(self, conn: HttpConnection, scope: MutableMapping[str, Any], keep_alive: bool) -> None:
        self._conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._body_ready = asyncio.Event()
        self.body_complete = False
        self._delivered = False
        self._started = False
        self._chunked = False
        self._no_body = False
        self._on_writable: Callable[[], None] | None = None
        self._on_lost: Callable[[], None] | None = None
        self.complete = False

    # -- fed by the connection

    def add_body(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        self._body_ready.set()

    def end_body(self) -> None:
        self.body_complete = True
        self._body_ready.set()

    @property
    def buffered(self) -> int:
        return self._pending_size

    # -- the ASGI side

    async def receive(self) -> Message:
        conn = self._conn
        while True:
            if self._pending:
                body = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
                self._pending.clear()
                self._pending_size = 0
                self._delivered = self.body_complete
                conn.resume_body_reading()
                return {"type": "http.request", "body": body, "more_body": not self.body_complete}
            if self.body_complete and not self._delivered:
                self._delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if conn.lost or self.complete:
                return _DISCONNECT
            self._body_ready.clear()
            await self._body_ready.wait()

    async def send(self, message: Message) -> None:
        conn = self._conn
        if message["type"] == "http.response.body":
            if not self._started:
                raise RuntimeError("http.response.body sent before http.response.start")
            if self.complete or conn.lost:
                return
            body: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            transport = conn.transport
            if self._chunked:
                if body:
                    transport.write(b"%x\r\n%b\r\n" % (len(body), body))
                if not more:
                    transport.write(b"0\r\n\r\n")
            elif body and not self._no_body:
                transport.write(body)
            if not more:
                self.complete = True
                self._body_ready.set()  # a receive() waiting for a disconnect returns now
                conn.response_done(self)
            elif conn.write_paused:
                await conn.drain()
            return
        if message["type"] == "http.response.start":
            if self._started:
                raise RuntimeError("http.response.start sent twice")
            self._started = True
            if conn.lost:
                return
            self._write_head(message["status"], message.get("headers", ()))
            return
        raise RuntimeError(f"unexpected ASGI message type {message['type']!r}")

    # -- the `kvmesh.direct_body` extension: body writes from protocol callbacks, without a coroutine

    def write(self, body: bytes) -> None:
        """Send `body` as the next part of a started response (more to come)."""
        if self.complete or self._conn.lost or not body or self._no_body:
            return
        if self._chunked:
            self._conn.transport.write(b"%x\r\n%b\r\n" % (len(body), body))
        else:
            self._conn.transport.write(body)

    @property
    def client_lost(self) -> bool:
        return self._conn.lost

    @property
    def paused(self) -> bool:
        """True while the client's socket is full: stop producing until `on_writable` is called."""
        return self._conn.write_paused

    def set_flow_callbacks(
        self, on_writable: Callable[[], None] | None, on_lost: Callable[[], None] | None
    ) -> None:
        self._on_writable = on_writable
        self._on_lost = on_lost

    def writable(self) -> None:
        if self._on_writable is not None:
            self._on_writable()

    def lost(self) -> None:
        self._body_ready.set()
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost()

    def _write_head(self, status: int, headers: Any) -> None:
        conn = self._conn
        parts = [_status_line(status), conn.state.clock.date_header()]
        has_length = False
        for name, value in headers:
            if name == b"content-length":
                has_length = True
            elif name == b"connection" and value.lower() == b"close":
                self.keep_alive = False
            parts.append(b"%b: %b\r\n" % (name, value))
        no_body = status < 200 or status in (204, 304) or self.scope["method"] == "HEAD"
        self._no_body = no_body
        if not has_length and not no_body:
            self._chunked = True
            parts.append(b"transfer-encoding: chunked\r\n")
        if not self.body_complete:
            # The app answered before reading the whole body (a 413, say): the rest cannot be skipped.
            self.keep_alive = False
        if not self.keep_alive or conn.state.closing:
            self.keep_alive = False
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        conn.transport.write(b"".join(parts))

    @property
    def started(self) -> bool:
        return self._started


class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests, runs them one at a time in order, relays flow control."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.lost = False
        self.write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._reading_paused = False
        self._queue: deque[RequestCycle] = deque()
        self._active: RequestCycle | None = None
        self._task: asyncio.Task[None] | None = None
        self._parsing: RequestCycle | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._keepalive: asyncio.TimerHandle | None = None
        self._client: tuple[str, int] | None = None
        self._server: tuple[str, int] | None = None

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        self.state.connections.add(self)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self._client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self._server = (str(sock[0]), int(sock[1])) if isinstance(sock, tuple) else None
        self._arm_keepalive()

    def data_received(self, data: bytes) -> None:
        self._disarm_keepalive()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, b"Protocol upgrades are not supported.")
        except httptools.HttpParserError:
            self._reject(400, b"Malformed HTTP request.")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.state.connections.discard(self)
        self._disarm_keepalive()
        for cycle in (self._active, *self._queue, self._parsing):
            if cycle is not None:
                cycle.lost()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drain()
        if self._active is not None:
            self._active.writable()

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))
        self._grow_head(len(name) + len(value))

    def on_headers_complete(self) -> None:
        parsed = httptools.parse_url(self._url)
        raw_path = parsed.path
        query = parsed.query or b""
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": self.parser.get_http_version(),
            "method": self.parser.get_method().decode("ascii"),
            "scheme": "http",
            "path": raw_path.decode("latin-1") if b"%" not in raw_path else _unquote(raw_path),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": self._headers,
            "client": self._client,
            "server": self._server,
        }
        cycle = RequestCycle(self, scope, self.parser.should_keep_alive())
        scope["extensions"] = {DIRECT_BODY_EXTENSION: cycle}
        self._parsing = cycle
        if self._active is None:
            self._start(cycle)
        else:
            self._queue.append(cycle)

    def on_body(self, body: bytes) -> None:
        cycle = self._parsing
        if cycle is None:
            return
        cycle.add_body(body)
        if cycle.buffered > BODY_BUFFER_HIGH and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        cycle = self._parsing
        self._parsing = None
        if cycle is not None:
            cycle.end_body()

    # -- request cycles

    def _start(self, cycle: RequestCycle) -> None:
        self._active = cycle
        self._task = asyncio.get_running_loop().create_task(self._run(cycle))

    async def _run(self, cycle: RequestCycle) -> None:
        try:
            await self.state.app(cycle.scope, cycle.receive, cycle.send)
        except Exception:
            log.exception("Gateway app failed on %s %s", cycle.scope["method"], cycle.scope["path"])
            if not cycle.started and not self.lost:
                await cycle.send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
                        ],
                    }
                )
                await cycle.send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            if not cycle.complete and not self.lost:
                # The app returned without finishing its response: the connection cannot be reused.
                self.transport.close()

    def response_done(self, cycle: RequestCycle) -> None:
        """Called by the cycle when its last body byte went out: reuse the connection or close it."""
        if not cycle.keep_alive or self.state.closing:
            self.transport.close()
            return
        self._active = None
        if self._queue:
            self._start(self._queue.popleft())
        else:
            self._arm_keepalive()
        self.resume_body_reading()

    # -- flow control

    async def drain(self) -> None:
        if not self.write_paused or self.lost:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def _wake_drain(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def resume_body_reading(self) -> None:
        if self._reading_paused and not self.lost:
            self._reading_paused = False
            self.transport.resume_reading()

    # -- helpers

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD_BYTES:
            raise httptools.HttpParserError("request head too large")

    def _reject(self, status: int, message: bytes) -> None:
        if self._active is None or not self._active.started:
            body = b'{"error": {"message": "%b", "type": "invalid_request_error", "code": "bad_request"}}' % (
                message
            )
            self.transport.write(
                _status_line(status)
                + b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%b"
                % (len(body), body)
            )
        self.transport.close()

    def _arm_keepalive(self) -> None:
        if self._keepalive is None:
            loop = asyncio.get_running_loop()
            self._keepalive = loop.call_later(self.state.keepalive_seconds, self._idle_timeout)

    def _disarm_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    def _idle_timeout(self) -> None:
        self._keepalive = None
        self.close_if_idle()

    def close_if_idle(self) -> None:
        if self._active is None and not self.lost:
            self.transport.close()

    @property
    def busy(self) -> bool:
        return self._active is not None


def _unquote(raw_path: bytes) -> str:
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(raw_path).decode("latin-1")


class Lifespan:
    """Runs the app's ASGI lifespan protocol: startup before serving, shutdown after."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._main())
        await self._inbox.put({"type": "lifespan.startup"})
        await self._started.wait()
        if self._failure is not None:
            raise RuntimeError(f"Gateway startup failed: {self._failure}")

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._stopped.wait()

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        try:
            await self._app(scope, self._inbox.get, self._send)
        except Exception as exc:
            self._failure = self._failure or repr(exc)
            log.exception("Gateway lifespan failed")
        finally:
            self._started.set()
            self._stopped.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            if kind.endswith("failed"):
                self._failure = str(message.get("message", "startup failed"))
            self._started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            self._stopped.set()


async def serve_sockets(
    app: AsgiApp,
    sockets: list[Any],
    stop: asyncio.Event,
    started: Callable[[], None] | None = None,
    graceful_seconds: float = 30.0,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> None:
    """Serve `app` on already-bound listening sockets until `stop` is set, then shut down gracefully."""
    loop = asyncio.get_running_loop()
    state = ServerState(app, keepalive_seconds)
    lifespan = Lifespan(app)
    await lifespan.startup()
    servers = [
        await loop.create_server(lambda: HttpConnection(state), sock=sock, backlog=4096) for sock in sockets
    ]
    if started is not None:
        started()
    try:
        await stop.wait()
    finally:
        state.closing = True
        for server in servers:
            server.close()
        for conn in list(state.connections):
            conn.close_if_idle()
        deadline = loop.time() + graceful_seconds
        while any(conn.busy for conn in state.connections) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(state.connections):
            conn.transport.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        await lifespan.shutdown()
