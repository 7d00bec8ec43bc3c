"""The global output renderer, checked against the reference client's observed bytes (protocol.md §6)."""

from __future__ import annotations

import json

import pytest

from kvmesh.cli._render import render

PRICING = {
    "pricing": [
        {
            "id": "p-1",
            "name": "Qwen3 Coder",
            "model": "Qwen/Qwen3-Coder",
            "inputTokenPrice": {"currencyCode": "USD", "units": "0", "nanos": 200000000},
            "outputTokenPrice": {"currencyCode": "USD", "units": "1", "nanos": 0},
            "isActive": True,
        },
        {"id": "p-2", "name": "MiniMax", "model": "MiniMaxAI/MiniMax-M2.5", "isActive": False},
    ]
}


def test_text_is_block_yaml_with_quoted_numeric_strings() -> None:
    assert render(PRICING, "text") == (
        "pricing:\n"
        "- id: p-1\n"
        "  name: Qwen3 Coder\n"
        "  model: Qwen/Qwen3-Coder\n"
        "  inputTokenPrice:\n"
        "    currencyCode: USD\n"
        "    units: '0'\n"
        "    nanos: 200000000\n"
        "  outputTokenPrice:\n"
        "    currencyCode: USD\n"
        "    units: '1'\n"
        "    nanos: 0\n"
        "  isActive: true\n"
        "- id: p-2\n"
        "  name: MiniMax\n"
        "  model: MiniMaxAI/MiniMax-M2.5\n"
        "  isActive: false\n"
    )


def test_yaml_escapes_non_ascii_like_safe_dump() -> None:
    assert render({"name": "café"}, "yaml") == 'name: "caf\\xE9"\n'


def test_json_is_two_space_in_original_order_with_unicode_kept() -> None:
    assert render({"b": 1, "a": "é"}, "json") == '{\n  "b": 1,\n  "a": "é"\n}\n'


def test_raw_prints_the_body_verbatim_or_compact_json() -> None:
    assert render({"a": 1}, "raw", raw_text='{"a":1}') == '{"a":1}\n'
    assert render({"a": [1, 2]}, "raw") == '{"a": [1, 2]}\n'
    assert render(None, "raw") == "\n"


def test_table_matches_the_reference_layout() -> None:
    assert render(PRICING, "table").splitlines() == [
        "id   name         model                   inputTokenPrice                                   "
        "outputTokenPrice                                  isActive",
        "---  -----------  ----------------------  ------------------------------------------------  "
        "------------------------------------------------  --------",
        'p-1  Qwen3 Coder  Qwen/Qwen3-Coder        {"currencyCode": "USD", "units": "0", "nanos": …  '
        '{"currencyCode": "USD", "units": "1", "nanos": …  True    ',
        "p-2  MiniMax      MiniMaxAI/MiniMax-M2.5                                                    "
        "                                                  False   ",
    ]


def test_table_of_empty_list_prints_nothing() -> None:
    assert render({"pricing": []}, "table") == ""


def test_table_picks_the_first_known_list_key() -> None:
    data = {"apiKeys": [{"id": "k"}], "models": [{"modelName": "m"}]}
    assert render(data, "table") == "modelName\n---------\nm        \n"


def test_table_of_a_plain_object_is_key_value_rows() -> None:
    assert render({"a": 1, "bb": None}, "table") == "key  value\n---  -----\na    1    \nbb        \n"


def test_format_name_is_case_insensitive() -> None:
    assert json.loads(render({"a": 1}, "JSON")) == {"a": 1}


def test_unknown_format_is_an_error() -> None:
    import click

    with pytest.raises(click.ClickException):
        render({}, "xml")
