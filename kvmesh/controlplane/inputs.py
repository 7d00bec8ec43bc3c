"""Input types for CP routes: text that can be stored on any backend.

PostgreSQL refuses NUL, and a lone UTF-16 surrogate (JSON `"\\ud800"`) cannot be encoded as UTF-8 by
any driver: both are refused at the edge with a 422 naming the field, never a 500 from the store.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, Field

_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if _SURROGATE.search(value):
        raise ValueError("must not contain unpaired UTF-16 surrogates")
    return value


def _storable_json(value: Any, depth: int = 0) -> Any:
    """Every key and string of a JSON value passes `_no_nul`."""
    if depth > 64:
        raise ValueError("is nested too deeply")
    if isinstance(value, str):
        return _no_nul(value)
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(str(key))
            _storable_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item, depth + 1)
    return value


SafeText = Annotated[str, AfterValidator(_no_nul), Field(max_length=4000)]
"""Free text (names, descriptions, filters): at most 4000 characters, no NUL."""

ShortText = Annotated[str, AfterValidator(_no_nul), Field(max_length=200)]
"""An identifier-like string (ids, model names, enums): at most 200 characters, no NUL."""

JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
"""A free-form JSON object (engine config, model spec) whose keys and strings can be stored."""

UserIdQuery = Annotated[
    str | None,
    Query(max_length=200, description="Must be your own user id unless you are an admin"),
]
"""The reference client's `userId` query parameter."""

PageSizeQuery = Annotated[int, Query(ge=1, le=500, description="Items per page")]

PageNumberQuery = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")]
"""The numbered-paging `page` parameter (activities, tickets, admin lists)."""
