"""Upstream HTTP to engine replicas: one pooled keep-alive aiohttp session, timeouts on every hop."""

from __future__ import annotations

import errno

import aiohttp

from kvmesh.gateway.settings import GatewaySettings

# Below the 5 s idle keep-alive of uvicorn (vLLM) and llama-server, so a pooled
# connection is never one the server is about to close.
KEEPALIVE_SECONDS = 4.0


class UpstreamFailure(Exception):
    """The replica could not be reached or did not answer; `kind`: connect|timeout|disconnected|protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def origin_of(base_url: str) -> str:
    """`http://h:p/v1` -> `http://h:p` (engine-native endpoints such as /tokenize live at the root)."""
    return base_url[:-3] if base_url.endswith("/v1") else base_url


class UpstreamClient:
    """Opens requests to replicas. Streams read with `idle_timeout` between chunks (headers included);
    non-stream replies may take up to `first_byte_timeout` to start."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        connect = settings.connect_timeout
        total = settings.total_timeout or None
        self._stream_timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None,
            sock_connect=connect,
            sock_read=min(settings.idle_timeout, settings.first_byte_timeout),
        )
        self._unary_timeout = aiohttp.ClientTimeout(
            total=total, connect=None, sock_connect=connect, sock_read=settings.first_byte_timeout
        )
        self._probe_timeout = aiohttp.ClientTimeout(total=connect + 2.0, sock_connect=connect)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0, keepalive_timeout=KEEPALIVE_SECONDS, enable_cleanup_closed=False
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            raise_for_status=False,
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def open(
        self, method: str, url: str, body: bytes | None, request_id: str, stream: bool
    ) -> aiohttp.ClientResponse:
        """Send the request and wait for the response head; failures here happened before the first byte."""
        assert self._session is not None, "UpstreamClient.start() was not awaited"
        headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
        if stream:
            headers["Accept"] = "text/event-stream"
        try:
            return await self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=self._stream_timeout if stream else self._unary_timeout,
                allow_redirects=False,
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamFailure(
                "timeout", f"replica did not answer in time ({type(exc).__name__})"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamFailure("connect", f"cannot connect to replica: {exc.os_error}") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise UpstreamFailure("disconnected", "replica closed the connection before answering") from exc
        except aiohttp.ClientOSError as exc:
            if exc.errno in (errno.ECONNRESET, errno.EPIPE):
                raise UpstreamFailure(
                    "disconnected", "replica reset the connection before answering"
                ) from exc
            raise UpstreamFailure("protocol", f"replica connection failed: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamFailure(
                "protocol", f"replica connection failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def probe(self, base_url: str) -> bool:
        """A replica is healthy again when its /health answers 200 (or, lacking /health, /v1/models does)."""
        assert self._session is not None
        for url in (origin_of(base_url) + "/health", base_url + "/models"):
            try:
                async with self._session.get(url, timeout=self._probe_timeout) as response:
                    if response.status != 404:
                        return response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False
        return False
