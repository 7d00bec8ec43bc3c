"""Round-robin takes each deployment's replicas in turn, independently per deployment."""

from __future__ import annotations

from dataclasses import dataclass

from kvmesh.gateway.routing import RouteRequest, policy_by_name


@dataclass
class Candidate:
    id: str
    outstanding: int = 0


def test_replicas_take_turns_per_deployment() -> None:
    policy = policy_by_name("round_robin")
    replicas = [Candidate("a"), Candidate("b"), Candidate("c")]
    first = RouteRequest("d1", "m", "/v1/chat/completions")
    other = RouteRequest("d2", "m", "/v1/chat/completions")
    picks = [policy.choose(first, replicas).replica.id for _ in range(4)]
    assert picks == ["a", "b", "c", "a"]
    assert policy.choose(other, replicas).replica.id == "a"
