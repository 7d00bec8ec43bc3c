"""`tm cost` against a real Control Plane: windows, output formats, usage errors, and figures that equal
the sums of the raw usage rows for the same window (a hypothesis property test over random traffic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane.records_harness import sign_up
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert
from tm_harness import Invoke, write_tokens

from kvmesh.controlplane.cost_report import resolve_window
from kvmesh.store.models import UsageRecord
from kvmesh.store.usage_rollup import apply_usage_to_rollups

pytest_plugins = ("tm_fixtures",)

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # priced in the seeded catalog: input 0.02, cached 0 (free)
NOW = datetime.now(UTC)


def _write_usage(live: Any, rows: list[dict[str, Any]]) -> None:
    with live.app.state.services.session_factory() as session:
        session.connection().execute(insert(UsageRecord.__table__), rows)
        apply_usage_to_rollups(session, rows)
        session.commit()


def _row(
    user_id: str, model: str, created_at: datetime, tokens: tuple[int, int, int], cost: int
) -> dict[str, Any]:
    prompt, cached, completion = tokens
    return {
        "request_id": f"r-{created_at.timestamp()}-{cost}",
        "user_id": user_id,
        "surface": "serverless",
        "model": model,
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "completion_tokens": completion,
        "cost_micros": cost,
        "created_at": created_at,
    }


@pytest.fixture
def signed(control_plane: Any, tmp_path: Path, tm: Invoke) -> dict[str, Any]:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    write_tokens(tmp_path, alice.tokens["access_token"], alice.tokens["refresh_token"])
    (tmp_path / "config.toml").write_text(f'controlplane_base = "{live.base_url}"\n')
    return {"live": live, "alice": alice}


def test_cost_defaults_to_30_days_per_model_with_savings(tm: Invoke, signed: dict[str, Any]) -> None:
    alice = signed["alice"].user_id
    _write_usage(
        signed["live"],
        [
            _row(alice, SMOL, NOW - timedelta(days=2), (1_000_000, 1_000_000, 10), 30_000),
            _row(alice, "other", NOW - timedelta(hours=1), (10, 0, 5), 7),
            _row(alice, SMOL, NOW - timedelta(days=40), (10, 0, 5), 999),
        ],
    )
    result = tm("--output", "json", "cost")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["window"] == "30d"
    assert [m["model"] for m in report["models"]] == [SMOL, "other"]
    smol = report["models"][0]
    assert smol["costUsd"] == "0.03" and smol["savingsUsd"] == "0.02" and smol["cacheHitRate"] == 1.0
    assert report["total"]["requests"] == 2 and report["total"]["costUsd"] == "0.030007"


def test_cost_text_is_yaml_and_table_lists_models(tm: Invoke, signed: dict[str, Any]) -> None:
    _write_usage(signed["live"], [_row(signed["alice"].user_id, "m1", NOW, (4, 1, 2), 3)])
    text = tm("cost", "--window", "24h")
    assert text.exit_code == 0 and yaml.safe_load(text.stdout)["window"] == "24h"
    table = tm("--output", "table", "cost").stdout.splitlines()
    assert table[0].split()[:3] == ["model", "requests", "promptTokens"] and table[2].startswith("m1 ")


def test_cost_month_and_start_end_windows(tm: Invoke, signed: dict[str, Any]) -> None:
    alice = signed["alice"].user_id
    _write_usage(signed["live"], [_row(alice, "m", datetime(2026, 2, 28, 23, 0, tzinfo=UTC), (1, 0, 1), 5)])
    feb = json.loads(tm("--output", "json", "cost", "--month", "2026-02").stdout)
    assert (feb["start"], feb["end"], feb["total"]["costUsd"]) == (
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
        "0.000005",
    )
    span = json.loads(tm("--output", "json", "cost", "--start", "2026-03-01", "--end", "2026-03-02").stdout)
    assert span["models"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "--month must be YYYY-MM"),
        (["--window", "7d", "--month", "2026-01"], "Use only one of"),
        (["--end", "2026-01-01"], "--end needs --start"),
    ],
)
def test_bad_windows_are_usage_errors(
    tm: Invoke, signed: dict[str, Any], args: list[str], message: str
) -> None:
    result = tm("cost", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_server_refuses_a_backwards_window_with_one_line_error(tm: Invoke, signed: dict[str, Any]) -> None:
    result = tm("cost", "--start", "2026-03-02", "--end", "2026-03-01")
    assert result.exit_code == 1
    assert "end must be after start" in result.stderr and "Traceback" not in result.stderr


def test_cost_of_another_user_is_forbidden(tm: Invoke, signed: dict[str, Any]) -> None:
    bob = sign_up(signed["live"], "bob@example.com")
    result = tm("cost", "--user-id", bob.user_id)
    assert result.exit_code == 1 and "403" in result.stderr


ROWS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=72 * 3600),  # seconds before now
        st.sampled_from([SMOL, "m-b", "m-c"]),
        st.integers(0, 5000),
        st.integers(0, 5000),
        st.integers(0, 5000),
        st.integers(0, 10_000),
    ),
    max_size=25,
)
WINDOWS = st.one_of(
    st.sampled_from([{"window": "24h"}, {"window": "7d"}, {"window": "30d"}]),
    st.tuples(st.integers(0, 80 * 3600), st.integers(1, 80 * 3600)).map(
        lambda t: {
            "start": (NOW - timedelta(seconds=t[0] + t[1])).isoformat(),
            "end": (NOW - timedelta(seconds=t[0])).isoformat(),
        }
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=ROWS, window=WINDOWS)
def test_cost_figures_equal_the_sums_of_the_raw_rows(
    signed: dict[str, Any], rows: list[Any], window: dict[str, str]
) -> None:
    live, user = signed["live"], sign_up(signed["live"], f"p{datetime.now().timestamp()}@example.com")
    written = [
        _row(
            user.user_id, model, NOW - timedelta(seconds=ago), (prompt, min(cached, prompt), completion), cost
        )
        for ago, model, prompt, cached, completion, cost in rows
    ]
    if written:
        _write_usage(live, written)
    report = user.client.get("/v1/billing/cost", params=window).json()
    bounds = resolve_window(
        window.get("window"),
        None,
        window.get("start"),
        window.get("end"),
        now=datetime.fromisoformat(report["end"].replace("Z", "+00:00")),
    )
    inside = [r for r in written if bounds.start <= r["created_at"] < bounds.end]
    by_model: dict[str, list[int]] = {}
    for r in inside:
        acc = by_model.setdefault(r["model"], [0, 0, 0, 0, 0, 0])
        saving_rate = 20_000 if r["model"] == SMOL else 0  # input price - cached price, per 1M tokens
        for i, v in enumerate(
            (
                1,
                r["prompt_tokens"],
                r["cached_tokens"],
                r["completion_tokens"],
                r["cost_micros"],
                r["cached_tokens"] * saving_rate,
            )
        ):
            acc[i] += v
    got = {
        m["model"]: [
            m["requests"],
            m["promptTokens"],
            m["cachedTokens"],
            m["completionTokens"],
            round(float(m["costUsd"]) * 1_000_000),
            round(float(m["savingsUsd"]) * 1_000_000),
        ]
        for m in report["models"]
    }
    expected = {model: [*acc[:5], acc[5] // 1_000_000] for model, acc in by_model.items()}
    assert got == expected
