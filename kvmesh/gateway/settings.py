"""Gateway settings: store location, server secret, timeouts, cache TTLs, money, quotas and routing policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kvmesh.gateway.routing.config import RoutingConfig


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Everything `create_app` needs; times are seconds.

    `key_ttl`/`route_ttl` are the soft TTLs after which a cached entry is refreshed in the background
    while still served; `hard_ttl` is the age past which an entry is never served (revocation bound).
    `upstream_allowlist`: local/private networks or hosts users' external upstreams may still reach
    (the same setting as the Control Plane's; kvmesh.engines.upstream_policy).
    `key_last_used_*`: an API key's lastUsedAt is written at most once per interval, in flushes.
    Upstream timeouts: `connect_timeout` (TCP connect), `first_byte_timeout` (until a non-streamed reply
    starts), `idle_timeout` (between stream chunks, the head included), `total_timeout` (the whole
    exchange; also bounds how long a balance hold can outlive a dead Gateway).
    `default_max_tokens` is the answer length reserved (and sent upstream) for a priced request without
    a max_tokens. `max_concurrent_requests` is the per-user cap unless an admin set an override
    (0 = no cap). `spool_dir` holds the usage spool (None: usage waits in memory only).
    """

    database_url: str
    server_secret: bytes
    connect_timeout: float = 3.0
    first_byte_timeout: float = 300.0
    idle_timeout: float = 60.0
    total_timeout: float = 900.0
    key_ttl: float = 2.0
    route_ttl: float = 2.0
    hard_ttl: float = 4.0
    routing_policy: str = "least_outstanding"  # for deployments that do not choose one
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    probe_interval: float = 2.0
    usage_flush_interval: float = 0.5
    usage_batch_size: int = 500
    max_body_bytes: int = 16 * 1024 * 1024
    # Shared limits (kvmesh.gateway.shared_limits): Redis makes them hold across Gateway replicas.
    redis_url: str = ""
    key_requests_per_minute: int = 0  # 0 = no per-key request limit
    upstream_allowlist: tuple[str, ...] = ()
    key_last_used_interval: float = 60.0
    key_last_used_flush_interval: float = 5.0
    default_max_tokens: int = 512
    max_concurrent_requests: int = 64
    spool_dir: Path | None = None

    @property
    def hold_seconds(self) -> float:
        """How long a balance hold counts: past any request's end, with a margin for the usage flush."""
        return self.total_timeout + 60.0
