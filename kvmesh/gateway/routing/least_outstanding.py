"""Least outstanding requests: the replica with the fewest in-flight requests, ties taken in turn."""

from __future__ import annotations

from collections.abc import Sequence

from kvmesh.gateway.routing.base import (
    Choice,
    EngineCacheState,
    Outcome,
    ReplicaCandidate,
    RouteRequest,
)
from kvmesh.gateway.routing.config import RoutingConfig
from kvmesh.gateway.routing.load_guard import Rotation


class LeastOutstandingPolicy:
    def __init__(self, config: RoutingConfig | None = None) -> None:
        self._rotation = Rotation()

    def choose(
        self,
        request: RouteRequest,
        replicas: Sequence[ReplicaCandidate],
        engine_cache: EngineCacheState | None = None,
    ) -> Choice:
        return Choice(self._rotation.least_loaded(request.deployment_id, replicas))

    def observe(self, request: RouteRequest, choice: Choice, outcome: Outcome) -> None:
        """Load is read live from the replicas at each choice."""

    def forget(self, replica_id: str) -> None:
        """Only ever sees the replicas it is given."""
