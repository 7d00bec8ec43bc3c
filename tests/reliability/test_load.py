"""Load: mixed traffic (streamed and not, On-Demand and serverless, several users) through a Gateway
process to a real llama.cpp replica; afterwards every answered request has exactly one usage record,
each priced at list price, no balance is negative, no 5xx the upstream did not cause, and the Gateway's
memory is flat."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest
from gateway_process import GatewayProcess
from reliability_parts import LlamaReplica, SeededStore
from reliability_traffic import Profile, check_ledger, drive

pytestmark = pytest.mark.engine

RSS_GROWTH_LIMIT_KIB = 24 * 1024


def test_mixed_load_meters_every_answer_once_and_keeps_memory_flat(
    profile: Profile,
    replica: LlamaReplica,
    sqlite_store: SeededStore,
    gateways: Callable[..., GatewayProcess],
    report: Callable[..., None],
) -> None:
    accounts = sqlite_store.seed([replica.url], users=profile.users, credits=50_000_000)
    gateway = gateways(sqlite_store)
    warmup = asyncio.run(
        drive(gateway.base_url, accounts, requests=profile.concurrency * 2, concurrency=profile.concurrency)
    )
    rss_start = gateway.rss_kib()
    traffic = asyncio.run(
        drive(gateway.base_url, accounts, seconds=profile.load_seconds, concurrency=profile.concurrency)
    )
    rss_end = gateway.rss_kib()
    traffic.outcomes[:0] = warmup.outcomes
    ledger = check_ledger(sqlite_store, traffic, accounts)
    statuses = traffic.statuses()
    errors = Counter(outcome.error for outcome in traffic.outcomes if not outcome.complete)
    report(
        requests=ledger.requests,
        answered=ledger.answered,
        records=ledger.records,
        lost=ledger.lost,
        duplicated=ledger.duplicated,
        server_errors=sum(count for status, count in statuses.items() if status >= 500),
        errors=dict(errors),
        rss_start_kib=rss_start,
        rss_end_kib=rss_end,
    )
    # Every request is answered, except what the upstream itself failed (an `upstream_*` error code).
    assert ledger.answered > 0
    assert all(code.startswith("upstream_") for code in errors), (statuses, errors)
    assert ledger.answered + sum(errors.values()) == ledger.requests
    assert ledger.records >= ledger.answered  # an upstream failure is metered too (at its cost, often 0)
    assert (ledger.lost, ledger.duplicated, ledger.strangers, ledger.mispriced) == (0, 0, 0, 0)
    assert ledger.negative_balances == 0
    assert sqlite_store.holds() == 0
    assert rss_end - rss_start < RSS_GROWTH_LIMIT_KIB
