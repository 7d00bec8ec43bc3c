"""Round-robin: each deployment's replicas take turns."""

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


class RoundRobinPolicy:
    def __init__(self, config: RoutingConfig | None = None) -> None:
        self._next: dict[str, int] = {}

    def choose(
        self,
        request: RouteRequest,
        replicas: Sequence[ReplicaCandidate],
        engine_cache: EngineCacheState | None = None,
    ) -> Choice:
        turn = self._next.get(request.deployment_id, 0)
        self._next[request.deployment_id] = turn + 1
        return Choice(replicas[turn % len(replicas)])

    def observe(self, request: RouteRequest, choice: Choice, outcome: Outcome) -> None:
        """Round-robin keeps no per-request state."""

    def forget(self, replica_id: str) -> None:
        """Round-robin only ever sees the replicas it is given."""
