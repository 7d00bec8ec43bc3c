"""The client address per-IP limits count: the TCP peer, or X-Forwarded-For from a trusted proxy only.

`X-Forwarded-For` is believed only when the peer is inside the operator's `trusted_proxies` networks
(default: none). Then the right-most address not itself a trusted proxy is the client: entries left of
it were written by the client and prove nothing. The servers run uvicorn with proxy headers off, so
uvicorn does not rewrite the peer from the header for local callers either.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Parse `trusted_proxies` entries (CIDRs or addresses; commas or spaces separate several)."""
    return tuple(
        ipaddress.ip_network(part, strict=False)
        for item in entries
        for part in item.replace(",", " ").split()
    )


def _inside(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def client_address(peer: str, forwarded_for: list[str], trusted: tuple[IPNetwork, ...]) -> str:
    """The client: `peer` unless it is a trusted proxy and the forwarded chain names someone else."""
    if not trusted or not _inside(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_address(hop):
            return peer  # a malformed chain proves nothing
        if not _inside(hop, trusted):
            return hop
    return hops[0] if hops else peer


def request_client_ip(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    settings = getattr(request.app.state, "settings", None)
    trusted = trusted_networks(tuple(getattr(settings, "trusted_proxies", ()) or ()))
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)
