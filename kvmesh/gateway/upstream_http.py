"""HTTP/1.1 to engine replicas at the protocol level: keep-alive connections, httptools response parsing.

Why not aiohttp here: relaying a streamed answer reads one small SSE event at a time, and aiohttp's
reader path (StreamReader, a timer armed per read for `sock_read`) cost about as much per event as the
rest of the Gateway together (docs/benchmarks.md, "Gateway hot path"). Here a read is: take the bytes
the protocol buffered, or wait on one future. The idle timeout is one timer per connection that is
re-armed lazily from the time of the last byte, not a timer per read.

External upstreams of users' deployments are connected under the upstream address policy: the name
is resolved, refused addresses dropped, and the connection made to a checked address (the Host header
stays the URL's). Pooled connections are keyed by (host, port, policy), so a connection opened for a
trusted replica is never reused for a guarded request.

Flow control: when more than `READ_BUFFER_HIGH` bytes are buffered and not yet read by the relay (a
slow client stops the relay), the socket is paused, so TCP pushes back on the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Protocol
from urllib.parse import urlsplit

import httptools

from kvmesh.engines.upstream_policy import UpstreamPolicy, allowed_addresses

READ_BUFFER_HIGH = 64 * 1024


PoolKey = tuple[str, int, UpstreamPolicy | None]  # host, port, address policy (None: trusted)


class UpstreamProtocolError(Exception):
    """The replica's connection broke or sent something that is not HTTP; `disconnected` when it closed
    before sending a single byte of the response (a pooled connection it had already dropped)."""

    def __init__(self, message: str, disconnected: bool = False) -> None:
        super().__init__(message)
        self.disconnected = disconnected


class BodyConsumer(Protocol):
    """Takes a response body as it arrives, called from the connection's protocol callbacks."""

    def on_data(self, data: bytes) -> None: ...

    def on_end(self) -> None: ...

    def on_error(self, error: BaseException) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection; parses one response at a time into a `UpstreamResponse`."""

    def __init__(self, origin: PoolKey) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._response: UpstreamResponse | None = None

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        response = self._response
        if response is None:
            # Bytes nobody asked for (or a server talking after its response): unusable connection.
            self.close()
            return
        response.got_bytes = True
        response.last_data_at = time.monotonic()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response.fail(UpstreamProtocolError(f"invalid HTTP from replica: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        response = self._response
        if response is not None and not response.finished:
            response.fail(
                UpstreamProtocolError("replica closed the connection", disconnected=not response.got_bytes)
            )

    # -- httptools callbacks

    def on_headers_complete(self) -> None:
        response = self._response
        assert response is not None
        response.status = self._parser.get_status_code()
        response.keep_alive = self._parser.should_keep_alive()
        response.head_ready()

    def on_body(self, body: bytes) -> None:
        response = self._response
        assert response is not None
        response.feed(body)
        if response.buffered > READ_BUFFER_HIGH:
            self.pause()

    def on_message_complete(self) -> None:
        response = self._response
        assert response is not None
        response.finish()

    # -- used by the pool and the response

    def begin(self, response: UpstreamResponse, request: bytes) -> None:
        assert self.transport is not None
        self._response = response
        self._parser = httptools.HttpResponseParser(self)
        self.transport.write(request)

    def release(self) -> None:
        self._response = None

    def pause(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.resume_reading()

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()


class UpstreamResponse:
    """The response side of one request: `status`, then either `read()` (all of it) / `readany()` (what
    has arrived), or `pipe(consumer)`, which hands each body chunk to the consumer inside the protocol
    callback (no task switch per SSE event). Reads fail with `TimeoutError` after `read_timeout` seconds
    without a byte, and with `UpstreamProtocolError` when the connection breaks. `close()` gives a
    finished keep-alive connection back to the pool and closes any other."""

    def __init__(self, pool: UpstreamPool, conn: UpstreamConnection, read_timeout: float) -> None:
        self._pool = pool
        self._conn = conn
        self._read_timeout = read_timeout
        self._chunks: deque[bytes] = deque()
        self.buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._consumer: BodyConsumer | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._paused = False
        self.status = 0
        self.keep_alive = False
        self.got_bytes = False
        self.last_data_at = time.monotonic()
        self.head_received = False
        self.finished = False

    # -- fed by the connection

    def head_ready(self) -> None:
        self.head_received = True
        self._wake()

    def feed(self, data: bytes) -> None:
        consumer = self._consumer
        if consumer is not None:
            consumer.on_data(data)
            return
        self._chunks.append(data)
        self.buffered += len(data)
        self._wake()

    def finish(self) -> None:
        self.finished = True
        consumer = self._consumer
        if consumer is not None:
            self._stop_idle_timer()
            consumer.on_end()
            return
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self._error is not None or self.finished:
            return
        self._error = error
        consumer = self._consumer
        if consumer is not None:
            self._stop_idle_timer()
            consumer.on_error(error)
            return
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- piping

    def pipe(self, consumer: BodyConsumer) -> None:
        """Hand the body to `consumer` from now on: what is buffered at once, the rest as it arrives."""
        self._consumer = consumer
        if self._chunks:
            data = b"".join(self._chunks)
            self._chunks.clear()
            paused, self.buffered = self.buffered > READ_BUFFER_HIGH, 0
            if paused:
                self._conn.resume()
            consumer.on_data(data)
        if self.finished:
            consumer.on_end()
        elif self._error is not None:
            consumer.on_error(self._error)
        else:
            self._arm_idle_timer()

    def pause_reading(self) -> None:
        """Stop reading the replica (the consumer's client is not keeping up); no idle timeout meanwhile."""
        if not self._paused:
            self._paused = True
            self._stop_idle_timer()
            self._conn.pause()

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            self.last_data_at = time.monotonic()
            self._conn.resume()
            if not self.finished and self._error is None:
                self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_at(
            loop.time() + self._read_timeout - (time.monotonic() - self.last_data_at), self._idle_check
        )

    def _stop_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_check(self) -> None:
        """One timer per response, re-armed from the time of the last byte rather than once per chunk."""
        self._idle_timer = None
        if self._paused or self.finished or self._error is not None:
            return
        if time.monotonic() - self.last_data_at >= self._read_timeout:
            self.fail(TimeoutError(f"no data from the replica for {self._read_timeout:g} s"))
            self._conn.close()
        else:
            self._arm_idle_timer()

    def set_deadline(self, seconds: float) -> None:
        """Fail the exchange with `TimeoutError` (and close its connection) `seconds` from now unless it
        has finished by then: the upstream total timeout, whether the body is read or piped."""
        self._deadline = asyncio.get_running_loop().call_later(seconds, self._deadline_passed, seconds)

    def _deadline_passed(self, seconds: float) -> None:
        self._deadline = None
        if self.finished or self._error is not None or self._closed:
            return
        self.fail(TimeoutError(f"the replica's answer took longer than {seconds:g} s in all"))
        self._conn.close()

    # -- reading

    async def wait_head(self, timeout: float) -> None:
        while not self.head_received:
            if self._error is not None:
                raise self._error
            await self._wait(timeout)

    async def readany(self) -> bytes:
        """The bytes received since the last read; b"" once the response is complete."""
        while True:
            if self._chunks:
                data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
                self._chunks.clear()
                paused, self.buffered = self.buffered > READ_BUFFER_HIGH, 0
                if paused:
                    self._conn.resume()
                return data
            if self.finished:
                return b""
            if self._error is not None:
                raise self._error
            await self._wait(self._read_timeout)

    async def read(self) -> bytes:
        parts: list[bytes] = []
        while data := await self.readany():
            parts.append(data)
        return b"".join(parts)

    async def _wait(self, timeout: float) -> None:
        """Wait for the connection to report something, at most `timeout` s."""
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        handle = loop.call_later(timeout, _time_out, waiter, timeout)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_idle_timer()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._consumer = None
        conn = self._conn
        conn.release()
        if self.finished and self.keep_alive and self._error is None and conn.reusable:
            self._pool.put_back(conn)
        else:
            conn.close()
        if not self.finished and self._error is None:
            # A read still waiting (the generic relay whose client hung up) ends now, not at the timeout.
            self._error = UpstreamProtocolError("the response was closed before it ended")
            self._wake()


def _time_out(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"no data from the replica for {timeout:g} s"))


class UpstreamPool:
    """Idle keep-alive connections per origin; a connection idle longer than `keepalive_seconds` (kept
    below the engines' own keep-alive) is closed instead of reused."""

    def __init__(self, connect_timeout: float, keepalive_seconds: float) -> None:
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_seconds
        self._idle: dict[PoolKey, list[UpstreamConnection]] = {}
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        head_timeout: float,
        read_timeout: float,
        policy: UpstreamPolicy | None = None,
        total_timeout: float | None = None,
    ) -> UpstreamResponse:
        """Send the request and wait for the response head (at most `head_timeout` s); with
        `total_timeout`, the whole exchange fails with `TimeoutError` once it has taken that long.

        With a `policy`, the connection goes only to an address it allows (`UpstreamRefused` otherwise)."""
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme != "http":
            raise UpstreamProtocolError(f"unsupported upstream scheme {parts.scheme!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        origin: PoolKey = (host, port, policy)
        conn = self._take(origin) or await self._connect(origin)
        head = [f"{method} {target} HTTP/1.1\r\nhost: {parts.netloc}\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in headers)
        payload = body or b""
        head.append(f"content-length: {len(payload)}\r\n\r\n")
        response = UpstreamResponse(self, conn, read_timeout)
        if total_timeout is not None:
            response.set_deadline(total_timeout)
        conn.begin(response, "".join(head).encode("latin-1") + payload)
        try:
            await response.wait_head(head_timeout)
        except BaseException:
            response.close()
            raise
        return response

    def _take(self, origin: PoolKey) -> UpstreamConnection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable and now - conn.idle_since < self._keepalive:
                return conn
            conn.close()
        return None

    async def _connect(self, origin: PoolKey) -> UpstreamConnection:
        return await asyncio.wait_for(self._open_connection(origin), self._connect_timeout)

    async def _open_connection(self, origin: PoolKey) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        host, port, policy = origin
        if policy is None:
            _, conn = await loop.create_connection(lambda: UpstreamConnection(origin), host, port)
            return conn
        error: OSError | None = None
        for address in await allowed_addresses(host, port, policy):
            try:
                _, conn = await loop.create_connection(lambda: UpstreamConnection(origin), address, port)
            except OSError as exc:
                error = exc
                continue
            return conn
        raise error or OSError(f"cannot connect to {host}:{port}")

    def put_back(self, conn: UpstreamConnection) -> None:
        if self._closed:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.origin, []).append(conn)

    def close(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
