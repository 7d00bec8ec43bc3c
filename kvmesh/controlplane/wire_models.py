"""Shared wire shapes of the CP record routes: the documented error body and the empty result."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorBody(BaseModel):
    """`{"error": {"message", "type", "code"}}` — the one error shape of both servers."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for a route; 422 replaces FastAPI's default validation schema."""
    wanted = {400, 401, 403, 404, 409, 422, *statuses}
    return {status: {"model": ErrorBody, "description": "error"} for status in sorted(wanted)}


class EmptyResult(BaseModel):
    """`{"empty": {}}`: what deletes return (the reference SDK accepts it for every delete)."""

    empty: dict[str, Any] = Field(default_factory=dict)
