"""The daily usage rollup: the writer keeps it equal to the raw rows, and the migration backfills it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.migrate import alembic_config, upgrade_database
from kvmesh.store.models import ServerlessModel, UsageDailyRollup, UsageRecord
from kvmesh.store.usage_rollup import apply_usage_to_rollups, saving_rate

USAGE = UsageRecord.__table__
T0 = datetime(2026, 11, 3, 23, 59, 30, tzinfo=UTC)


def _rows() -> list[dict[str, Any]]:
    """Two users, two days (around midnight), two models, a key and a deployment."""
    rows = []
    for i in range(40):
        rows.append(
            {
                "request_id": f"r{i}",
                "user_id": "alice" if i % 3 else "bob",
                "api_key_id": "key-1" if i % 2 else None,
                "deployment_id": "dep-1" if i % 5 == 0 else None,
                "surface": "serverless",
                "model": "priced" if i % 4 else "free",
                "prompt_tokens": 100 + i,
                "completion_tokens": 10 + i,
                "cached_tokens": 3 * i,
                "cost_micros": 7 * i + 1,
                "created_at": T0 + timedelta(seconds=3 * i),
            }
        )
    return rows


def _rollups(session: Session) -> dict[tuple[Any, ...], tuple[int, ...]]:
    r = UsageDailyRollup
    rows = session.execute(
        select(
            r.user_id,
            r.day,
            r.model,
            r.deployment_id,
            r.api_key_id,
            r.requests,
            r.prompt_tokens,
            r.cached_tokens,
            r.completion_tokens,
            r.cost_micros,
            r.savings_picos,
        )
    ).tuples()
    return {tuple(row[:5]): tuple(int(v) for v in row[5:]) for row in rows}


def _expected(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    rate = {"priced": saving_rate(20_000, 10_000), "free": saving_rate(20_000, 0)}
    sums: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        key = (
            row["user_id"],
            row["created_at"].date(),
            row["model"],
            row["deployment_id"] or "",
            row["api_key_id"] or "",
        )
        acc = sums.setdefault(key, [0] * 6)
        for i, value in enumerate(
            (
                1,
                row["prompt_tokens"],
                row["cached_tokens"],
                row["completion_tokens"],
                row["cost_micros"],
                row["cached_tokens"] * rate[row["model"]],
            )
        ):
            acc[i] += value
    return {key: tuple(values) for key, values in sums.items()}


def _price(session: Session) -> None:
    session.add(
        ServerlessModel(name="p", model="priced", input_price_micros=20_000, cached_price_micros=10_000)
    )
    session.add(ServerlessModel(name="f", model="free", input_price_micros=20_000, cached_price_micros=0))


@pytest.fixture
def session(migrated_database_url: str) -> Iterator[Session]:
    engine = create_engine_for_url(migrated_database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_rollup_rows_equal_the_sums_of_the_raw_rows_they_cover(session: Session) -> None:
    _price(session)
    rows = _rows()
    for batch in (rows[:7], rows[7:30], rows[30:]):  # several writer batches add up
        session.connection().execute(insert(USAGE), batch)
        apply_usage_to_rollups(session, batch)
    session.commit()
    got = _rollups(session)
    assert got == _expected(rows)
    assert {key[1] for key in got} == {date(2026, 11, 3), date(2026, 11, 4)}  # split at UTC midnight


def test_savings_are_the_input_price_less_the_cached_price() -> None:
    assert saving_rate(20_000, 0) == 20_000  # cached tokens are free: the Gateway bills them at 0
    assert saving_rate(20_000, 5_000) == 15_000
    assert saving_rate(20_000, 25_000) == 0  # a cached price above the input price saves nothing


def test_migration_backfills_rollups_from_existing_usage_rows(database_url: str) -> None:
    engine = create_engine_for_url(database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        rows = _rows()
        with make_session_factory(engine)() as session:
            _price(session)
            session.connection().execute(insert(USAGE), rows)
            session.commit()
        upgrade_database(database_url)
        with make_session_factory(engine)() as session:
            assert _rollups(session) == _expected(rows)
            total = session.scalar(select(func.sum(UsageDailyRollup.requests)))
            assert total == len(rows)
    finally:
        engine.dispose()
