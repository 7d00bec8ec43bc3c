"""Routing metrics: fallbacks, predicted vs reported cache hits, cached ratio, in-flight per replica."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge

from kvmesh.gateway.routing.base import FALLBACK_REASONS, Choice, Outcome, ReplicaCandidate, RouteRequest


class RoutingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.fallbacks = Counter(
            "kvmesh_gateway_routing_fallbacks",
            "Requests a policy could not place by prefix or session, by reason "
            "(no_match, short_match, no_session, load_guard)",
            ["deployment", "policy", "reason"],
            registry=registry,
        )
        self.predictions = Counter(
            "kvmesh_gateway_routing_predictions",
            "Cache predictions of prefix_aware/session_affinity vs what the engine reported "
            "(predicted=hit|miss, engine=hit|miss by cached_tokens > 0)",
            ["deployment", "predicted", "engine"],
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "kvmesh_gateway_replica_prompt_tokens",
            "Prompt tokens served, by deployment and replica",
            ["deployment", "replica"],
            registry=registry,
        )
        self.cached_tokens = Counter(
            "kvmesh_gateway_replica_cached_tokens",
            "Prompt tokens the engine reported as cached, by deployment and replica",
            ["deployment", "replica"],
            registry=registry,
        )
        self.cached_ratio = Gauge(
            "kvmesh_gateway_replica_cached_token_ratio",
            "Cached prompt tokens / prompt tokens since start, by deployment and replica",
            ["deployment", "replica"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "kvmesh_gateway_replica_in_flight",
            "Requests in flight, by deployment and replica",
            ["deployment", "replica"],
            registry=registry,
        )
        self._totals: dict[tuple[str, str], list[int]] = {}
        self._watched: dict[str, tuple[str, ReplicaCandidate]] = {}

    def chosen(self, request: RouteRequest, choice: Choice) -> None:
        if choice.reason in FALLBACK_REASONS:
            self.fallbacks.labels(request.deployment_id, request.policy, choice.reason).inc()
        replica = choice.replica
        watched = self._watched.get(replica.id)
        if watched is None or watched[1] is not replica:
            self._watched[replica.id] = (request.deployment_id, replica)
            self.in_flight.labels(request.deployment_id, replica.id).set_function(
                lambda: float(replica.outstanding)
            )

    def observed(self, request: RouteRequest, choice: Choice, outcome: Outcome) -> None:
        if not outcome.ok:
            return
        deployment, replica_id = request.deployment_id, choice.replica.id
        if choice.reason != "policy":
            predicted = "hit" if choice.reason == "match" else "miss"
            engine = "hit" if outcome.cached_tokens > 0 else "miss"
            self.predictions.labels(deployment, predicted, engine).inc()
        if outcome.prompt_tokens <= 0:
            return
        totals = self._totals.setdefault((deployment, replica_id), [0, 0])
        totals[0] += outcome.prompt_tokens
        totals[1] += outcome.cached_tokens
        self.prompt_tokens.labels(deployment, replica_id).inc(outcome.prompt_tokens)
        if outcome.cached_tokens:
            self.cached_tokens.labels(deployment, replica_id).inc(outcome.cached_tokens)
        self.cached_ratio.labels(deployment, replica_id).set(totals[1] / totals[0])

    def forget(self, replica_id: str) -> None:
        """A replica that left stops being reported as in flight."""
        watched = self._watched.pop(replica_id, None)
        if watched is not None:
            with contextlib.suppress(KeyError):
                self.in_flight.remove(watched[0], replica_id)
