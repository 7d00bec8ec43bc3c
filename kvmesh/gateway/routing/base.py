"""The routing policy interface: one frozen request description + candidate replicas -> one replica."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What a policy may look at; built once per request before choosing."""

    deployment_id: str
    model: str
    endpoint: str
    session_key: str | None = None


class ReplicaCandidate(Protocol):
    """A replica as policies see it: identity and in-memory load, nothing that needs I/O."""

    @property
    def id(self) -> str: ...

    @property
    def outstanding(self) -> int: ...


class RoutingPolicy(Protocol):
    """Synchronous and I/O-free for every implementation; `replicas` is never empty."""

    def choose(self, request: RouteRequest, replicas: Sequence[ReplicaCandidate]) -> ReplicaCandidate: ...
