"""Round-robin: each deployment's replicas take turns."""

from __future__ import annotations

from collections.abc import Sequence

from kvmesh.gateway.routing.base import ReplicaCandidate, RouteRequest


class RoundRobinPolicy:
    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def choose(self, request: RouteRequest, replicas: Sequence[ReplicaCandidate]) -> ReplicaCandidate:
        turn = self._next.get(request.deployment_id, 0)
        self._next[request.deployment_id] = turn + 1
        return replicas[turn % len(replicas)]
