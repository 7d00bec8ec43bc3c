"""BackgroundTask runs its loop from start() until stop(), and both are safe to call twice."""

from __future__ import annotations

import asyncio

from kvmesh.background import BackgroundTask


async def test_start_runs_the_loop_and_stop_cancels_and_awaits_it() -> None:
    ticks: list[int] = []
    finished = asyncio.Event()

    async def loop() -> None:
        try:
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)
        finally:
            finished.set()

    task = BackgroundTask(loop, "test-loop")
    task.start()
    task.start()  # a second start does not start a second loop
    await asyncio.sleep(0.05)
    assert task.running and ticks
    await task.stop()
    assert finished.is_set() and not task.running
    await task.stop()  # stopping twice is harmless


async def test_stop_before_start_does_nothing() -> None:
    async def loop() -> None:
        raise AssertionError("never started")

    task = BackgroundTask(loop, "idle")
    await task.stop()
    assert not task.running
