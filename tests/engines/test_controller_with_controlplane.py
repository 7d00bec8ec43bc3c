"""A real embedded deployment created through the Control Plane API: ready, chat, kill, restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.engines.llamacpp_build import find_llama_server
from kvmesh.engines.processes import free_port
from kvmesh.engines.settings import EngineSettings
from kvmesh.store.models import Deployment, Replica

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(find_llama_server() is None, reason="llama-server not built (make llama-server)"),
]


@dataclass
class RunningControlPlane:
    base_url: str
    token: str
    session_factory: sessionmaker[Session]


@pytest.fixture
def controlplane(tmp_path: Path) -> Iterator[RunningControlPlane]:
    from kvmesh.controlplane.app import create_app
    from kvmesh.controlplane.settings import ControlPlaneSettings
    from kvmesh.controlplane.tokens import TokenLifetimes, issue_tokens, load_jwt_key
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.migrate import upgrade_database
    from kvmesh.store.secrets import load_server_secret
    from kvmesh.store.users import create_user

    database_url = f"sqlite:///{tmp_path / 'kvmesh.db'}"
    port = free_port()

    settings = ControlPlaneSettings(
        database_url=database_url,
        data_dir=tmp_path,
        port=port,
        argon2_time_cost=1,
        argon2_memory_cost_kib=8,
        engines=EngineSettings(
            engine_poll_interval_s=0.3,
            engine_health_interval_s=0.5,
            engine_restart_backoff_s=0.2,
            llama_parallel=2,
            llama_threads=1,
        ),
    )
    upgrade_database(database_url)
    session_factory = make_session_factory(create_engine_for_url(database_url))
    with session_factory() as session:
        secret = load_server_secret(tmp_path / "server-secret")
        user, _ = create_user(session, secret, "o@example.com", "pw-12345678")
        tokens = issue_tokens(session, load_jwt_key(session), user, TokenLifetimes(900, 3600))
        session.commit()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "control plane did not start"
        time.sleep(0.05)
    try:
        yield RunningControlPlane(f"http://127.0.0.1:{port}", tokens["access_token"], session_factory)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _deployment(cp: RunningControlPlane, deployment_id: str) -> tuple[str, list[Replica]]:
    with cp.session_factory() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        query = select(Replica).where(Replica.deployment_id == deployment_id).order_by(Replica.ordinal)
        return deployment.status, list(session.execute(query).scalars())


async def _wait_ready(cp: RunningControlPlane, deployment_id: str, restarts: int = 0) -> Replica:
    deadline = time.monotonic() + 60
    while True:
        status, replicas = await asyncio.to_thread(_deployment, cp, deployment_id)
        assert status != "failed", "deployment failed"
        first = replicas[0] if replicas else None
        if status == "ready" and first is not None and first.status == "ready" and first.restarts >= restarts:
            return first
        assert time.monotonic() < deadline, f"deployment still {status}"
        await asyncio.sleep(0.2)


async def test_embedded_deployment_serves_chat_and_survives_a_killed_replica(
    controlplane: RunningControlPlane,
) -> None:
    from openai import AsyncOpenAI

    async with httpx.AsyncClient(base_url=controlplane.base_url, timeout=10) as client:
        response = await client.post(
            "/v1/deployments",
            json={"modelName": "smollm2-135m-instruct"},
            headers={"Authorization": f"Bearer {controlplane.token}"},
        )
    assert response.status_code in (200, 201), response.text
    record = response.json()["deployment"]
    deployment_id = record.get("deploymentId") or record["modelId"]

    replica = await _wait_ready(controlplane, deployment_id)
    openai = AsyncOpenAI(base_url=replica.url, api_key="unused")
    messages = [{"role": "user", "content": "Say hello."}]
    reply = await openai.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=messages,
        max_tokens=16,  # type: ignore[arg-type]
    )
    assert reply.choices[0].message.content
    stream = await openai.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=messages,
        max_tokens=16,
        stream=True,  # type: ignore[arg-type]
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]).strip()

    assert replica.pid is not None
    os.kill(replica.pid, signal.SIGKILL)
    restarted = await _wait_ready(controlplane, deployment_id, restarts=1)
    assert restarted.pid != replica.pid
    again = await AsyncOpenAI(base_url=restarted.url, api_key="unused").chat.completions.create(
        model="smollm2-135m-instruct",
        messages=messages,
        max_tokens=16,  # type: ignore[arg-type]
    )
    assert again.choices[0].message.content
