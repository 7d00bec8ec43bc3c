"""The daily usage rollup: fold raw usage rows into per-(user, UTC day, model, deployment, key) sums.

Every writer of `usage_records` calls `apply_usage_to_rollups` in the same transaction as its insert,
so a rollup row always equals the sum of the raw rows it covers. Readers (spending summaries,
`tm cost`, the console) read rollups for whole days and raw rows only for a partial first or last
day, so no read scans a user's whole history. The Alembic migration that adds the table fills it
from existing rows with `backfill_rollups` (one INSERT … SELECT … GROUP BY).

Savings are what the cache saved at the serverless list price of the record's model: cached tokens x
(input price − cached price), in pico-dollars (micro-dollars per 1M tokens x tokens), using the
price when the row is rolled up. The Gateway bills cached tokens at the cached price (0, free, in the
shipped catalog), so a cached price of 0 saves the whole input price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kvmesh.store.models import ServerlessModel, UsageDailyRollup

ROLLUP_TABLE: Table = UsageDailyRollup.__table__  # type: ignore[assignment]
SUMMED = ("requests", "prompt_tokens", "cached_tokens", "completion_tokens", "cost_micros", "savings_picos")
PICOS_PER_MICRO = 1_000_000

RollupKey = tuple[str, date, str, str, str]


def saving_rate(input_price_micros: int, cached_price_micros: int) -> int:
    """Micro-dollars per 1M cached tokens that the cache saved: the Gateway bills cached input tokens at
    the cached price (0 = free, the shipped catalog's price) instead of the input price."""
    return max(input_price_micros - cached_price_micros, 0)


def saving_rates(session: Session, models: Iterable[str]) -> dict[str, int]:
    """Current saving rate of each named model that is in the serverless catalog."""
    names = sorted(set(models))
    if not names:
        return {}
    rows = session.execute(
        select(
            ServerlessModel.model, ServerlessModel.input_price_micros, ServerlessModel.cached_price_micros
        ).where(ServerlessModel.model.in_(names))
    ).tuples()
    return {model: saving_rate(int(inp or 0), int(cached or 0)) for model, inp, cached in rows}


def utc_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()


def _number(record: Mapping[str, Any], name: str) -> int:
    value = record.get(name)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def fold_records(
    records: Iterable[Mapping[str, Any]], rates: Mapping[str, int]
) -> dict[RollupKey, list[int]]:
    """Sum usage rows (dicts shaped like `usage_records` rows) by rollup key, in the SUMMED order."""
    sums: dict[RollupKey, list[int]] = {}
    for record in records:
        created = record.get("created_at")
        moment = created if isinstance(created, datetime) else datetime.now(UTC)
        model = str(record.get("model") or "")
        key = (
            str(record["user_id"]),
            utc_day(moment),
            model,
            str(record.get("deployment_id") or ""),
            str(record.get("api_key_id") or ""),
        )
        cached = _number(record, "cached_tokens")
        row = sums.setdefault(key, [0, 0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += _number(record, "prompt_tokens")
        row[2] += cached
        row[3] += _number(record, "completion_tokens")
        row[4] += _number(record, "cost_micros")
        row[5] += cached * rates.get(model, 0)
    return sums


def _upsert(dialect: str) -> Any:
    factory = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = factory(ROLLUP_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[column.name for column in ROLLUP_TABLE.primary_key],
        set_={name: ROLLUP_TABLE.c[name] + statement.excluded[name] for name in SUMMED},
    )


def apply_usage_to_rollups(session: Session, records: Iterable[Mapping[str, Any]]) -> int:
    """Add raw usage rows (the dicts just inserted into `usage_records`) to their daily rollups.

    Call it in the transaction that inserts the rows; returns how many rollup rows it touched."""
    batch = list(records)
    if not batch:
        return 0
    rates = saving_rates(session, (str(r.get("model") or "") for r in batch))
    sums = fold_records(batch, rates)
    params = [
        {
            "user_id": key[0],
            "day": key[1],
            "model": key[2],
            "deployment_id": key[3],
            "api_key_id": key[4],
            **dict(zip(SUMMED, values, strict=True)),
        }
        for key, values in sorted(sums.items())  # a fixed order: concurrent writers lock rows alike
    ]
    connection = session.connection()
    connection.execute(_upsert(connection.dialect.name), params)
    return len(params)


def _day_expression(dialect: str) -> str:
    if dialect == "postgresql":
        return "CAST((u.created_at AT TIME ZONE 'UTC') AS DATE)"
    return "substr(u.created_at, 1, 10)"  # SQLite stores UTC 'YYYY-MM-DD HH:MM:SS…'


def backfill_rollups(connection: Connection) -> int:
    """Rebuild every rollup row from `usage_records` (the table is emptied first); returns rows written."""
    day = _day_expression(connection.dialect.name)
    connection.execute(ROLLUP_TABLE.delete())
    connection.execute(
        text(
            "INSERT INTO usage_daily_rollups (user_id, day, model, deployment_id, api_key_id, requests,"
            " prompt_tokens, cached_tokens, completion_tokens, cost_micros, savings_picos)"
            f" SELECT u.user_id, {day}, u.model, COALESCE(u.deployment_id, ''), COALESCE(u.api_key_id, ''),"
            " COUNT(*), SUM(u.prompt_tokens), SUM(u.cached_tokens), SUM(u.completion_tokens),"
            " SUM(u.cost_micros), SUM(u.cached_tokens * COALESCE(CASE WHEN s.cached_price_micros"
            " < s.input_price_micros THEN s.input_price_micros - s.cached_price_micros ELSE 0 END, 0))"
            " FROM usage_records u LEFT JOIN serverless_models s ON s.model = u.model"
            f" GROUP BY u.user_id, {day}, u.model, COALESCE(u.deployment_id, ''),"
            " COALESCE(u.api_key_id, '')"
        )
    )
    return int(connection.scalar(select(func.count()).select_from(ROLLUP_TABLE)) or 0)
