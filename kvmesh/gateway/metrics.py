"""Prometheus metrics for one Gateway app (its own registry, so apps built in tests never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kvmesh_gateway_requests",
            "Requests answered, by endpoint, surface and status",
            ["endpoint", "surface", "status"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "kvmesh_gateway_tokens",
            "Tokens metered, by surface and kind (prompt, completion, cached)",
            ["surface", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kvmesh_gateway_request_seconds",
            "Time from request to last byte for proxied requests",
            ["surface"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "kvmesh_gateway_upstream_errors",
            "Upstream failures, by kind (connect, timeout, idle, protocol, status)",
            ["kind"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "kvmesh_gateway_in_flight", "Proxied requests in flight", registry=self.registry
        )
        self.usage_pending = Gauge(
            "kvmesh_gateway_usage_pending", "Usage records waiting to be written", registry=self.registry
        )
        self.ejected_replicas = Gauge(
            "kvmesh_gateway_ejected_replicas", "Replicas currently ejected", registry=self.registry
        )

        self._request_children: dict[tuple[str, str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        self._token_children: dict[str, tuple[Counter, Counter, Counter]] = {}

    def request_done(self, endpoint: str, surface: str, status: int) -> None:
        """Count one answered request (label children are cached: `labels()` is slow on the hot path)."""
        key = (endpoint, surface, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(endpoint, surface, str(status))
        child.inc()

    def proxied(self, surface: str, seconds: float, prompt: int, completion: int, cached: int) -> None:
        latency = self._latency_children.get(surface)
        if latency is None:
            latency = self._latency_children[surface] = self.latency.labels(surface)
        latency.observe(seconds)
        tokens = self._token_children.get(surface)
        if tokens is None:
            tokens = self._token_children[surface] = (
                self.tokens.labels(surface, "prompt"),
                self.tokens.labels(surface, "completion"),
                self.tokens.labels(surface, "cached"),
            )
        if prompt:
            tokens[0].inc(prompt)
        if completion:
            tokens[1].inc(completion)
        if cached:
            tokens[2].inc(cached)

    def render(self) -> bytes:
        return generate_latest(self.registry)
