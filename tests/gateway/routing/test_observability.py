"""Routing metrics: fallbacks by reason, predictions vs engine reports, per-replica tokens and in-flight."""

from __future__ import annotations

from candidates import Candidate
from prometheus_client import CollectorRegistry, generate_latest

from kvmesh.gateway.routing import Outcome, Router, RoutingConfig, RoutingMetrics

BODY = {"messages": [{"role": "user", "content": "A prompt long enough to span several blocks. " * 4}]}


def test_predictions_fallbacks_tokens_and_in_flight_are_exported() -> None:
    registry = CollectorRegistry()
    router = Router("prefix_aware", RoutingConfig(block_chars=16), RoutingMetrics(registry))
    a, b = Candidate("a"), Candidate("b")
    request = router.describe("dep", "m", "/v1/chat/completions", None, BODY)
    first = router.choose(request, [a, b])
    router.observe(request, first, Outcome(ok=True, prompt_tokens=50, cached_tokens=0))
    a.outstanding = 1
    second = router.choose(request, [a, b])
    router.observe(request, second, Outcome(ok=True, prompt_tokens=50, cached_tokens=40))
    text = generate_latest(registry).decode()
    assert (
        'kvmesh_gateway_routing_fallbacks_total{deployment="dep",policy="prefix_aware",reason="no_match"} 1.0'
        in text
    )
    assert (
        'kvmesh_gateway_routing_predictions_total{deployment="dep",engine="miss",predicted="miss"} 1.0'
        in text
    )
    assert (
        'kvmesh_gateway_routing_predictions_total{deployment="dep",engine="hit",predicted="hit"} 1.0' in text
    )
    assert 'kvmesh_gateway_replica_prompt_tokens_total{deployment="dep",replica="a"} 100.0' in text
    assert 'kvmesh_gateway_replica_cached_token_ratio{deployment="dep",replica="a"} 0.4' in text
    assert 'kvmesh_gateway_replica_in_flight{deployment="dep",replica="a"} 1.0' in text
    router.forget("a")
    assert (
        'kvmesh_gateway_replica_in_flight{deployment="dep",replica="a"}'
        not in generate_latest(registry).decode()
    )
