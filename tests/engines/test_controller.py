"""DeploymentController against a real store, with stand-in engine processes (no llama.cpp needed)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.engines.controller import DeploymentController
from kvmesh.engines.processes import free_port, http_ok, launch, tail_lines, terminate, wait_until_healthy
from kvmesh.engines.provider import ReplicaHandle, ReplicaSpec
from kvmesh.engines.settings import EngineSettings
from kvmesh.store.models import Deployment, DeploymentEvent, Replica

STANDIN = Path(__file__).with_name("standin_engine.py")


class StandinProvider:
    """Launches tests/engines/standin_engine.py; engine_config {"crash": true} makes it exit at start."""

    name = "standin"

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    async def start_replica(self, spec: ReplicaSpec, ordinal: int) -> ReplicaHandle:
        port = free_port()
        argv = [sys.executable, str(STANDIN), str(port)]
        if spec.engine_config.get("crash"):
            argv.append("--crash")
        log_path = self.log_dir / spec.deployment_id / f"replica-{ordinal}.log"
        process = launch(argv, log_path)
        handle = ReplicaHandle(self.name, spec.deployment_id, ordinal, f"http://127.0.0.1:{port}/v1")
        handle.pid, handle.process, handle.log_path = process.pid, process, log_path
        try:
            await wait_until_healthy(f"{handle.root_url}/health", process, log_path, 20)
        except BaseException:
            await terminate(process)
            raise
        return handle

    async def stop_replica(self, handle: ReplicaHandle) -> None:
        assert handle.process is not None
        await terminate(handle.process)

    async def check_health(self, handle: ReplicaHandle) -> bool:
        return handle.exited() is None and await http_ok(f"{handle.root_url}/health")

    async def describe(self, handle: ReplicaHandle) -> dict[str, Any]:
        return {"url": handle.url, "log_tail": tail_lines(handle.log_path)}


async def wait_until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


def status_of(session_factory: sessionmaker[Session], deployment_id: str) -> str:
    with session_factory() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        return deployment.status


def replicas_of(session_factory: sessionmaker[Session], deployment_id: str) -> list[Replica]:
    with session_factory() as session:
        query = select(Replica).where(Replica.deployment_id == deployment_id).order_by(Replica.ordinal)
        return list(session.execute(query).scalars())


def events_of(session_factory: sessionmaker[Session], deployment_id: str) -> list[str]:
    with session_factory() as session:
        query = select(DeploymentEvent.event_type).where(DeploymentEvent.deployment_id == deployment_id)
        return list(session.execute(query.order_by(DeploymentEvent.id)).scalars())


def make_controller(
    session_factory: sessionmaker[Session], settings: EngineSettings, tmp_path: Path
) -> DeploymentController:
    return DeploymentController(session_factory, settings, providers={"standin": StandinProvider(tmp_path)})


async def test_pending_deployment_becomes_ready_with_replica_rows(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin", replicas=2)
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    try:
        await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
        replicas = replicas_of(session_factory, deployment_id)
        assert [r.status for r in replicas] == ["ready", "ready"]
        assert all(r.url.startswith("http://127.0.0.1:") and r.url.endswith("/v1") for r in replicas)
        assert all(r.pid for r in replicas)
        assert events_of(session_factory, deployment_id)[:2] == ["STARTING", "READY"]
    finally:
        await controller.stop()


async def test_engine_that_exits_at_start_fails_the_deployment_with_its_log(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin", engine_config={"crash": True})
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    try:
        await wait_until(lambda: status_of(session_factory, deployment_id) == "failed")
        with session_factory() as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            assert "model file is corrupt" in deployment.last_error
        assert "FAILED" in events_of(session_factory, deployment_id)
    finally:
        await controller.stop()


async def test_unknown_provider_fails_the_deployment(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="no-such-engine")
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    try:
        await wait_until(lambda: status_of(session_factory, deployment_id) == "failed")
    finally:
        await controller.stop()


async def test_killed_replica_is_restarted_and_counted(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin")
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    try:
        await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
        first_pid = replicas_of(session_factory, deployment_id)[0].pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        await wait_until(lambda: replicas_of(session_factory, deployment_id)[0].restarts == 1)
        replica = replicas_of(session_factory, deployment_id)[0]
        assert replica.status == "ready" and replica.pid not in (None, first_pid)
        assert status_of(session_factory, deployment_id) == "ready"
        events = events_of(session_factory, deployment_id)
        assert "REPLICA_FAILED" in events and "REPLICA_RESTARTED" in events
    finally:
        await controller.stop()


async def test_stopping_deployment_stops_processes_and_is_marked_deleted(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin")
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    try:
        await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
        handle = controller.handles(deployment_id)[0]
        with session_factory() as session, session.begin():
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            deployment.status = "stopping"
        controller.wake()
        await wait_until(lambda: status_of(session_factory, deployment_id) == "stopped")
        assert handle.exited() is not None
        with session_factory() as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None and deployment.deleted_at is not None
        assert [r.status for r in replicas_of(session_factory, deployment_id)] == ["stopped"]
    finally:
        await controller.stop()


async def test_controller_stop_leaves_no_engine_process(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin", replicas=2)
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
    handles = controller.handles(deployment_id)
    await controller.stop()
    assert all(h.exited() is not None for h in handles)
    assert status_of(session_factory, deployment_id) == "pending"
    assert {r.status for r in replicas_of(session_factory, deployment_id)} == {"stopped"}
