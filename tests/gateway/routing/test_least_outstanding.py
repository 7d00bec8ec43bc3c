"""Least-outstanding picks the replica with the fewest in-flight requests and spreads ties."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kvmesh.gateway.routing import POLICIES, RouteRequest, policy_by_name
from kvmesh.wire import ROUTING_POLICIES

REQUEST = RouteRequest("d", "m", "/v1/chat/completions")


@dataclass
class Candidate:
    id: str
    outstanding: int = 0


def test_least_loaded_replica_is_chosen() -> None:
    policy = policy_by_name("least_outstanding")
    replicas = [Candidate("a", 3), Candidate("b", 1), Candidate("c", 2)]
    assert {policy.choose(REQUEST, replicas).replica.id for _ in range(6)} == {"b"}


def test_ties_are_spread() -> None:
    policy = policy_by_name("least_outstanding")
    replicas = [Candidate("a"), Candidate("b")]
    assert {policy.choose(REQUEST, replicas).replica.id for _ in range(4)} == {"a", "b"}


def test_unknown_policy_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="least_outstanding, prefix_aware, round_robin, session_affinity"):
        policy_by_name("nope")
    assert set(POLICIES) == set(ROUTING_POLICIES)
