"""`tm local down` ends the engines that outlive the Control Plane: recorded ones and never-recorded ones."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kvmesh.engines.process_identity import process_start_ticks
from kvmesh.engines.processes import free_port, launch
from kvmesh.engines.provider import REPLICA_ENV, replica_tag
from kvmesh.local.layout import LocalLayout
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.migrate import upgrade_database
from kvmesh.store.models import Deployment, Replica, User

STANDIN = Path(__file__).parents[1] / "engines" / "standin_engine.py"


def _store_with_a_ready_deployment(state_root: Path) -> tuple[LocalLayout, str]:
    layout = LocalLayout.from_env({"TM_CONFIG_HOME": str(state_root)})
    layout.server_dir.mkdir(parents=True)
    upgrade_database(layout.database_url)
    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            user = User(email="owner@example.com")
            session.add(user)
            session.flush()
            deployment = Deployment(user_id=user.id, served_name="m", provider="standin", status="ready")
            session.add(deployment)
            session.flush()
            return layout, deployment.id
    finally:
        engine.dispose()


def _record(layout: LocalLayout, deployment_id: str, pid: int, port: int) -> None:
    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            replica = Replica(deployment_id=deployment_id, ordinal=0, status="ready", restarts=0)
            replica.url, replica.pid = f"http://127.0.0.1:{port}/v1", pid
            replica.pid_start_ticks = process_start_ticks(pid)
            session.add(replica)
    finally:
        engine.dispose()


def _deployment_status(layout: LocalLayout, deployment_id: str) -> str:
    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            return deployment.status
    finally:
        engine.dispose()


def _down(state_root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KVMESH_DATA", "KVMESH_DATABASE"))}
    return subprocess.run(
        [sys.executable, "-m", "kvmesh", "local", "down"],
        env={**env, "TM_CONFIG_HOME": str(state_root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _wait_exit(process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while process.poll() is None:
        assert time.monotonic() < deadline, "the engine is still running after `tm local down`"
        time.sleep(0.05)


def test_down_stops_recorded_and_never_recorded_engines_and_leaves_the_deployment_pending(
    tmp_path: Path,
) -> None:
    layout, deployment_id = _store_with_a_ready_deployment(tmp_path)
    recorded_port, orphan_port = free_port(), free_port()
    tag = {REPLICA_ENV: replica_tag(deployment_id, 0)}
    recorded = launch([sys.executable, str(STANDIN), "--port", str(recorded_port)], tmp_path / "r.log", tag)
    orphan = launch([sys.executable, str(STANDIN), "--port", str(orphan_port)], tmp_path / "o.log", tag)
    try:
        _record(layout, deployment_id, recorded.pid, recorded_port)
        result = _down(tmp_path)
        assert result.returncode == 0, result.stderr
        _wait_exit(recorded)
        _wait_exit(orphan)
        assert _deployment_status(layout, deployment_id) == "pending"
    finally:
        for process in (recorded, orphan):
            process.kill()
            process.wait()
