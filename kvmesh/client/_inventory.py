"""Choosing from Control Plane inventory: the served model for `init --sync`/`@latest`, the newest API key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

PROVIDER_LABELS = {
    "CLOUD_PROVIDER_NEBIUS": "nebius",
    "CLOUD_PROVIDER_LAMBDA": "lambda",
    "CLOUD_PROVIDER_YOTTA": "yotta",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FRACTION = re.compile(r"\.(\d+)")


class InventoryError(ValueError):
    """Inventory metadata that cannot be ranked (a bad timestamp)."""


def parse_timestamp(value: Any, field: str) -> datetime:
    """RFC3339 → aware datetime; `Z` accepted, sub-microsecond digits dropped, naive = UTC."""
    if value is None or value == "":
        return EPOCH
    if not isinstance(value, str):
        raise InventoryError(f"{field} must be an RFC3339 string when present.")
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InventoryError(f"{field} must be a valid RFC3339 timestamp.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""


def model_label(record: dict[str, Any]) -> str:
    return _text(record, "modelName") or _text(record, "deploymentId") or _text(record, "modelId")


def served_name(record: dict[str, Any]) -> str:
    """What requests send as `model`: `modelName`, else `deploymentId`."""
    return _text(record, "modelName") or _text(record, "deploymentId")


def pick_served_model(models: Sequence[Any], *, require_api_key: bool) -> dict[str, Any] | None:
    """The newest UP record with a name (and an `apiKey` when required); named records rank first."""
    ranked: list[tuple[tuple[bool, datetime, datetime], int, dict[str, Any]]] = []
    for position, record in enumerate(models):
        if not isinstance(record, dict) or not served_name(record):
            continue
        if record.get("status") != "MODEL_STATUS_UP":
            continue
        if require_api_key and not _text(record, "apiKey"):
            continue
        try:
            key = (
                bool(_text(record, "modelName")),
                parse_timestamp(record.get("updatedAt"), "updatedAt"),
                parse_timestamp(record.get("createdAt"), "createdAt"),
            )
        except InventoryError as exc:
            raise InventoryError(f"model '{model_label(record)}' has invalid metadata: {exc}") from None
        ranked.append((key, position, record))
    if not ranked:
        return None
    ranked.sort(key=lambda item: (item[0], -item[1]), reverse=True)
    return ranked[0][2]


def pick_api_key(keys: Sequence[Any], now: datetime | None = None) -> dict[str, Any] | None:
    """The newest record with an `id`, not deleted and not expired (ties: larger `id` first)."""
    current = now or datetime.now(UTC)
    usable: list[tuple[datetime, str, dict[str, Any]]] = []
    for record in keys:
        if not isinstance(record, dict) or not _text(record, "id"):
            continue
        try:
            if _text(record, "deletedAt"):
                parse_timestamp(record["deletedAt"], "'deletedAt'")
                continue
            expires = record.get("expiresAt")
            if (
                isinstance(expires, str)
                and expires.strip()
                and parse_timestamp(expires, "'expiresAt'") <= current
            ):
                continue
            created = parse_timestamp(record.get("createdAt"), "'createdAt'")
        except InventoryError as exc:
            field = str(exc).split(" ", 1)[0]
            raise InventoryError(
                f"API key metadata field {field} must be a valid RFC3339 timestamp."
            ) from None
        usable.append((created, _text(record, "id"), record))
    if not usable:
        return None
    usable.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return usable[0][2]
