"""A restarted controller adopts the engines an earlier one left running, by pid + start time only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from test_controller import STANDIN, events_of, make_controller, replicas_of, status_of, wait_until

from kvmesh.engines.process_identity import is_same_process, process_exists, process_start_ticks
from kvmesh.engines.processes import free_port, launch
from kvmesh.engines.provider import REPLICA_ENV, replica_tag
from kvmesh.engines.settings import EngineSettings
from kvmesh.store.models import Deployment, Replica


@pytest.fixture
def outliving(settings: EngineSettings) -> EngineSettings:
    """Settings of a Control Plane whose engines outlive it (the served default)."""
    return replace(settings, engines_outlive_controlplane=True)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated live process: a recycled pid must never be adopted or signalled."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def _only_replica(session_factory: sessionmaker[Session], deployment_id: str) -> Replica:
    (replica,) = replicas_of(session_factory, deployment_id)
    return replica


async def test_stopped_controller_leaves_engines_serving_and_the_next_one_adopts_them(
    session_factory: sessionmaker[Session],
    outliving: EngineSettings,
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin")
    first = make_controller(session_factory, outliving, tmp_path)
    await first.start()
    await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
    replica = _only_replica(session_factory, deployment_id)
    assert replica.pid and replica.pid_start_ticks == process_start_ticks(replica.pid)
    await first.stop()
    assert is_same_process(replica.pid, replica.pid_start_ticks)
    assert status_of(session_factory, deployment_id) == "ready"

    second = make_controller(session_factory, settings, tmp_path)
    await second.start()
    try:
        await wait_until(lambda: "ADOPTED" in events_of(session_factory, deployment_id))
        adopted = _only_replica(session_factory, deployment_id)
        assert (adopted.pid, adopted.status, adopted.restarts) == (replica.pid, "ready", 0)
        assert [h.pid for h in second.handles(deployment_id)] == [replica.pid]
        assert status_of(session_factory, deployment_id) == "ready"
        assert events_of(session_factory, deployment_id).count("STARTING") == 1
    finally:
        await second.stop()
    assert not process_exists(replica.pid), "stopping the adopting controller stops the adopted engine"


async def test_a_recorded_engine_that_died_meanwhile_is_marked_lost_and_started_again(
    session_factory: sessionmaker[Session],
    outliving: EngineSettings,
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin")
    first = make_controller(session_factory, outliving, tmp_path)
    await first.start()
    await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
    await first.stop()
    old_pid = _only_replica(session_factory, deployment_id).pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    while process_exists(old_pid):
        time.sleep(0.02)

    second = make_controller(session_factory, settings, tmp_path)
    await second.start()
    try:
        await wait_until(lambda: _only_replica(session_factory, deployment_id).pid not in (None, old_pid))
        await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
        assert "REPLICA_LOST" in events_of(session_factory, deployment_id)
    finally:
        await second.stop()


async def test_a_recycled_pid_is_neither_adopted_nor_signalled(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
    bystander: subprocess.Popen[bytes],
) -> None:
    deployment_id = add_deployment(provider="standin")
    ticks = process_start_ticks(bystander.pid)
    assert ticks is not None
    with session_factory() as session, session.begin():
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        deployment.status = "ready"
        recycled = Replica(deployment_id=deployment_id, ordinal=0, status="ready", restarts=0)
        recycled.url, recycled.pid, recycled.pid_start_ticks = (
            "http://127.0.0.1:9/v1",
            bystander.pid,
            ticks + 1,
        )
        session.add(recycled)
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    try:
        await wait_until(
            lambda: _only_replica(session_factory, deployment_id).pid not in (None, bystander.pid)
        )
    finally:
        await controller.stop()
    assert bystander.poll() is None, "a process that only shares the recorded pid was signalled"
    assert "ADOPTED" not in events_of(session_factory, deployment_id)


async def test_an_engine_of_a_deployment_deleted_meanwhile_is_stopped_at_start(
    session_factory: sessionmaker[Session],
    outliving: EngineSettings,
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    deployment_id = add_deployment(provider="standin")
    first = make_controller(session_factory, outliving, tmp_path)
    await first.start()
    await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
    await first.stop()
    replica = _only_replica(session_factory, deployment_id)
    with session_factory() as session, session.begin():
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        deployment.status = "stopped"
    second = make_controller(session_factory, settings, tmp_path)
    await second.start()
    await second.stop()
    assert replica.pid is not None and not process_exists(replica.pid)
    assert _only_replica(session_factory, deployment_id).pid is None


async def test_an_engine_launched_but_never_recorded_is_stopped_when_the_deployment_is_first_seen(
    session_factory: sessionmaker[Session],
    settings: EngineSettings,
    tmp_path: Path,
    add_deployment: Callable[..., str],
) -> None:
    """A Control Plane killed while an engine was starting leaves it unrecorded: no orphan may stay."""
    deployment_id = add_deployment(provider="standin")
    env = {REPLICA_ENV: replica_tag(deployment_id, 0)}
    orphan = launch([sys.executable, str(STANDIN), "--port", str(free_port())], tmp_path / "orphan.log", env)
    controller = make_controller(session_factory, settings, tmp_path)
    await controller.start()
    try:
        await wait_until(lambda: status_of(session_factory, deployment_id) == "ready")
        await wait_until(lambda: orphan.poll() is not None, timeout_s=10)
        assert "REPLICA_ORPHAN_STOPPED" in events_of(session_factory, deployment_id)
        assert _only_replica(session_factory, deployment_id).pid not in (None, orphan.pid)
    finally:
        await controller.stop()
        orphan.kill()
        orphan.wait()
