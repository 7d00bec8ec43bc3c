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

    __slots__ = ("ejected", "id", "outstanding", "target", "url")

    def __init__(self, target: ReplicaTarget) -> None:
        self.target = target
        self.id = target.id
        self.url = target.url
        self.outstanding = 0
        self.ejected = False

    @property
    def api_key(self) -> str:
        return self.target.api_key

    @property
    def guarded(self) -> bool:
        return self.target.guarded


class ReplicaPool:
    """Tracks every replica seen in a route; ejected replicas are skipped until a probe succeeds."""

    def __init__(
        self,
        probe: Callable[[ReplicaTarget], Awaitable[bool]],
        probe_interval: float,
        on_eject: Callable[[str], None] | None = None,
    ) -> None:
        self._states: dict[str, ReplicaState] = {}
        self._on_eject = on_eject
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
            if self._on_eject is not None:
                self._on_eject(state.id)

    def ejected_ids(self) -> list[str]:
        return [state.id for state in self._states.values() if state.ejected]

    def start(self) -> None:
        self._prober.start()

    async def stop(self) -> None:
        await self._prober.stop()

    def _state(self, target: ReplicaTarget) -> ReplicaState:
        state = self._states.get(target.id)
        if state is None or state.target != target:
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
                *(self._probe(state.target) for state in ejected), return_exceptions=True
            )
            for state, healthy in zip(ejected, results, strict=True):
                if healthy is True:
                    log.info("replica %s (%s) is healthy again", state.id, state.url)
                    state.ejected = False
