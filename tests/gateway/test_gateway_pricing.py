"""Cached input tokens are billed at the catalog's cached price: free at the shipped price of 0."""

from __future__ import annotations

from kvmesh.gateway.directory import Route

PRICED = Route("serverless", "m", "d", "ready", "llamacpp", (), 2_000_000, 4_000_000, 0)


def test_cached_tokens_are_free_at_a_cached_price_of_zero() -> None:
    assert PRICED.cost_micros(1_000, 0, 800) == PRICED.cost_micros(200, 0, 0) == 400


def test_cached_tokens_are_billed_at_an_operator_set_cached_price() -> None:
    route = Route("serverless", "m", "d", "ready", "llamacpp", (), 2_000_000, 4_000_000, 500_000)
    assert route.cost_micros(1_000, 10, 800) == 200 * 2 + 800 // 2 + 10 * 4


def test_cached_tokens_never_exceed_the_prompt() -> None:
    assert PRICED.cost_micros(100, 0, 500) == 0
