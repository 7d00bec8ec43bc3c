"""Replica candidates for policy tests: an id and an in-flight count the test sets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Candidate:
    id: str
    outstanding: int = 0
