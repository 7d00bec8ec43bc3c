"""Upstream HTTP to engine replicas: one keep-alive pool (`upstream_http`), timeouts on every hop."""

from __future__ import annotations

from kvmesh.engines.upstream_policy import UpstreamPolicy, UpstreamRefused
from kvmesh.gateway.directory import ReplicaTarget
from kvmesh.gateway.settings import GatewaySettings
from kvmesh.gateway.upstream_http import UpstreamPool, UpstreamProtocolError, UpstreamResponse

# Below the 5 s idle keep-alive of uvicorn (vLLM) and llama-server, so a pooled
# connection is never one the server is about to close.
KEEPALIVE_SECONDS = 4.0
PROBE_TIMEOUT_EXTRA = 2.0


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
    non-stream replies may take up to `first_byte_timeout` to start; no exchange takes longer than
    `total_timeout` in all (from the request sent to the last body byte)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._pool: UpstreamPool | None = None
        self._stream_timeout = min(settings.idle_timeout, settings.first_byte_timeout)
        self._unary_timeout = settings.first_byte_timeout
        self._probe_timeout = settings.connect_timeout + PROBE_TIMEOUT_EXTRA
        self._policy = UpstreamPolicy.parse(settings.upstream_allowlist)
        self._total_timeout = settings.total_timeout or None

    async def start(self) -> None:
        self._pool = UpstreamPool(self._settings.connect_timeout, KEEPALIVE_SECONDS)

    async def stop(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

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
    ) -> UpstreamResponse:
        """Send the request and wait for the response head; failures here happened before the first byte.

        `api_key` is an external upstream's own key, sent as a Bearer token; `guarded` connects only to
        addresses the upstream address policy allows (users' external deployments)."""
        assert self._pool is not None, "UpstreamClient.start() was not awaited"
        headers = [("content-type", "application/json"), ("x-request-id", request_id)]
        if api_key:
            headers.append(("authorization", f"Bearer {api_key}"))
        if stream:
            headers.append(("accept", "text/event-stream"))
        timeout = self._stream_timeout if stream else self._unary_timeout
        policy = self._policy if guarded else None
        try:
            return await self._pool.request(
                method, url, headers, body, timeout, timeout, policy, self._total_timeout
            )
        except UpstreamRefused as exc:
            raise UpstreamFailure("refused", str(exc)) from exc
        except TimeoutError as exc:
            raise UpstreamFailure("timeout", f"replica did not answer in time ({exc or 'timeout'})") from exc
        except UpstreamProtocolError as exc:
            if exc.disconnected:
                raise UpstreamFailure(
                    "disconnected", "replica closed the connection before answering"
                ) from exc
            raise UpstreamFailure("protocol", f"replica connection failed: {exc}") from exc
        except ConnectionResetError as exc:
            raise UpstreamFailure("disconnected", "replica reset the connection before answering") from exc
        except OSError as exc:
            raise UpstreamFailure("connect", f"cannot connect to replica: {exc}") from exc

    async def probe(self, target: ReplicaTarget) -> bool:
        """A replica is healthy again when its /health answers 200 (or, lacking /health, /v1/models does).

        The probe authenticates and is address-checked like the requests themselves."""
        assert self._pool is not None
        headers = [("authorization", f"Bearer {target.api_key}")] if target.api_key else []
        policy = self._policy if target.guarded else None
        for url in (origin_of(target.url) + "/health", target.url + "/models"):
            try:
                response = await self._pool.request(
                    "GET", url, headers, None, self._probe_timeout, self._probe_timeout, policy
                )
            except (TimeoutError, UpstreamProtocolError, OSError):
                return False
            try:
                await response.read()
            except (TimeoutError, UpstreamProtocolError):
                return False
            finally:
                response.close()
            if response.status != 404:
                return response.status == 200
        return False
