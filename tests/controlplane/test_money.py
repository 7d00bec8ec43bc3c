"""Money conversions are exact: integer micro-units ↔ Google Money ↔ decimal text, never through float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kvmesh.controlplane.money import (
    MoneyError,
    amount_to_micros,
    decimal_to_micros,
    micros_to_decimal,
    micros_to_money,
    money_to_micros,
)


@pytest.mark.parametrize(
    ("micros", "units", "nanos"),
    [
        (0, "0", 0),
        (20_000, "0", 20_000_000),
        (1_000_000, "1", 0),
        (1_500_000, "1", 500_000_000),
        (-1_500_000, "-1", -500_000_000),
        (-1, "0", -1_000),
        (123_456_789_012_345, "123456789", 12_345_000),
    ],
)
def test_micros_become_money_with_units_and_nanos_of_one_sign(micros: int, units: str, nanos: int) -> None:
    assert micros_to_money(micros) == {"currencyCode": "USD", "units": units, "nanos": nanos}
    assert money_to_micros(micros_to_money(micros)) == micros


def test_money_round_trips_for_every_micro_in_a_range() -> None:
    for micros in range(-3_000_123, 3_000_123, 9_973):
        assert money_to_micros(micros_to_money(micros)) == micros
        assert decimal_to_micros(micros_to_decimal(micros)) == micros


def test_money_accepts_integer_units_and_missing_fields() -> None:
    assert money_to_micros({"units": 2}) == 2_000_000
    assert money_to_micros({"nanos": 250_000_000}) == 250_000
    assert money_to_micros({"currencyCode": "USD", "units": "-3", "nanos": 0}) == -3_000_000


@pytest.mark.parametrize(
    ("money", "problem"),
    [
        ({"units": "1", "nanos": -5_000}, "same sign"),
        ({"units": "1", "nanos": 1}, "multiple of 1000"),
        ({"units": "1", "nanos": 1_000_000_000}, "between"),
        ({"units": "x"}, "integer"),
        ({"units": 1.5}, "integer or a string"),
        ({"units": "1", "currencyCode": "EUR"}, "only USD"),
    ],
)
def test_inexact_or_malformed_money_is_refused(money: dict[str, object], problem: str) -> None:
    with pytest.raises(MoneyError, match=problem):
        money_to_micros(money)


@pytest.mark.parametrize(
    ("text", "micros"),
    [("0.02", 20_000), ("1", 1_000_000), ("-1.5", -1_500_000), ("0.000001", 1), ("  2.10 ", 2_100_000)],
)
def test_decimal_text_converts_exactly(text: str, micros: int) -> None:
    assert decimal_to_micros(text) == micros


@pytest.mark.parametrize("text", ["0.0000001", "abc", "NaN", "Infinity", ""])
def test_decimal_text_beyond_micro_precision_or_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(MoneyError):
        decimal_to_micros(text)


def test_decimal_strings_are_shortest_exact_forms() -> None:
    assert micros_to_decimal(20_000) == "0.02"
    assert micros_to_decimal(-1_500_000) == "-1.5"
    assert micros_to_decimal(3_000_000) == "3"
    assert micros_to_decimal(1) == "0.000001"


def test_json_numbers_are_read_through_their_text_not_binary_float() -> None:
    assert amount_to_micros(10.1) == 10_100_000
    assert amount_to_micros(0.3) == 300_000
    assert amount_to_micros(7) == 7_000_000
    assert amount_to_micros("12.50") == 12_500_000
    assert amount_to_micros(Decimal("0.02")) == 20_000
    assert amount_to_micros({"units": "5", "nanos": 10_000_000}) == 5_010_000
    with pytest.raises(MoneyError):
        amount_to_micros(True)
    with pytest.raises(MoneyError):
        amount_to_micros([1])
