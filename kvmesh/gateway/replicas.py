"""Live replica state: in-flight counts, ejection on failure, and background probing back to health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from kvmesh.background import BackgroundTask
from kvmesh.gateway.directory import ReplicaTarget

log = logging.getLogger(__name__)


class ReplicaState:
    """One replica as the Gateway sees it right now (memory only)."""

    __slots__ = ("ejected", "id", "outstanding", "url")

    def __init__(self, target: ReplicaTarget) -> None:
        self.id = target.id
        self.url = target.url
        self.outstanding = 0
        self.ejected = False


class ReplicaPool:
    """Tracks every replica seen in a route; ejected replicas are skipped until a probe succeeds."""

    def __init__(self, probe: Callable[[str], Awaitable[bool]], probe_interval: float) -> None:
        self._states: dict[str, ReplicaState] = {}
        self._probe = probe
        self._probe_interval = probe_interval
        self._prober = BackgroundTask(self._probe_loop, "kvmesh-replica-prober")

    def candidates(self, targets: Iterable[ReplicaTarget], exclude: str | None = None) -> list[ReplicaState]:
        """Healthy replicas of a route (all of them if every one is ejected: better a try than a 503)."""
        states = [self._state(target) for target in targets if target.id != exclude]
        healthy = [state for state in states if not state.ejected]
        return healthy or states

    def eject(self, state: ReplicaState, reason: str) -> None:
        if not state.ejected:
            log.warning("ejecting replica %s (%s): %s", state.id, state.url, reason)
            state.ejected = True

    def ejected_ids(self) -> list[str]:
        return [state.id for state in self._states.values() if state.ejected]

    def start(self) -> None:
        self._prober.start()

    async def stop(self) -> None:
        await self._prober.stop()

    def _state(self, target: ReplicaTarget) -> ReplicaState:
        state = self._states.get(target.id)
        if state is None or state.url != target.url:
            state = ReplicaState(target)
            self._states[target.id] = state
        return state

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self._probe_interval)
            ejected = [state for state in self._states.values() if state.ejected]
            if not ejected:
                continue
            results = await asyncio.gather(
                *(self._probe(state.url) for state in ejected), return_exceptions=True
            )
            for state, healthy in zip(ejected, results, strict=True):
                if healthy is True:
                    log.info("replica %s (%s) is healthy again", state.id, state.url)
                    state.ejected = False
