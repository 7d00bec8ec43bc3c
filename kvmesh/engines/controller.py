"""The deployment controller: makes running engine replicas match the deployments table.

It runs inside the Control Plane process. A loop wakes every `engine_poll_interval_s` (or on
`wake()`), reads the deployments it controls and schedules at most one task per deployment:
bring it up (pending → starting → ready / failed), check replica health and restart dead ones
with exponential backoff, or stop it (stopping → stopped). Store access is synchronous
SQLAlchemy and always runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from kvmesh.background import BackgroundTask
from kvmesh.engines import deployment_rows as rows
from kvmesh.engines.processes import EngineStartError, tail_lines
from kvmesh.engines.provider import EngineProvider, ReplicaHandle, create_provider
from kvmesh.engines.settings import EngineSettings

log = logging.getLogger("kvmesh.engines")


@dataclass
class ReplicaSlot:
    """One replica ordinal the controller looks after; `handle` is None while it waits for a restart."""

    handle: ReplicaHandle | None = None
    failures: int = 0
    unhealthy_checks: int = 0
    restart_at: float = 0.0
    healthy_since: float = 0.0


class DeploymentController:
    def __init__(
        self,
        session_factory: rows.SessionFactory,
        settings: EngineSettings,
        providers: Mapping[str, EngineProvider] | None = None,
        secret: bytes | None = None,
    ) -> None:
        """`secret` is the server secret, needed to decrypt external deployments' upstream API keys."""
        self._session_factory = session_factory
        self._settings = settings
        self._secret = secret
        self._providers: dict[str, EngineProvider] = dict(providers or {})
        self._slots: dict[str, dict[int, ReplicaSlot]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._next_health: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._loop = BackgroundTask(self._run, "kvmesh-deployment-controller")
        self.poll_interval_s = settings.engine_poll_interval_s
        self.health_interval_s = settings.engine_health_interval_s
        self.backoff_base_s = settings.engine_restart_backoff_s
        self.backoff_cap_s = settings.engine_restart_backoff_cap_s
        self.unhealthy_threshold = settings.engine_unhealthy_threshold
        # Providers another controller runs (Kubernetes workloads); their deployments are left alone here.
        self.skip_providers: frozenset[str] = frozenset()

    async def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        """Reconcile now instead of at the next poll (call after changing a deployment)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop and every replica this controller started; their deployments go back to pending."""
        await self._loop.stop()
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        for deployment_id in list(self._slots):
            await self._stop_slots(deployment_id)
            await asyncio.to_thread(rows.mark_replicas, self._session_factory, deployment_id, "stopped")
            await asyncio.to_thread(
                rows.update_deployment,
                self._session_factory,
                deployment_id,
                status="pending",
                event=("CONTROLLER_STOPPED", "Control Plane stopped; replicas stopped"),
                only_if_status=("starting", "ready"),
            )

    def handles(self, deployment_id: str) -> list[ReplicaHandle]:
        """The running replicas of a deployment (for tests and status pages)."""
        slots = self._slots.get(deployment_id, {})
        return [slot.handle for _, slot in sorted(slots.items()) if slot.handle is not None]

    async def _run(self) -> None:
        while True:
            try:
                await self.reconcile_once()
            except Exception:
                log.exception("deployment reconcile failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
            self._wake.clear()

    async def reconcile_once(self) -> None:
        views = await asyncio.to_thread(rows.load_controlled, self._session_factory, self._secret)
        seen = set()
        for view in views:
            if view.provider in self.skip_providers:
                continue
            seen.add(view.id)
            if self._busy(view.id):
                continue
            action = self._next_action(view)
            if action is not None:
                self._schedule(view.id, action)
        for deployment_id in list(self._slots):
            if deployment_id not in seen and not self._busy(deployment_id):
                self._schedule(deployment_id, self._stop_slots(deployment_id))

    def _busy(self, deployment_id: str) -> bool:
        task = self._tasks.get(deployment_id)
        return task is not None and not task.done()

    def _schedule(self, deployment_id: str, action: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._logged(deployment_id, action))
        task.add_done_callback(lambda _t: self._wake.set())
        self._tasks[deployment_id] = task

    async def _logged(self, deployment_id: str, action: Coroutine[Any, Any, None]) -> None:
        try:
            await action
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("deployment %s: reconcile step failed; retrying at the next poll", deployment_id)

    def _next_action(self, view: rows.DeploymentView) -> Coroutine[Any, Any, None] | None:
        if view.status == "stopping":
            return self._stop_deployment(view)
        slots = self._slots.get(view.id, {})
        if view.replicas_desired == 0 and not slots and view.status == "ready":
            return None
        if view.status == "pending" or not slots:
            return self._bring_up(view)
        if set(slots) != set(range(view.replicas_desired)):
            return self._bring_up(view)
        now = time.monotonic()
        due = now >= self._next_health.get(view.id, 0.0)
        exited = any(s.handle is not None and s.handle.exited() is not None for s in slots.values())
        restart_due = any(s.handle is None and now >= s.restart_at for s in slots.values())
        if due or exited or restart_due:
            return self._watch(view)
        return None

    def _provider(self, name: str) -> EngineProvider:
        if name not in self._providers:
            self._providers[name] = create_provider(name, self._settings)
        return self._providers[name]

    async def _db(self, func: Any, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(func, self._session_factory, *args, **kwargs)

    async def _bring_up(self, view: rows.DeploymentView) -> None:
        if view.status == "pending" or not self._slots.get(view.id):
            event = ("STARTING", "starting replicas")
            await self._db(rows.update_deployment, view.id, status="starting", event=event)
        try:
            provider = self._provider(view.provider)
        except LookupError as exc:
            await self._fail(view.id, str(exc))
            return
        slots = self._slots.setdefault(view.id, {})
        for ordinal in [o for o in slots if o >= view.replicas_desired]:
            await self._stop_slot(view.id, ordinal)
            del slots[ordinal]
        await self._db(rows.mark_replicas, view.id, "stopped", view.replicas_desired)
        missing = [o for o in range(view.replicas_desired) if slots.get(o) is None or slots[o].handle is None]
        results = await asyncio.gather(
            *(self._start_slot(view, provider, o) for o in missing), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            first = errors[0]
            detail = _describe_error(first)
            await self._stop_slots(view.id)
            await self._fail(view.id, detail)
            return
        self._next_health[view.id] = time.monotonic() + self.health_interval_s
        await self._db(
            rows.update_deployment,
            view.id,
            status="ready",
            last_error="",
            event=("READY", f"{view.replicas_desired} replica(s) healthy"),
            only_if_status=("pending", "starting", "ready"),
        )

    async def _start_slot(self, view: rows.DeploymentView, provider: EngineProvider, ordinal: int) -> None:
        await self._db(rows.upsert_replica, view.id, ordinal, status="starting")
        try:
            handle = await provider.start_replica(view.spec, ordinal)
        except BaseException as exc:
            message = exc.detail() if isinstance(exc, EngineStartError) else str(exc)
            await self._db(rows.upsert_replica, view.id, ordinal, status="failed", last_error=message)
            raise
        slot = self._slots.setdefault(view.id, {}).setdefault(ordinal, ReplicaSlot())
        slot.handle, slot.unhealthy_checks, slot.healthy_since = handle, 0, time.monotonic()
        fields = {"status": "ready", "url": handle.url, "pid": handle.pid, "last_error": ""}
        await self._db(rows.upsert_replica, view.id, ordinal, **fields)

    async def _fail(self, deployment_id: str, detail: str) -> None:
        log.warning("deployment %s failed: %s", deployment_id, detail.splitlines()[0] if detail else "")
        await self._db(
            rows.update_deployment,
            deployment_id,
            status="failed",
            last_error=detail,
            event=("FAILED", detail),
            only_if_status=("pending", "starting", "ready"),
        )

    async def _watch(self, view: rows.DeploymentView) -> None:
        """Health-check every replica, retire dead ones and restart those whose backoff has passed."""
        provider = self._provider(view.provider)
        slots = self._slots.get(view.id, {})
        now = time.monotonic()
        self._next_health[view.id] = now + self.health_interval_s
        for ordinal, slot in sorted(slots.items()):
            if slot.handle is not None:
                await self._check_slot(view, provider, ordinal, slot)
        for ordinal, slot in sorted(slots.items()):
            if slot.handle is None and time.monotonic() >= slot.restart_at:
                await self._restart_slot(view, provider, ordinal, slot)
        ready = sum(1 for s in slots.values() if s.handle is not None)
        if ready == view.replicas_desired and view.status != "ready":
            await self._db(
                rows.update_deployment,
                view.id,
                status="ready",
                last_error="",
                event=("READY", "all replicas healthy again"),
                only_if_status=("starting",),
            )
        elif ready == 0 and view.status == "ready":
            await self._db(rows.update_deployment, view.id, status="starting", only_if_status=("ready",))

    async def _check_slot(
        self, view: rows.DeploymentView, provider: EngineProvider, ordinal: int, slot: ReplicaSlot
    ) -> None:
        handle = slot.handle
        assert handle is not None
        exit_status = handle.exited()
        if exit_status is None and await provider.check_health(handle):
            slot.unhealthy_checks = 0
            if time.monotonic() - slot.healthy_since > self.backoff_cap_s:
                slot.failures = 0
            return
        slot.unhealthy_checks += 1
        if exit_status is None and slot.unhealthy_checks < self.unhealthy_threshold:
            return
        reason = (
            f"replica {ordinal} exited with status {exit_status}"
            if exit_status is not None
            else f"replica {ordinal} failed {slot.unhealthy_checks} health checks"
        )
        detail = f"{reason}\n{tail_lines(handle.log_path, 20)}".rstrip()
        await provider.stop_replica(handle)
        slot.handle = None
        slot.failures += 1
        slot.restart_at = time.monotonic() + self._backoff(slot.failures)
        await self._db(rows.upsert_replica, view.id, ordinal, status="failed", pid=None, last_error=detail)
        await self._db(rows.update_deployment, view.id, event=("REPLICA_FAILED", detail))

    async def _restart_slot(
        self, view: rows.DeploymentView, provider: EngineProvider, ordinal: int, slot: ReplicaSlot
    ) -> None:
        try:
            handle = await provider.start_replica(view.spec, ordinal)
        except EngineStartError as exc:
            slot.failures += 1
            slot.restart_at = time.monotonic() + self._backoff(slot.failures)
            await self._db(rows.upsert_replica, view.id, ordinal, status="failed", last_error=exc.detail())
            await self._db(rows.update_deployment, view.id, event=("REPLICA_RESTART_FAILED", exc.detail()))
            return
        slot.handle, slot.unhealthy_checks, slot.healthy_since = handle, 0, time.monotonic()
        await self._db(
            rows.upsert_replica,
            view.id,
            ordinal,
            status="ready",
            url=handle.url,
            pid=handle.pid,
            last_error="",
            restarted=True,
        )
        await self._db(rows.update_deployment, view.id, event=_restarted_event(ordinal, slot))

    def _backoff(self, failures: int) -> float:
        return float(min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(0, failures - 1)))

    async def _stop_deployment(self, view: rows.DeploymentView) -> None:
        await self._stop_slots(view.id)
        await self._db(rows.mark_replicas, view.id, "stopped")
        event = ("STOPPED", "replicas stopped")
        await self._db(rows.update_deployment, view.id, status="stopped", deleted=True, event=event)

    async def _stop_slot(self, deployment_id: str, ordinal: int) -> None:
        slot = self._slots.get(deployment_id, {}).get(ordinal)
        if slot is not None and slot.handle is not None:
            with contextlib.suppress(LookupError):
                await self._provider(slot.handle.provider).stop_replica(slot.handle)
            slot.handle = None

    async def _stop_slots(self, deployment_id: str) -> None:
        for ordinal in list(self._slots.get(deployment_id, {})):
            await self._stop_slot(deployment_id, ordinal)
        self._slots.pop(deployment_id, None)
        self._next_health.pop(deployment_id, None)


def _describe_error(error: BaseException) -> str:
    if isinstance(error, EngineStartError):
        return error.detail()
    return f"{type(error).__name__}: {error}"


def _restarted_event(ordinal: int, slot: ReplicaSlot) -> tuple[str, str]:
    return ("REPLICA_RESTARTED", f"replica {ordinal} restarted after {slot.failures} failure(s)")
