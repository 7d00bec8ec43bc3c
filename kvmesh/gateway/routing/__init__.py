"""Routing policies behind one interface, registered by name in `POLICIES`, used through `Router`."""

from __future__ import annotations

from kvmesh.gateway.routing.base import (
    Choice,
    EngineCacheState,
    Outcome,
    ReplicaCandidate,
    RouteRequest,
    RoutingPolicy,
)
from kvmesh.gateway.routing.config import RoutingConfig
from kvmesh.gateway.routing.engine_cache import ReportedCacheState
from kvmesh.gateway.routing.least_outstanding import LeastOutstandingPolicy
from kvmesh.gateway.routing.observability import RoutingMetrics
from kvmesh.gateway.routing.prefix_aware import PrefixAwarePolicy
from kvmesh.gateway.routing.registry import POLICIES, POLICY_NAMES, PolicySpec, policy_by_name
from kvmesh.gateway.routing.round_robin import RoundRobinPolicy
from kvmesh.gateway.routing.router import Router
from kvmesh.gateway.routing.session_affinity import SessionAffinityPolicy

__all__ = [
    "POLICIES",
    "POLICY_NAMES",
    "Choice",
    "EngineCacheState",
    "LeastOutstandingPolicy",
    "Outcome",
    "PolicySpec",
    "PrefixAwarePolicy",
    "ReplicaCandidate",
    "ReportedCacheState",
    "RoundRobinPolicy",
    "RouteRequest",
    "Router",
    "RoutingConfig",
    "RoutingMetrics",
    "RoutingPolicy",
    "SessionAffinityPolicy",
    "policy_by_name",
]
