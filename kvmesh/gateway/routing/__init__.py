"""Routing policies behind one interface, registered by name in `POLICIES`."""

from __future__ import annotations

from collections.abc import Callable

from kvmesh.gateway.routing.base import ReplicaCandidate, RouteRequest, RoutingPolicy
from kvmesh.gateway.routing.least_outstanding import LeastOutstandingPolicy
from kvmesh.gateway.routing.round_robin import RoundRobinPolicy

POLICIES: dict[str, Callable[[], RoutingPolicy]] = {
    "round_robin": RoundRobinPolicy,
    "least_outstanding": LeastOutstandingPolicy,
}


def policy_by_name(name: str) -> RoutingPolicy:
    """Build a fresh policy; unknown names list the valid ones."""
    try:
        factory = POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown routing policy {name!r}; choose one of: {', '.join(sorted(POLICIES))}"
        ) from None
    return factory()


__all__ = [
    "POLICIES",
    "LeastOutstandingPolicy",
    "ReplicaCandidate",
    "RoundRobinPolicy",
    "RouteRequest",
    "RoutingPolicy",
    "policy_by_name",
]
