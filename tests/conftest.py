"""Shared fixtures: a fresh database per test on SQLite and PostgreSQL, and live servers on free ports."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_TEST_DATABASE = "kvmesh_test"


def _pg_connect(dbname: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname, autocommit=True)


def _ensure_postgres() -> None:
    """Start the local cluster if it is down; a PostgreSQL we cannot reach fails the test (never skips)."""
    try:
        _pg_connect().close()
        return
    except Exception:
        versions = sorted(p.name for p in Path("/etc/postgresql").glob("*"))
        if versions:
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
                capture_output=True,
                check=False,
            )
    for _ in range(50):
        try:
            _pg_connect().close()
            return
        except Exception:
            time.sleep(0.2)
    pytest.fail("PostgreSQL on 127.0.0.1:5432 is not reachable (postgres-marked tests need it)")


@pytest.fixture(scope="session")
def _pg_test_database() -> str:
    _ensure_postgres()
    with _pg_connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_TEST_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_TEST_DATABASE}"')
    return PG_TEST_DATABASE


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database: a SQLite file, or a new PostgreSQL schema (the URL pins
    `search_path` to it) in the `kvmesh_test` database, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kvmesh-test.db'}"
        return
    dbname = request.getfixturevalue("_pg_test_database")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _pg_connect(dbname) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{dbname}?options=-csearch_path%3D{schema}"
    finally:
        with _pg_connect(dbname) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    from kvmesh.store.migrate import upgrade_database

    upgrade_database(database_url)
    return database_url


def free_port_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveServer:
    base_url: str
    app: Any


@pytest.fixture
def serve_app() -> Iterator[Callable[..., LiveServer]]:
    """Start `make_app(port)` under uvicorn in a thread on a free loopback port; stopped at teardown."""
    import uvicorn

    running: list[tuple[Any, threading.Thread]] = []

    def start(make_app: Callable[[int], Any], server_class: Callable[[Any], Any] | None = None) -> LiveServer:
        sock = free_port_socket()
        port = sock.getsockname()[1]
        app = make_app(port)
        server = (
            server_class(app)
            if server_class is not None
            else uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server failed to start")
            time.sleep(0.02)
        running.append((server, thread))
        return LiveServer(base_url=f"http://127.0.0.1:{port}", app=app)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def control_plane(
    serve_app: Callable[[Callable[[int], Any]], LiveServer], database_url: str, tmp_path: Path
) -> Callable[..., LiveServer]:
    """Factory: a running Control Plane (no engines, cheap argon2) on the test database."""
    from dataclasses import replace

    from kvmesh.controlplane.app import create_app
    from kvmesh.controlplane.settings import ControlPlaneSettings

    def start(**overrides: Any) -> LiveServer:
        base = ControlPlaneSettings(
            database_url=database_url,
            data_dir=tmp_path / "cp-data",
            run_engines=False,
            argon2_time_cost=1,
            argon2_memory_cost_kib=8192,
            login_poll_interval_s=1,
        )
        return serve_app(lambda port: create_app(replace(base, port=port, **overrides)))

    return start


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            browser.close()
