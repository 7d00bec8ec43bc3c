"""Least outstanding requests: the replica with the fewest in-flight requests, ties taken in turn."""

from __future__ import annotations

from collections.abc import Sequence

from kvmesh.gateway.routing.base import ReplicaCandidate, RouteRequest


class LeastOutstandingPolicy:
    def __init__(self) -> None:
        self._turn = 0

    def choose(self, request: RouteRequest, replicas: Sequence[ReplicaCandidate]) -> ReplicaCandidate:
        if len(replicas) == 1:
            return replicas[0]
        self._turn += 1
        count = len(replicas)
        best = replicas[self._turn % count]
        for offset in range(1, count):
            candidate = replicas[(self._turn + offset) % count]
            if candidate.outstanding < best.outstanding:
                best = candidate
        return best
