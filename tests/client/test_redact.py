"""Secret redaction (protocol.md §1.6, §1.8)."""

from __future__ import annotations

import pytest

from kvmesh.client import redact_headers, redact_secret


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("12345678", "***"),
        ("sk-model-new", "sk-m...-new"),
        ("  tmk_abcdefghij  ", "tmk_...ghij"),
    ],
)
def test_redact_secret(value: str | None, shown: str | None) -> None:
    assert redact_secret(value) == shown


def test_bearer_authorization_keeps_the_scheme() -> None:
    assert redact_headers({"Authorization": "Bearer at-1"}) == {"Authorization": "Bearer ***"}


def test_other_credentials_are_fully_hidden() -> None:
    headers = {
        "Authorization": "Basic abc",
        "Cookie": "a=b",
        "X-Api-Key": "k",
        "x-refresh-token": "t",
        "X-Client-Secret": "s",
        "X-Password": "p",
        "X-User-Id": "u",
        "Content-Type": "application/json",
    }
    assert redact_headers(headers) == {
        "Authorization": "***",
        "Cookie": "***",
        "X-Api-Key": "***",
        "x-refresh-token": "***",
        "X-Client-Secret": "***",
        "X-Password": "***",
        "X-User-Id": "u",
        "Content-Type": "application/json",
    }
