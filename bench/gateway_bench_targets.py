"""The proxies bench/gateway_overhead.py compares, each started in its own process on the stand-in upstream:
kvmesh (a seeded SQLite store), the LiteLLM proxy and vllm-router (own venvs under ~/.cache/kvmesh/).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gateway_bench_upstream import MODEL

CACHE = Path.home() / ".cache" / "kvmesh"
VENVS = {"litellm": ("litellm-venv", "litellm[proxy]"), "vllm-router": ("vllm-router-venv", "vllm-router")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


@dataclass
class Target:
    name: str
    base: str  # OpenAI base ending in /v1
    proc: subprocess.Popen[bytes] | None
    headers: dict[str, str]
    database_url: str = ""
    sent_ok: int = 0  # 200 replies, warm-ups included
    sent_ok_streamed: int = 0


def ensure_venv(name: str) -> Path:
    folder, requirement = VENVS[name]
    venv = CACHE / folder
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    marker = venv / ".installed"
    if not marker.exists():
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", requirement], check=True)
        marker.write_text(requirement)
    return venv


def start_kvmesh(upstream: str, workdir: Path, source: Path | None = None, name: str = "kvmesh") -> Target:
    """kvmesh's Gateway; with `source`, the Gateway of another checkout (PYTHONPATH) on the same venv."""
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.models import ApiKey, Base, Deployment, Replica, User
    from kvmesh.store.secrets import hash_api_key, load_server_secret, new_api_key

    data_dir = workdir / name
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
        deployment = Deployment(user_id=user.id, served_name=MODEL, status="ready", provider="external")
        session.add(deployment)
        session.flush()
        session.add(Replica(deployment_id=deployment.id, url=upstream, status="ready"))
        user_id = user.id
    engine.dispose()
    port = free_port()
    code = (
        "from pathlib import Path; from kvmesh.gateway.server import serve; "
        f"serve('127.0.0.1', {port}, {url!r}, 1, Path({str(data_dir)!r}))"
    )
    env = {**os.environ, "KVMESH_SECRET_KEY": ""}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    profile = os.environ.get("BENCH_GATEWAY_PROFILE")  # write cProfile stats of the Gateway process here
    if profile:
        code = (
            "import cProfile, signal, sys\n"
            "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # uvicorn re-raises it after shutdown\n"
            "import time\np = cProfile.Profile(time.process_time)  # CPU time: the machine may be busy\n"
            f"p.enable()\ntry:\n    {code}\nfinally:\n    p.disable()\n"
            f"    p.dump_stats({profile!r})\n"
        )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    wait_http(f"http://127.0.0.1:{port}/health", proc)
    headers = {"Authorization": f"Bearer {key}", "X-User-Id": user_id}
    return Target(name, f"http://127.0.0.1:{port}/v1", proc, headers, database_url=url)


def start_litellm(upstream: str, workdir: Path) -> Target:
    venv = ensure_venv("litellm")
    config = workdir / "litellm.yaml"
    master_key = "sk-" + secrets.token_hex(32)  # LiteLLM refuses to start without one (and then checks it)
    config.write_text(
        f"model_list:\n  - model_name: {MODEL}\n    litellm_params:\n      model: openai/{MODEL}\n"
        f"      api_base: {upstream}\n      api_key: bench\n"
        "litellm_settings:\n  drop_params: true\n  telemetry: false\n"
        f"general_settings:\n  master_key: {master_key}\n"
    )
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    proc = subprocess.Popen(
        [
            str(venv / "bin" / "litellm"),
            "--config",
            str(config),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--num_workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", proc, timeout=180)
    return Target("litellm", f"http://127.0.0.1:{port}/v1", proc, {"Authorization": f"Bearer {master_key}"})


def start_vllm_router(upstream: str, workdir: Path) -> Target:
    venv = ensure_venv("vllm-router")
    port = free_port()
    origin = upstream.removesuffix("/v1")
    proc = subprocess.Popen(
        [
            str(venv / "bin" / "vllm-router"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--worker-urls",
            origin,
            "--policy",
            "round_robin",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=120)
    return Target("vllm-router", f"http://127.0.0.1:{port}/v1", proc, {})
