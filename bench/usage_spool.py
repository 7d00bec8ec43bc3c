"""What making usage durable costs: the time `UsageRecorder.record()` holds an answer back, spool on vs off.

With the spool, each record is written to the spool file before the answer's last message goes out and
fsync'd in background batches; without it, `record()` is a list append. Runs both side by side
(interleaved rounds) at several concurrencies on this machine's disk and prints the median and p99 wait
per record, the records per fsync, and the ratio spool/no-spool.

    .venv/bin/python bench/usage_spool.py [ROUNDS]    # ROUNDS defaults to 5
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from kvmesh.gateway.metering import UsageRecorder, UsageRow
from kvmesh.gateway.spool import UsageSpool

RECORDS_PER_TASK = 50
CONCURRENCIES = (1, 8, 64)


def _row(index: int) -> UsageRow:
    return UsageRow.from_columns(
        {
            "usage_key": f"bench-{index}",
            "request_id": f"bench-{index}",
            "user_id": "00000000-0000-0000-0000-000000000000",
            "api_key_id": None,
            "deployment_id": None,
            "surface": "serverless",
            "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "endpoint": "/v1/chat/completions",
            "streamed": True,
            "prompt_tokens": 31,
            "completion_tokens": 12,
            "cached_tokens": 0,
            "latency_ms": 250,
            "ttft_ms": 40,
            "status_code": 200,
            "cost_micros": 6,
            "created_at": datetime.now(UTC),
        }
    )


def _no_store() -> Session:
    raise RuntimeError("the bench never flushes to a store")


async def _run(spool_dir: Path | None, concurrency: int) -> tuple[list[float], int]:
    spool = UsageSpool(spool_dir) if spool_dir is not None else None
    recorder = UsageRecorder(_no_store, flush_interval=3600, batch_size=10**9, spool=spool)
    if spool is not None:
        spool.open()
    waits: list[float] = []
    syncs = 0

    async def task(offset: int) -> None:
        for index in range(RECORDS_PER_TASK):
            row = _row(offset + index)
            started = time.perf_counter()
            await recorder.record(row)
            waits.append(time.perf_counter() - started)

    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        real_fsync(fd)

    os.fsync = counting_fsync
    try:
        await asyncio.gather(*(task(n * RECORDS_PER_TASK) for n in range(concurrency)))
        if spool is not None:
            while not spool.idle:  # the last batch's fsync
                await asyncio.sleep(0.001)
            spool.close()
    finally:
        os.fsync = real_fsync
    return waits, syncs


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(
        f"# usage_spool  rounds={rounds}  records/task={RECORDS_PER_TASK}  (machine shared with other jobs)"
    )
    print(
        f"{'concurrency':>11} {'mode':>8} {'p50 us':>9} {'p99 us':>9} {'records/fsync':>14} {'p50 ratio':>10}"
    )
    for concurrency in CONCURRENCIES:
        results: dict[str, list[float]] = {"memory": [], "spool": []}
        per_sync: list[float] = []
        for _ in range(rounds):
            waits, _ = asyncio.run(_run(None, concurrency))
            results["memory"].extend(waits)
            with tempfile.TemporaryDirectory() as folder:
                waits, syncs = asyncio.run(_run(Path(folder), concurrency))
            results["spool"].extend(waits)
            per_sync.append(len(waits) / max(syncs, 1))
        medians = {mode: statistics.median(values) for mode, values in results.items()}
        for mode, values in results.items():
            values.sort()
            p99 = values[int(len(values) * 0.99) - 1]
            batch = f"{statistics.mean(per_sync):.1f}" if mode == "spool" else "-"
            ratio = f"{medians['spool'] / medians['memory']:.0f}x" if mode == "spool" else ""
            p50_us, p99_us = medians[mode] * 1e6, p99 * 1e6
            print(f"{concurrency:>11} {mode:>8} {p50_us:>9.1f} {p99_us:>9.1f} {batch:>14} {ratio:>10}")


if __name__ == "__main__":
    main()
