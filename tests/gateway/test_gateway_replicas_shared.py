"""Two real Gateway processes on one PostgreSQL store and the real Redis agree on every answer.

A revoked key is refused by both within 5 s (the revocation bound of the store-backed key cache), and
a per-key request limit counted in Redis holds across both: the key gets exactly its budget in total,
whichever Gateway each request lands on. The second Gateway runs two worker processes (`--workers 2`,
SO_REUSEPORT), which get the Redis settings from their parent through the environment.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from kvmesh.engines.processes import free_port
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.migrate import upgrade_database
from kvmesh.store.models import ApiKey, utcnow
from kvmesh.store.secrets import load_server_secret
from kvmesh.store.users import create_api_key, create_user

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]
KVMESH = str(Path(sys.executable).with_name("kvmesh"))
REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = 10


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> tuple[str, Path, list[tuple[str, str]]]:
    """A migrated store with one user and two keys: [(api key id, key in clear), ...]."""
    upgrade_database(database_url)
    data_dir = tmp_path / "server"
    secret = load_server_secret(data_dir / "server-secret")
    engine = create_engine_for_url(database_url)
    with make_session_factory(engine)() as session:
        user, _ = create_user(session, secret, f"{uuid.uuid4().hex[:8]}@example.com", "pw-123456789")
        keys = [create_api_key(session, secret, user.id, name=f"k{i}") for i in range(2)]
        session.commit()
        pairs = [(row.id, clear) for row, clear in keys]
    engine.dispose()
    return database_url, data_dir, pairs


@pytest.fixture
def gateways(store: tuple[str, Path, list[tuple[str, str]]], tmp_path: Path) -> Iterator[list[str]]:
    database_url, data_dir, _ = store
    processes, urls = [], []
    for name, workers in (("a", 1), ("b", 2)):
        port = free_port()
        argv = [KVMESH, "gateway", "serve", "--port", str(port), "--database-url", database_url]
        argv += ["--workers", str(workers)]
        argv += [
            "--data-dir",
            str(data_dir),
            "--redis-url",
            REDIS_URL,
            "--key-requests-per-minute",
            str(LIMIT),
        ]
        with (tmp_path / f"gw-{name}.log").open("ab") as log:
            processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "a Gateway did not start"
            time.sleep(0.2)
    yield urls
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def call(url: str, key: str) -> int:
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=10).status_code


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_revoked_key_is_refused_by_both_gateways_within_5s(
    store: tuple[str, Path, list[tuple[str, str]]], gateways: list[str]
) -> None:
    database_url, _, keys = store
    key_id, key = keys[0]
    assert [call(url, key) for url in gateways] == [404, 404]  # accepted (then: no such model)
    engine = create_engine_for_url(database_url)
    with make_session_factory(engine)() as session, session.begin():
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
    engine.dispose()
    revoked_at = time.monotonic()
    refused: dict[str, float] = {}
    while len(refused) < len(gateways) and time.monotonic() - revoked_at < 8:
        for url in gateways:
            if url not in refused and call(url, key) == 401:
                refused[url] = time.monotonic() - revoked_at
        time.sleep(0.1)
    assert set(refused) == set(gateways)
    assert max(refused.values()) < 5.0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_per_key_rate_limit_holds_across_both_gateways(
    store: tuple[str, Path, list[tuple[str, str]]], gateways: list[str]
) -> None:
    _, _, keys = store
    _, key = keys[1]
    while time.time() % 60 > 45:  # keep all requests inside one fixed one-minute window
        time.sleep(0.5)
    codes = [call(gateways[i % 2], key) for i in range(LIMIT + 6)]
    assert codes.count(404) == LIMIT  # accepted requests, spread over both Gateways
    assert codes.count(429) == 6
    assert codes[-1] == 429 and codes[-2] == 429  # refused on both Gateways
    other_key = keys[0][1]
    assert call(gateways[0], other_key) == 404  # the limit is per key
