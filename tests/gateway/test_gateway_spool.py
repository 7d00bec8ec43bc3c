"""Usage is durable once an answer is sent: each record is written to a private spool file (fsync'd in
background batches) before the answer ends, and a Gateway replays dead Gateways' spools into the store
on start, exactly once."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from gateway_harness import SERVED_NAME, SERVERLESS_MODEL, GatewayStore, LiveGateway, Scenario
from gateway_process import GatewayProcess

from kvmesh.gateway.metering import UsageRecorder, UsageRow
from kvmesh.gateway.spool import UsageSpool, encode_row
from kvmesh.store.models import BalanceReservation


def _row(key: str) -> dict[str, Any]:
    return {
        "usage_key": key,
        "request_id": key,
        "user_id": "u",
        "api_key_id": None,
        "deployment_id": None,
        "surface": "serverless",
        "model": "m",
        "endpoint": "/v1/chat/completions",
        "streamed": False,
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "cached_tokens": 0,
        "latency_ms": 1,
        "ttft_ms": None,
        "status_code": 200,
        "cost_micros": 3,
        "created_at": datetime.now(UTC),
    }


def test_each_record_is_in_a_private_spool_file_before_its_answer_ends(
    scenario: Scenario, start_gateway: Callable[..., LiveGateway], tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    gateway = start_gateway(spool_dir=spool_dir, usage_flush_interval=3600)
    body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions", json=body, headers=scenario.on_demand_headers()
    )
    assert response.status_code == 200
    (spool_file,) = spool_dir.glob("usage-*.jsonl")
    assert stat.S_IMODE(spool_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(spool_file.stat().st_mode) == 0o600
    (line,) = spool_file.read_text().splitlines()
    assert json.loads(line)["request_id"] == response.headers["x-request-id"]
    assert scenario.store.usage_count() == 0  # not flushed yet: only the spool has it


async def test_replaying_a_spool_skips_records_already_stored(store: GatewayStore, tmp_path: Path) -> None:
    dead = tmp_path / "usage-1-dead.jsonl"
    dead.write_bytes(b"".join(encode_row(_row(f"k{index}")) for index in range(3)) + b'{"torn')
    recorder = UsageRecorder(store.sessions, 3600, 100)
    await recorder.record(UsageRow.from_columns(_row("k0")))  # already stored before the crash
    await recorder.flush()
    assert store.usage_count() == 1
    replaying = UsageRecorder(store.sessions, 3600, 100, UsageSpool(tmp_path))
    replaying.start()
    await replaying.stop()
    assert replaying.recovered == 3
    assert sorted(record.usage_key or "" for record in store.usage()) == ["k0", "k1", "k2"]
    assert not dead.exists()
    assert [path.read_bytes() for path in tmp_path.glob("usage-*.jsonl")] == [b""]


async def test_workers_starting_together_replay_a_dead_spool_once(
    store: GatewayStore, tmp_path: Path
) -> None:
    """`--workers N` starts N processes on one spool folder at once: each opens its own file, none takes
    over a live one's file, and a dead file's records are recovered by exactly one of them."""
    import threading

    dead = tmp_path / "usage-1-dead.jsonl"
    dead.write_bytes(b"".join(encode_row(_row(f"k{index}")) for index in range(5)))
    spools = [UsageSpool(tmp_path) for _ in range(4)]
    recovered: list[int] = [0] * len(spools)
    barrier = threading.Barrier(len(spools))

    def open_spool(index: int) -> None:
        barrier.wait()
        recovered[index] = len(spools[index].open())

    threads = [threading.Thread(target=open_spool, args=(index,)) for index in range(len(spools))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(recovered) == [0, 0, 0, 5]
        assert not dead.exists()
        assert sorted(path.name for path in tmp_path.glob("usage-*.jsonl")) == sorted(
            spool.path.name for spool in spools
        )
    finally:
        for spool in spools:
            spool.close()


def test_gateway_sigkilled_right_after_answers_loses_no_usage(scenario: Scenario, tmp_path: Path) -> None:
    data_dir = tmp_path / "gateway-data"
    first = GatewayProcess(
        scenario.store.url, data_dir, scenario.store.secret, "--usage-flush-interval", "3600"
    ).start()
    request_ids: list[str] = []
    try:
        for index in range(12):
            surface_body: dict[str, Any] = {
                "model": SERVERLESS_MODEL if index % 2 else SERVED_NAME,
                "messages": [{"role": "user", "content": f"question {index}"}],
                "max_tokens": 3,
                "stream": index % 3 == 0,
            }
            headers = scenario.serverless_headers() if index % 2 else scenario.on_demand_headers()
            response = httpx.post(first.base_url + "/v1/chat/completions", json=surface_body, headers=headers)
            assert response.status_code == 200
            request_ids.append(response.headers["x-request-id"])
    finally:
        first.kill()
    assert scenario.store.usage_count() == 0  # everything was still waiting in memory when it died
    second = GatewayProcess(scenario.store.url, data_dir, scenario.store.secret).start()
    try:
        records = scenario.store.wait_for_usage(len(request_ids))
    finally:
        second.stop()
    assert sorted(record.request_id for record in records) == sorted(request_ids)
    # six priced serverless answers: 5 uncached prompt tokens at 1, 2 cached at 0, 3 completion at 2
    assert sum(record.cost_micros for record in records) == 6 * ((7 - 2) * 1 + 3 * 2)
    with scenario.store.sessions() as session:
        assert session.query(BalanceReservation).count() == 0  # the replay settled every hold
    third = GatewayProcess(scenario.store.url, data_dir, scenario.store.secret).start()
    third.stop()
    assert scenario.store.usage_count() == len(request_ids)
