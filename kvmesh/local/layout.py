"""Where the local stack keeps its files: `<state root>/local/` (pids, logs, state), server data dir."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARTS = ("controlplane", "gateway")
DEFAULT_PORTS = {"controlplane": 8080, "gateway": 8081}
OWNER_EMAIL = "owner@kvmesh.localhost"
SERVED_NAME = "smollm2-135m-instruct"
SERVERLESS_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class LocalLayout:
    state_root: Path
    server_dir: Path
    database_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalLayout:
        from kvmesh.client import state_root
        from kvmesh.store.engine import default_data_dir

        source = os.environ if env is None else env
        root = state_root(dict(source))
        server_dir = default_data_dir(source)
        explicit_url = source.get("KVMESH_DATABASE_URL", "").strip()
        return cls(root, server_dir, explicit_url or f"sqlite:///{server_dir / 'kvmesh.db'}")

    @property
    def local_dir(self) -> Path:
        return self.state_root / "local"

    def pid_file(self, part: str) -> Path:
        return self.local_dir / f"{part}.pid"

    def log_file(self, part: str) -> Path:
        return self.local_dir / f"{part}.log"

    @property
    def state_file(self) -> Path:
        return self.local_dir / "state.json"

    @property
    def password_file(self) -> Path:
        return self.local_dir / "owner-password"

    @property
    def engine_logs(self) -> list[Path]:
        """Replica logs of the embedded engines, newest first."""
        logs = (self.server_dir / "engines").glob("*/replica-*.log")
        return sorted(logs, key=lambda p: p.stat().st_mtime, reverse=True)

    def read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_state(self, state: Mapping[str, Any]) -> None:
        self.local_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(state), indent=2) + "\n")
        tmp.replace(self.state_file)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now.

    SO_REUSEADDR as uvicorn binds: a port whose only users are TIME_WAIT connections (left by a
    server that crashed or just stopped) is free, and only a live listener makes it busy.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def choose_port(*candidates: int | None) -> int:
    """The first free candidate port, else any free loopback port."""
    for port in candidates:
        if port and port_is_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
