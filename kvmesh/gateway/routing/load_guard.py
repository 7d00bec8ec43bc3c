"""Load-aware picks shared by the policies: least-loaded with a per-deployment rotation, and the guard."""

from __future__ import annotations

from collections.abc import Sequence

from kvmesh.gateway.routing.base import ReplicaCandidate


class Rotation:
    """Least-loaded choice whose ties go round in turn, one counter per deployment.

    Never a shared random draw: a burst of simultaneous requests would otherwise pile onto whichever
    replica the draws happen to favour; turns spread a burst evenly by construction.
    """

    def __init__(self) -> None:
        self._turns: dict[str, int] = {}

    def least_loaded(self, deployment_id: str, replicas: Sequence[ReplicaCandidate]) -> ReplicaCandidate:
        count = len(replicas)
        if count == 1:
            return replicas[0]
        turn = self._turns.get(deployment_id, 0)
        self._turns[deployment_id] = turn + 1
        best = replicas[turn % count]
        for offset in range(1, count):
            candidate = replicas[(turn + offset) % count]
            if candidate.outstanding < best.outstanding:
                best = candidate
        return best


def overloaded(preferred: ReplicaCandidate, replicas: Sequence[ReplicaCandidate], margin: int) -> bool:
    """True when `preferred` has more than `margin` requests in flight beyond the least-loaded replica."""
    least = min(replica.outstanding for replica in replicas)
    return preferred.outstanding > least + margin
