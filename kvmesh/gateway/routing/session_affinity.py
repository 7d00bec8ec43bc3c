"""Session affinity: a session (`X-Session-Id` header, else the body's `user`) stays on one replica.

Same load guard as prefix-aware routing: the owner keeps the session unless it has more than
`load_margin` requests in flight beyond the least-loaded replica, which then takes the session over.
The session table is LRU-bounded (`sessions` entries).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from kvmesh.gateway.routing.base import (
    Choice,
    EngineCacheState,
    Outcome,
    ReplicaCandidate,
    RouteRequest,
)
from kvmesh.gateway.routing.config import RoutingConfig
from kvmesh.gateway.routing.generations import ReplicaGenerations
from kvmesh.gateway.routing.load_guard import Rotation, overloaded


class SessionAffinityPolicy:
    def __init__(self, config: RoutingConfig | None = None) -> None:
        self._config = config or RoutingConfig()
        self._owners: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()
        self._generations = ReplicaGenerations()
        self._rotation = Rotation()

    def __len__(self) -> int:
        return len(self._owners)

    def choose(
        self,
        request: RouteRequest,
        replicas: Sequence[ReplicaCandidate],
        engine_cache: EngineCacheState | None = None,
    ) -> Choice:
        deployment = request.deployment_id
        if not request.session_key:
            return Choice(self._rotation.least_loaded(deployment, replicas), "no_session")
        key = (deployment, request.session_key)
        owner = self._owner(key, replicas)
        if owner is None:
            chosen, reason = self._rotation.least_loaded(deployment, replicas), "no_match"
        elif overloaded(owner, replicas, self._config.load_margin):
            chosen, reason = self._rotation.least_loaded(deployment, replicas), "load_guard"
        else:
            chosen, reason = owner, "match"
        self._owners[key] = (chosen.id, self._generations.current(chosen.id))
        self._owners.move_to_end(key)
        while len(self._owners) > self._config.sessions:
            self._owners.popitem(last=False)
        return Choice(chosen, reason)

    def observe(self, request: RouteRequest, choice: Choice, outcome: Outcome) -> None:
        """Sessions are pinned by key, not by what the engine reports."""

    def forget(self, replica_id: str) -> None:
        self._generations.forget(replica_id)

    def _owner(self, key: tuple[str, str], replicas: Sequence[ReplicaCandidate]) -> ReplicaCandidate | None:
        owned = self._owners.get(key)
        if owned is None or not self._generations.valid(*owned):
            return None
        return next((replica for replica in replicas if replica.id == owned[0]), None)
