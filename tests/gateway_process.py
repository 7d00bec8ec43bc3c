"""A real `kvmesh gateway serve` subprocess on a free loopback port, for crash tests (SIGKILL, restarts)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    """Start, SIGKILL or stop a Gateway process; `data_dir` holds its server secret and usage spool."""

    def __init__(self, database_url: str, data_dir: Path, secret: bytes, *extra_args: str) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret_file = data_dir / "server-secret"
        if not secret_file.exists():
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, base64.urlsafe_b64encode(secret) + b"\n")
            os.close(fd)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> GatewayProcess:
        self.port = free_port()
        log = open(self.data_dir / f"gateway-{self.port}.log", "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "kvmesh", "gateway", "serve", "--port", str(self.port)),
                *("--database-url", self.database_url, "--data-dir", str(self.data_dir)),
                # the test upstreams (stand-ins, llama-servers) listen on loopback
                *("--allow-upstream", "127.0.0.1/32"),
                *("--log-level", "warning", *self.extra_args),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gateway exited with {self.process.returncode}: {self.log_text()[-2000:]}"
                )
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("gateway did not become healthy")

    def log_text(self) -> str:
        return "".join(
            path.read_text(errors="replace") for path in sorted(self.data_dir.glob("gateway-*.log"))
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing in memory is flushed."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_kib(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0
