"""The routing policies by name: what each one needs extracted from a request, and how to build it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kvmesh.gateway.routing.base import RoutingPolicy
from kvmesh.gateway.routing.config import RoutingConfig
from kvmesh.gateway.routing.least_outstanding import LeastOutstandingPolicy
from kvmesh.gateway.routing.prefix_aware import PrefixAwarePolicy
from kvmesh.gateway.routing.round_robin import RoundRobinPolicy
from kvmesh.gateway.routing.session_affinity import SessionAffinityPolicy


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """`uses_prefix`: the request's prompt must be rendered and hashed before choosing."""

    build: Callable[[RoutingConfig], RoutingPolicy]
    uses_prefix: bool = False


POLICIES: dict[str, PolicySpec] = {
    "round_robin": PolicySpec(RoundRobinPolicy),
    "least_outstanding": PolicySpec(LeastOutstandingPolicy),
    "session_affinity": PolicySpec(SessionAffinityPolicy),
    "prefix_aware": PolicySpec(PrefixAwarePolicy, uses_prefix=True),
}
POLICY_NAMES = tuple(sorted(POLICIES))


def policy_by_name(name: str, config: RoutingConfig | None = None) -> RoutingPolicy:
    """Build a fresh policy; unknown names list the valid ones."""
    try:
        spec = POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown routing policy {name!r}; choose one of: {', '.join(POLICY_NAMES)}"
        ) from None
    return spec.build(config or RoutingConfig())
