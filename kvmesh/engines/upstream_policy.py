"""Which addresses an external deployment's upstream may use: public ones, unless an operator allows more.

A user-supplied upstream URL must not turn the servers into a proxy or a port scanner for the
network they sit in: loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade
NAT, unspecified, multicast and reserved addresses are refused, in IPv4 and IPv6, including
IPv4-mapped / NAT64 / 6to4 forms and the legacy numeric IPv4 spellings (`2130706433`, `0177.1`).
Operators allow networks or host names with the `upstream_allowlist` setting; deployments an admin
creates are trusted. Names are checked again on the address they resolve to when connecting (DNS
rebinding): `kvmesh.engines.guarded_http` for the controller's health checks, `allowed_addresses` for
the Gateway's upstream pool, which connects to the checked address rather than the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ADMIN_APPROVED = "upstream_admin_approved"  # engine_config flag set only when an admin creates it
ALLOWLIST_ENV = "KVMESH_UPSTREAM_ALLOWLIST"
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # also Alibaba's metadata address 100.100.100.200
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UpstreamRefused(OSError):
    """The upstream's address is one external deployments may not reach; the message says why."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address ('loopback', 'private', ...), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_kind(embedded)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("shared (carrier-grade NAT)", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("reserved", address.is_reserved),
    )
    return next((kind for kind, hit in checks if hit), None)


def literal_address(host: str) -> IPAddress | None:
    """`host` as an IP address when it is one in any spelling the C resolver accepts (decimal, octal...)."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


@dataclass(frozen=True)
class UpstreamPolicy:
    """The operator's allowlist: networks (CIDR or single addresses) and exact host names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> UpstreamPolicy:
        """Entries like `10.0.0.0/8`, `::1`, `llm.internal`; commas or spaces may separate several."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in (part for item in entries for part in item.replace(",", " ").split()):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            if not name or any(not (c.isalnum() or c in "-._") for c in name):
                raise ValueError(f"upstream allowlist entry {entry!r} is neither a CIDR nor a host name")
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def address_refusal(self, address: IPAddress, host: str = "") -> str | None:
        """None when `address` may be used; else a one-line reason safe to show the user."""
        if host and self.allows_host(host):
            return None
        kind = address_kind(address)
        if kind is None or any(address in network for network in self.networks):
            return None
        return f"upstream address {address} is {kind}; an admin must allow it (upstream allowlist)"

    def host_refusal(self, host: str) -> str | None:
        """Checks a host by its name (metadata names, localhost) or literal address, without DNS."""
        name = host.lower().rstrip(".").strip("[]")
        if self.allows_host(name):
            return None
        literal = literal_address(name)
        if literal is not None:
            return self.address_refusal(literal)
        if name in METADATA_HOSTS or name == "localhost" or name.endswith(".localhost"):
            return f"upstream host {name} is a local or metadata name; an admin must allow it"
        return None

    def url_refusal(self, url: str, *, resolve: bool = True) -> str | None:
        """Check an upstream URL at creation time: its host, and (when `resolve`) every address it has now."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "upstream URL is not a valid URL"
        if not host:
            return "upstream URL has no host"
        refusal = self.host_refusal(host)
        if refusal or not resolve or literal_address(host) is not None or self.allows_host(host):
            return refusal
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None  # unknown now; connect-time checks still apply
        for info in infos:
            refusal = self.address_refusal(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]), host)
            if refusal:
                return refusal
        return None


async def allowed_addresses(host: str, port: int, policy: UpstreamPolicy) -> list[str]:
    """The addresses `host` resolves to now that `policy` lets an external upstream use, in resolver order.

    Connect to one of these, not to the name: a second lookup could answer with another address (DNS
    rebinding). IP literals in any spelling the resolver accepts pass through the same check.
    UpstreamRefused (an OSError) when no address is usable; resolver errors propagate as OSError.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    allowed: list[str] = []
    refusal = ""
    for info in infos:
        text = str(info[4][0])
        reason = policy.address_refusal(ipaddress.ip_address(text.split("%", 1)[0]), host)
        if reason is not None:
            refusal = reason
        elif text not in allowed:
            allowed.append(text)
    if not allowed:
        raise UpstreamRefused(refusal or f"upstream host {host} has no usable address")
    return allowed
