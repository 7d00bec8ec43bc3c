"""Redaction of secrets for display: config values and HTTP headers in debug lines."""

from __future__ import annotations

from collections.abc import Mapping

_SECRET_HEADER_PARTS = ("api-key", "apikey", "token", "secret", "password")


def redact_secret(value: str | None) -> str | None:
    """None or blank -> None; 8 characters or fewer -> `***`; else first 4 + `...` + last 4."""
    if value is None:
        return None
    stripped = value.strip()
    if not stripped:
        return None
    if len(stripped) <= 8:
        return "***"
    return f"{stripped[:4]}...{stripped[-4:]}"


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Hide credentials: `Bearer x` -> `Bearer ***`, other auth/cookie and secret-named headers -> `***`."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "authorization" and value.lower().startswith("bearer "):
            redacted[name] = "Bearer ***"
        elif lowered in ("authorization", "cookie", "set-cookie") or any(
            part in lowered for part in _SECRET_HEADER_PARTS
        ):
            redacted[name] = "***"
        else:
            redacted[name] = value
    return redacted
