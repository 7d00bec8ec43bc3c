"""Upstream HTTP to engine replicas: one pooled keep-alive aiohttp session, timeouts on every hop."""

from __future__ import annotations

import errno

import aiohttp

from kvmesh.engines.guarded_http import GuardedConnector
from kvmesh.engines.upstream_policy import UpstreamPolicy, UpstreamRefused
from kvmesh.gateway.directory import ReplicaTarget
from kvmesh.gateway.settings import GatewaySettings

# Below the 5 s idle keep-alive of uvicorn (vLLM) and llama-server, so a pooled
# connection is never one the server is about to close.
KEEPALIVE_SECONDS = 4.0


class UpstreamFailure(Exception):
    """The replica could not be reached or did not answer; `kind`: connect|timeout|disconnected|protocol,
    or refused (the upstream address policy refused every address of an external upstream)."""

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
        self._guarded_session: aiohttp.ClientSession | None = None
        connect = settings.connect_timeout
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=connect,
            sock_read=min(settings.idle_timeout, settings.first_byte_timeout),
        )
        self._unary_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=connect, sock_read=settings.first_byte_timeout
        )
        self._probe_timeout = aiohttp.ClientTimeout(total=connect + 2.0, sock_connect=connect)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0, keepalive_timeout=KEEPALIVE_SECONDS, enable_cleanup_closed=False
        )
        guarded = GuardedConnector(
            UpstreamPolicy.parse(self._settings.upstream_allowlist),
            limit=0,
            keepalive_timeout=KEEPALIVE_SECONDS,
            enable_cleanup_closed=False,
        )
        self._session = _session_on(connector)
        self._guarded_session = _session_on(guarded)

    async def stop(self) -> None:
        for session in (self._session, self._guarded_session):
            if session is not None:
                await session.close()
        self._session = self._guarded_session = None

    def _session_for(self, guarded: bool) -> aiohttp.ClientSession:
        """Users' external upstreams go through the guarded pool: its connector refuses local addresses."""
        session = self._guarded_session if guarded else self._session
        assert session is not None, "UpstreamClient.start() was not awaited"
        return session

    async def open(
        self,
        method: str,
        url: str,
        body: bytes | None,
        request_id: str,
        stream: bool,
        *,
        api_key: str = "",
        guarded: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send the request and wait for the response head; failures here happened before the first byte.

        `api_key` is an external upstream's own key, sent as a Bearer token; `guarded` routes the request
        through the connector that checks the upstream address policy."""
        session = self._session_for(guarded)
        headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if stream:
            headers["Accept"] = "text/event-stream"
        try:
            return await session.request(
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
            if isinstance(exc.os_error, UpstreamRefused):
                raise UpstreamFailure("refused", str(exc.os_error)) from exc
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

    async def probe(self, target: ReplicaTarget) -> bool:
        """A replica is healthy again when its /health answers 200 (or, lacking /health, /v1/models does).

        The probe authenticates and is address-checked like the requests themselves."""
        session = self._session_for(target.guarded)
        headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else None
        for url in (origin_of(target.url) + "/health", target.url + "/models"):
            try:
                async with session.get(url, headers=headers, timeout=self._probe_timeout) as response:
                    if response.status != 404:
                        return response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False
        return False


def _session_on(connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
        raise_for_status=False,
    )
