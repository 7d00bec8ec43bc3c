"""Input types for CP routes: text that can be stored on any backend (PostgreSQL refuses NUL)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, Field


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


SafeText = Annotated[str, AfterValidator(_no_nul), Field(max_length=4000)]
"""Free text (names, descriptions, filters): at most 4000 characters, no NUL."""

ShortText = Annotated[str, AfterValidator(_no_nul), Field(max_length=200)]
"""An identifier-like string (ids, model names, enums): at most 200 characters, no NUL."""

UserIdQuery = Annotated[
    str | None,
    Query(max_length=200, description="Must be your own user id unless you are an admin"),
]
"""The reference client's `userId` query parameter."""

PageSizeQuery = Annotated[int, Query(ge=1, le=500, description="Items per page")]

PageNumberQuery = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")]
"""The numbered-paging `page` parameter (activities, tickets, admin lists)."""
