"""HTTP to external upstreams that checks the address actually connected to (DNS rebinding safe)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import ResolveResult

from kvmesh.engines.upstream_policy import UpstreamPolicy, UpstreamRefused

if TYPE_CHECKING:
    from aiohttp.tracing import Trace


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that drops resolved addresses the policy refuses, after resolution and before
    connecting, so a name that resolves to a public address at creation and a private one later
    still cannot reach the private one. IP literals pass through the same check."""

    def __init__(self, policy: UpstreamPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._policy = policy

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] | None = None
    ) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces)
        allowed: list[ResolveResult] = []
        refusal = ""
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            reason = self._policy.address_refusal(address, host)
            if reason is None:
                allowed.append(result)
            else:
                refusal = reason
        if not allowed:
            raise UpstreamRefused(refusal or f"upstream host {host} has no usable address")
        return allowed


async def guarded_get_ok(
    url: str, headers: Mapping[str, str], policy: UpstreamPolicy | None, timeout_s: float = 3.0
) -> bool:
    """True when GET `url` answers 200. Only the status is used: nothing a foreign host sends back
    (body, error text) reaches deployment status. `policy` None means trusted (no address check);
    UpstreamRefused when the policy refuses every address the host has."""
    connector: aiohttp.TCPConnector = (
        GuardedConnector(policy, force_close=True)
        if policy is not None
        else aiohttp.TCPConnector(force_close=True)
    )
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.get(url, headers=dict(headers), allow_redirects=False) as response,
        ):
            return response.status == 200
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, UpstreamRefused):
            raise exc.os_error from None
        return False
    except UpstreamRefused:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return False
