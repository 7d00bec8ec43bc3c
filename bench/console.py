"""Console, `tm cost` and spending reads over a large usage history, on SQLite and PostgreSQL.

    .venv/bin/python bench/console.py                      # 1,000,000 rows, both backends
    .venv/bin/python bench/console.py --rows 50000 --backend sqlite

Seeds `usage_records` at schema revision 0001 (50 users over 90 days; user 0 is the heavy user with
a fifth of all rows), then runs the migration to head and reports the rollup backfill in rows/s. A
Control Plane app then serves every console page and `GET /v1/billing/cost` (what `tm cost` calls)
in-process (Starlette TestClient: no sockets, so the time is the server's), 30 timed requests each
after 3 warm-ups; p50 / p95 in ms. Side by side, the same 90-day per-model sums read from the raw
rows instead of the rollup, to show the ratio the rollup buys.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

N_USERS = 50
DAYS = 90
MODELS = ["HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m-instruct", "acme/other-model"]
TIMED, WARMUP = 30, 3
PG_BENCH_DB = "kvmesh_bench"


def _rows(user_ids: list[str], key_ids: dict[str, list[str]], count: int, now: datetime) -> Any:
    """Yield usage rows: a fifth for user 0, the rest spread over the others, uniformly over 90 days."""
    rng = random.Random(7)
    span = DAYS * 86400
    for i in range(count):
        user = user_ids[0] if i % 5 == 0 else user_ids[1 + rng.randrange(len(user_ids) - 1)]
        prompt = rng.randrange(20, 2000)
        yield {
            "request_id": f"b{i}",
            "user_id": user,
            "api_key_id": rng.choice(key_ids[user]),
            "deployment_id": None,
            "surface": "serverless",
            "model": rng.choice(MODELS),
            "endpoint": "/v1/chat/completions",
            "streamed": True,
            "prompt_tokens": prompt,
            "completion_tokens": rng.randrange(1, 400),
            "cached_tokens": rng.randrange(0, prompt),
            "latency_ms": 100,
            "ttft_ms": 20,
            "status_code": 200,
            "cost_micros": rng.randrange(0, 200),
            "created_at": now - timedelta(seconds=rng.randrange(span)),
        }


def _database_url(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}"')
        conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    return f"postgresql://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def seed(url: str, rows: int) -> tuple[list[str], float]:
    """Schema 0001, users + keys + raw usage rows (no rollup yet); returns user ids and seconds taken."""
    from alembic import command

    from kvmesh.store.engine import create_engine_for_url
    from kvmesh.store.migrate import alembic_config
    from kvmesh.store.models import ApiKey, UsageRecord, User

    engine = create_engine_for_url(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    users = [str(uuid.uuid4()) for _ in range(N_USERS)]
    keys = {user: [str(uuid.uuid4()) for _ in range(3)] for user in users}
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(User.__table__),
            [
                {
                    "id": u,
                    "email": f"user{i}@bench.example",
                    "password_hash": None,
                    "display_name": "",
                    "first_name": "",
                    "last_name": "",
                    "company": "",
                    "role": "USER_ROLE_USER",
                    "disabled": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, u in enumerate(users)
            ],
        )
        connection.execute(
            insert(ApiKey.__table__),
            [
                {
                    "id": k,
                    "user_id": u,
                    "deployment_id": None,
                    "name": f"key {j}",
                    "key_hash": uuid.uuid4().hex,
                    "key_encrypted": "x",
                    "key_prefix": "tmk_bench",
                    "scopes": [],
                    "created_at": now,
                    "expires_at": None,
                    "revoked_at": None,
                    "last_used_at": None,
                }
                for u in users
                for j, k in enumerate(keys[u])
            ],
        )
        batch: list[dict[str, Any]] = []
        for row in _rows(users, keys, rows, now):
            batch.append(row)
            if len(batch) == 20_000:
                connection.execute(insert(UsageRecord.__table__), batch)
                batch = []
        if batch:
            connection.execute(insert(UsageRecord.__table__), batch)
    engine.dispose()
    return users, time.perf_counter() - started


def backfill(url: str) -> float:
    from kvmesh.store.migrate import upgrade_database

    started = time.perf_counter()
    upgrade_database(url)
    return time.perf_counter() - started


def _timed(call: Callable[[], Any]) -> tuple[float, float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(TIMED):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * len(samples)) - 1]


def _signed_in(client: Any, email: str) -> None:
    import re

    form = client.get("/console/signin").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/console/signin",
        data={"email": email, "password": "bench-password-1", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def serve_and_time(url: str, folder: Path, heavy: str) -> list[tuple[str, float, float]]:
    from fastapi.testclient import TestClient

    from kvmesh.controlplane.app import create_app
    from kvmesh.controlplane.settings import ControlPlaneSettings
    from kvmesh.controlplane.tokens import TokenLifetimes, issue_tokens
    from kvmesh.store.models import User
    from kvmesh.store.passwords import make_password_hasher
    from kvmesh.store.users import ROLE_ADMIN, set_password

    settings = ControlPlaneSettings(
        database_url=url,
        data_dir=folder / "cp",
        run_engines=False,
        argon2_time_cost=1,
        argon2_memory_cost_kib=8192,
    )
    app = create_app(settings)
    results = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        services = app.state.services
        with services.session_factory() as session:
            user = session.get(User, heavy)
            assert user is not None
            user.role = ROLE_ADMIN  # the heavy user also opens the admin view of all 50 users
            set_password(session, user, "bench-password-1", hasher=make_password_hasher(1, 8192))
            tokens = issue_tokens(
                session, services.jwt_key, user, TokenLifetimes(access_s=3600, refresh_s=3600)
            )
            session.commit()
        _signed_in(client, user.email)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        today = datetime.now(UTC).date()
        start = (today - timedelta(days=45)).isoformat() + "T13:30:00Z"
        pages = [
            "/console",
            "/console/usage?period=30d",
            "/console/usage?period=90d",
            f"/console/usage?period=90d&model={MODELS[0]}",
            "/console/usage.csv?period=90d",
            "/console/savings?period=90d",
            "/console/billing",
            "/console/keys",
            "/console/deployments",
            "/console/playground",
            "/console/admin/users",
        ]
        for path in pages:
            assert client.get(path).status_code == 200, path
            results.append((path, *_timed(lambda p=path: client.get(p))))
        for label, params in (
            ("tm cost (30d)", {}),
            ("tm cost --window 24h", {"window": "24h"}),
            ("tm cost --month (this month)", {"month": today.strftime("%Y-%m")}),
            ("tm cost --start (mid-day) --end now", {"start": start}),
        ):
            assert client.get("/v1/billing/cost", params=params, headers=bearer).status_code == 200
            results.append(
                (label, *_timed(lambda q=params: client.get("/v1/billing/cost", params=q, headers=bearer)))
            )
        for path in ("/v1/billing/spending/summary", "/v1/billing/spending/history", "/v1/billing/balance"):
            results.append((path, *_timed(lambda p=path: client.get(p, headers=bearer))))
    return results


def raw_vs_rollup(url: str, heavy: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """90-day per-model sums for the heavy user: straight from raw rows vs from the rollup."""
    from kvmesh.controlplane.usage_totals import usage_totals
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.models import UsageRecord

    engine = create_engine_for_url(url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    u = UsageRecord
    raw_query = (
        select(
            u.model,
            func.count(),
            func.sum(u.prompt_tokens),
            func.sum(u.cached_tokens),
            func.sum(u.completion_tokens),
            func.sum(u.cost_micros),
        )
        .where(u.user_id == heavy, u.created_at >= now - timedelta(days=DAYS))
        .group_by(u.model)
    )
    with sessions() as session:
        raw = _timed(lambda: session.execute(raw_query).all())
        rolled = _timed(lambda: usage_totals(session, heavy, now - timedelta(days=DAYS), now, by=("model",)))
    engine.dispose()
    return raw, rolled


def run(backend: str, rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = _database_url(backend, folder)
        users, seeded_s = seed(url, rows)
        backfill_s = backfill(url)
        from kvmesh.store.engine import create_engine_for_url

        engine = create_engine_for_url(url)
        with engine.connect() as conn:
            rollup_rows = conn.scalar(text("SELECT COUNT(*) FROM usage_daily_rollups"))
            heavy_rows = conn.scalar(
                text("SELECT COUNT(*) FROM usage_records WHERE user_id = :u"), {"u": users[0]}
            )
        engine.dispose()
        print(
            f"\n### {backend}: {rows:,} usage rows, {N_USERS} users, {DAYS} days "
            f"(heavy user: {heavy_rows:,} rows)"
        )
        print(
            f"seeded in {seeded_s:.1f} s; rollup backfill (migration 0002_console): {backfill_s:.2f} s = "
            f"{rows / backfill_s:,.0f} raw rows/s -> {rollup_rows:,} rollup rows"
        )
        raw, rolled = raw_vs_rollup(url, users[0])
        print(
            f"90-day per-model sums for the heavy user: raw rows p50 {raw[0]:.1f} ms, rollup p50 "
            f"{rolled[0]:.1f} ms ({raw[0] / rolled[0]:.0f}x)"
        )
        print("\n| request (heavy user) | p50 ms | p95 ms | ≤ 200 ms p95 |")
        print("|---|---|---|---|")
        for label, p50, p95 in serve_and_time(url, folder, users[0]):
            print(f"| `{label}` | {p50:.1f} | {p95:.1f} | {'yes' if p95 <= 200 else '**no**'} |")
        sys.stdout.flush()
        if backend == "postgresql":
            import psycopg

            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args.rows)


if __name__ == "__main__":
    main()
