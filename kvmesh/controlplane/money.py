"""Exact conversions between integer micro-units of USD, wire `Money` objects and decimal strings.

The store keeps every amount as an integer number of micro-dollars (1 USD = 1_000_000). On the
wire an amount is Google's `Money`: `{"currencyCode": "USD", "units": "<int as string>", "nanos":
<int>}` where `units` and `nanos` carry the same sign and `nanos` is in (-1e9, 1e9). Nothing here
ever goes through a float: decimal text is parsed with `Decimal` and must be exact to the micro.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

CURRENCY = "USD"
MICROS_PER_UNIT = 1_000_000
NANOS_PER_MICRO = 1_000
NANOS_PER_UNIT = 1_000_000_000


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in micro-units (message names the problem)."""


def micros_to_money(micros: int, currency: str = CURRENCY) -> dict[str, Any]:
    """Integer micro-units → wire Money; units truncate toward zero so units and nanos share a sign."""
    sign = -1 if micros < 0 else 1
    whole, fraction = divmod(abs(micros), MICROS_PER_UNIT)
    return {
        "currencyCode": currency,
        "units": str(sign * whole),
        "nanos": sign * fraction * NANOS_PER_MICRO,
    }


def money_to_micros(money: Mapping[str, Any]) -> int:
    """Wire Money → integer micro-units. `units` may be a string or an int; the currency must be USD."""
    currency = money.get("currencyCode") or CURRENCY
    if currency != CURRENCY:
        raise MoneyError(f"unsupported currency {currency!r}; only {CURRENCY} is accepted")
    units_raw = money.get("units", 0)
    nanos = money.get("nanos", 0)
    if units_raw is None:
        units_raw = 0
    if nanos is None:
        nanos = 0
    if isinstance(units_raw, bool) or not isinstance(units_raw, int | str):
        raise MoneyError("money units must be an integer or a string of digits")
    if isinstance(nanos, bool) or not isinstance(nanos, int):
        raise MoneyError("money nanos must be an integer")
    try:
        units = int(units_raw)
    except ValueError:
        raise MoneyError(f"money units must be an integer, got {units_raw!r}") from None
    if not -NANOS_PER_UNIT < nanos < NANOS_PER_UNIT:
        raise MoneyError("money nanos must be between -999999999 and 999999999")
    if (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        raise MoneyError("money units and nanos must have the same sign")
    if nanos % NANOS_PER_MICRO:
        raise MoneyError("money nanos must be a whole number of micro-units (a multiple of 1000)")
    return units * MICROS_PER_UNIT + nanos // NANOS_PER_MICRO  # exact: nanos is a multiple of 1000


def decimal_to_micros(text: str | int | Decimal) -> int:
    """Decimal USD text such as "0.02" or "-1.5" → micro-units; more than 6 decimal places is an error."""
    if isinstance(text, bool):
        raise MoneyError("amount must be a number, not a boolean")
    try:
        value = Decimal(text.strip() if isinstance(text, str) else text)
    except InvalidOperation:
        raise MoneyError(f"amount {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise MoneyError(f"amount {text!r} is not a finite number")
    scaled = value * MICROS_PER_UNIT
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"amount {text!r} has more than 6 decimal places")
    return int(scaled)


def micros_to_decimal(micros: int) -> str:
    """Micro-units → the shortest exact decimal string ("0.02", "-1.5", "3")."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), MICROS_PER_UNIT)
    if not fraction:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:06d}".rstrip("0")


def amount_to_micros(amount: object) -> int:
    """Any accepted amount form → micro-units: a Money mapping, decimal text, an int, or a JSON number.

    JSON numbers arrive as Python floats; they are read through their shortest round-trip text
    (`repr`), which is the text the client sent for any amount written with 15 significant
    digits or fewer, so `10.1` means exactly 10.1 USD.
    """
    if isinstance(amount, Mapping):
        return money_to_micros(amount)
    if isinstance(amount, float):
        return decimal_to_micros(repr(amount))
    if isinstance(amount, str | int | Decimal):
        return decimal_to_micros(amount)
    raise MoneyError("amount must be a Money object, a decimal string or a number")
