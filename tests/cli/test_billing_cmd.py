"""`tm billing ...`: the Control Plane body in every --output format, filters as query parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tm_harness import Invoke, signed_in
from tm_standin import Standin

pytest_plugins = ("tm_fixtures",)

PRICING = [
    {
        "id": "p-1",
        "name": "SmolLM2",
        "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "inputTokenPrice": {"currencyCode": "USD", "units": "0", "nanos": 200000000},
        "isActive": True,
    },
    {"id": "p-2", "name": "Old", "model": "old/model", "isActive": False},
]


@pytest.fixture
def priced(standin: Standin, tmp_path: Path) -> Standin:
    signed_in(tmp_path, standin)
    standin.state.pricing[:] = PRICING
    return standin


def test_serverless_pricing_text_is_yaml(tm: Invoke, priced: Standin) -> None:
    result = tm("billing", "pricing", "serverless", "list")
    assert result.exit_code == 0
    assert result.stdout.startswith("pricing:\n- id: p-1\n  name: SmolLM2\n")
    assert "    units: '0'\n" in result.stdout


def test_serverless_pricing_json_and_raw(tm: Invoke, priced: Standin) -> None:
    assert json.loads(tm("--output", "json", "billing", "pricing", "serverless", "list").stdout) == {
        "pricing": PRICING
    }
    raw = tm("--output", "raw", "billing", "pricing", "serverless", "list").stdout
    assert json.loads(raw) == {"pricing": PRICING}


def test_serverless_pricing_table_has_union_columns(tm: Invoke, priced: Standin) -> None:
    lines = tm("--output", "table", "billing", "pricing", "serverless", "list").stdout.splitlines()
    assert lines[0].split() == ["id", "name", "model", "inputTokenPrice", "isActive"]
    assert lines[3].startswith("p-2  Old")


def test_filters_become_query_parameters(tm: Invoke, priced: Standin) -> None:
    result = tm(
        "--output", "json", "billing", "pricing", "serverless", "list", "--active-only", "--model", "x"
    )
    assert json.loads(result.stdout) == {"pricing": []}
    assert priced.state.requests[-1]["query"] == {"model": "x", "activeOnly": "true"}


def test_pricing_without_token_is_a_usage_error(tm: Invoke) -> None:
    result = tm("billing", "pricing", "serverless", "list")
    assert result.exit_code == 2
    assert "No control plane access token found. Run `tm auth login` first." in result.stderr


def test_revoked_token_shows_login_hint(tm: Invoke, priced: Standin) -> None:
    priced.state.access_tokens.clear()
    priced.state.refresh_tokens.clear()
    result = tm("billing", "balance")
    assert result.exit_code == 1
    assert "Hint: run `tm auth login` to authenticate to the control plane." in result.stderr


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (("billing", "balance"), "balance:"),
        (("billing", "pricing", "list"), "pricing:"),
        (("billing", "transactions", "list"), "transactions: []"),
        (("billing", "spending", "summary"), "spend24h:"),
        (("billing", "spending", "history"), "buckets: []"),
        (("billing", "usage"), "usage: []"),
    ],
)
def test_other_billing_commands_print_the_body(
    tm: Invoke, priced: Standin, args: tuple[str, ...], first_line: str
) -> None:
    result = tm(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == first_line
