"""The routing policy interface: one frozen request description + candidate replicas -> one choice.

Every policy implements the same three synchronous, I/O-free methods, so callers never dispatch on
the policy's type: `choose` picks a replica, `observe` feeds back what the engine reported for the
answer (`cached_tokens`), and `forget` drops a replica that was ejected, became not ready or was
removed, so it stops attracting traffic at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What a policy may look at; built once per request before choosing (see `describe.py`).

    `prefix_blocks` is the hash chain over fixed-size blocks of the rendered prompt (block i's hash
    covers blocks 0..i); `prompt_chars` is the rendered prompt's length, used to turn an engine's
    `cached_tokens` back into blocks. `members` are the ids of the deployment's ready replicas.
    """

    deployment_id: str
    model: str
    endpoint: str
    session_key: str | None = None
    policy: str = ""
    prefix_blocks: tuple[int, ...] = ()
    prompt_chars: int = 0
    members: tuple[str, ...] = ()


class ReplicaCandidate(Protocol):
    """A replica as policies see it: identity and in-memory load, nothing that needs I/O."""

    @property
    def id(self) -> str: ...

    @property
    def outstanding(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Choice:
    """A policy's decision: the replica, how many prompt blocks it is predicted to hold, and why.

    `reason` is one of: `policy` (the plain policy's pick), `match` (longest prefix / session
    owner), and the fallbacks `no_match`, `short_match`, `no_session`, `load_guard`.
    """

    replica: ReplicaCandidate
    reason: str = "policy"
    predicted_blocks: int = 0


FALLBACK_REASONS = ("no_match", "short_match", "no_session", "load_guard")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came back from the replica: success and the usage numbers the engine reported."""

    ok: bool
    prompt_tokens: int = 0
    cached_tokens: int = 0


class EngineCacheState(Protocol):
    """Engine-reported cache contents (e.g. a vLLM KV-events feed): the "precise" input.

    `matched_blocks` returns how many leading blocks of `block_hashes` the replica reports holding,
    or None when it has no report for that replica (the policy then uses its own index).
    """

    def matched_blocks(self, replica_id: str, block_hashes: Sequence[int]) -> int | None: ...


class RoutingPolicy(Protocol):
    """Synchronous and I/O-free for every implementation; `replicas` is never empty."""

    def choose(
        self,
        request: RouteRequest,
        replicas: Sequence[ReplicaCandidate],
        engine_cache: EngineCacheState | None = None,
    ) -> Choice: ...

    def observe(self, request: RouteRequest, choice: Choice, outcome: Outcome) -> None: ...

    def forget(self, replica_id: str) -> None: ...
