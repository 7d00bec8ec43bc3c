"""RFC 3339 timestamps on the wire: always UTC with a `Z` suffix, parsed leniently from clients."""

from __future__ import annotations

from datetime import UTC, datetime


def format_rfc3339(moment: datetime | None) -> str | None:
    """`2026-11-25T00:23:43.781069Z` (fraction omitted when zero); naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse `...Z`, `...+hh:mm` or a naive (UTC) ISO timestamp; raises ValueError with a clear message."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{text!r} is out of range (years 1-9999 in UTC)") from None
