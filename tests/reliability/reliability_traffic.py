"""Mixed client traffic through a Gateway, what each client saw, and the ledger checks run afterwards."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from reliability_parts import INPUT_PRICE, OUTPUT_PRICE, SERVED, SERVERLESS, Account, SeededStore

from kvmesh.store.models import UsageRecord


@dataclass(frozen=True)
class Profile:
    """How long and how hard: `short` runs in `make test`, `full` in `make test-reliability`."""

    name: str
    load_seconds: float
    concurrency: int
    users: int
    fault_requests: int


SHORT = Profile("short", load_seconds=8.0, concurrency=4, users=3, fault_requests=8)
FULL = Profile("full", load_seconds=120.0, concurrency=8, users=6, fault_requests=40)


def current_profile() -> Profile:
    return FULL if os.environ.get("KVMESH_RELIABILITY_PROFILE", "short") == "full" else SHORT


@dataclass
class Outcome:
    """What one client saw: the HTTP status, whether the answer was complete, an error code if any."""

    request_id: str
    surface: str
    streamed: bool
    status: int = 0
    complete: bool = False
    error: str = ""


@dataclass
class Traffic:
    outcomes: list[Outcome] = field(default_factory=list)

    def statuses(self) -> Counter[int]:
        return Counter(outcome.status for outcome in self.outcomes)

    def answered(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.complete]


def request_body(surface: str, streamed: bool, index: int, max_tokens: int = 12) -> dict[str, object]:
    return {
        "model": SERVED if surface == "on-demand" else SERVERLESS,
        "messages": [{"role": "user", "content": f"Name a colour. ({index})"}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": streamed,
    }


async def one_request(
    client: httpx.AsyncClient,
    base_url: str,
    account: Account,
    surface: str,
    streamed: bool,
    index: int,
    max_tokens: int = 12,
) -> Outcome:
    outcome = Outcome(uuid.uuid4().hex, surface, streamed)
    headers = {"Authorization": f"Bearer {account.key}", "X-Request-Id": outcome.request_id}
    if surface == "on-demand":
        headers["X-User-Id"] = account.user_id
    url = base_url + "/v1/chat/completions"
    body = request_body(surface, streamed, index, max_tokens)
    try:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            outcome.status = response.status_code
            text = (await response.aread()).decode(errors="replace")
    except httpx.HTTPError as exc:
        outcome.error = type(exc).__name__
        return outcome
    if outcome.status != 200:
        outcome.error = _error_code(text)
    elif streamed:
        outcome.complete = "data: [DONE]" in text and '"error"' not in text
        if not outcome.complete:
            outcome.error = "stream_cut"
    else:
        outcome.complete = '"choices"' in text
    return outcome


def _error_code(text: str) -> str:
    try:
        return str(json.loads(text)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unparsed"


async def drive(
    base_url: str,
    accounts: list[Account],
    *,
    seconds: float | None = None,
    requests: int | None = None,
    concurrency: int,
    on_tick: Callable[[int], None] | None = None,
    max_tokens: int = 12,
) -> Traffic:
    """Send mixed traffic (both surfaces, streamed and not, every user) until `seconds` pass or
    `requests` were sent; `on_tick(n)` runs after each finished request (fault injection hooks)."""
    traffic = Traffic()
    counter = itertools.count()
    deadline = time.monotonic() + seconds if seconds is not None else None

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            index = next(counter)
            if requests is not None and index >= requests:
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            account = accounts[index % len(accounts)]
            surface = ("on-demand", "serverless")[(index // len(accounts)) % 2]
            streamed = index % 3 != 0
            outcome = await one_request(client, base_url, account, surface, streamed, index, max_tokens)
            traffic.outcomes.append(outcome)
            if on_tick is not None:
                on_tick(len(traffic.outcomes))

    timeout = httpx.Timeout(60.0, connect=5.0)
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=64)) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return traffic


def expected_cost(record: UsageRecord) -> int:
    if record.surface != "serverless":
        return 0
    # cached prompt tokens are billed at the cached price, which the seeded catalog entry leaves at 0
    cached = min(record.cached_tokens, record.prompt_tokens)
    total = (record.prompt_tokens - cached) * INPUT_PRICE + record.completion_tokens * OUTPUT_PRICE
    return (total + 999_999) // 1_000_000


@dataclass
class LedgerCheck:
    """The figures a reliability test reports and asserts on."""

    requests: int
    answered: int
    records: int
    lost: int  # answered requests without a usage record
    duplicated: int  # request ids with more than one record
    strangers: int  # records for request ids no client sent
    mispriced: int  # records whose cost is not their tokens at list price
    negative_balances: int


def check_ledger(store: SeededStore, traffic: Traffic, accounts: list[Account]) -> LedgerCheck:
    answered = traffic.answered()
    records = store.wait_for_usage({outcome.request_id for outcome in answered})
    by_request = Counter(record.request_id for record in records)
    sent = {outcome.request_id for outcome in traffic.outcomes}
    spent: Counter[str] = Counter()
    for record in records:
        spent[record.user_id] += record.cost_micros
    return LedgerCheck(
        requests=len(traffic.outcomes),
        answered=len(answered),
        records=len(records),
        lost=sum(1 for outcome in answered if by_request[outcome.request_id] == 0),
        duplicated=sum(1 for count in by_request.values() if count > 1),
        strangers=sum(1 for request_id in by_request if request_id not in sent),
        mispriced=sum(1 for record in records if record.cost_micros != expected_cost(record)),
        negative_balances=sum(1 for account in accounts if account.credits - spent[account.user_id] < 0),
    )
