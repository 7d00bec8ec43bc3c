"""Routing knobs shared by the policies: load-guard margin, prefix block size, memory caps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

ENV_PREFIX = "KVMESH_GATEWAY_ROUTING_"


class RoutingSettingError(ValueError):
    """One routing setting is out of range; `key` names it."""

    def __init__(self, key: str, value: object) -> None:
        super().__init__(f"invalid routing setting {key}={value!r}")
        self.key = key


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Tunables for `prefix_aware` and `session_affinity` (the plain policies ignore them).

    `load_margin`: the preferred replica keeps a request unless it has more than this many more
    requests in flight than the least-loaded replica. `block_chars`: prefix block size in characters
    of the rendered prompt (~4 characters per token). `min_match_blocks` / `min_match_ratio`: a
    match shorter than this many blocks, or than this share of the prompt's blocks, counts as no
    match (most of the prompt must be computed anyway, so balance matters more than affinity).
    `index_blocks` / `sessions`: memory caps (LRU entries) for the prefix index and the session
    table. `miss_decay`: confidence multiplier when an engine reports fewer cached tokens
    than predicted; entries under `min_confidence` stop attracting traffic.
    """

    load_margin: int = 2
    block_chars: int = 256
    min_match_blocks: int = 2
    min_match_ratio: float = 0.3
    index_blocks: int = 200_000
    sessions: int = 100_000
    miss_decay: float = 0.5
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        checks = {
            "load_margin": self.load_margin >= 0,
            "block_chars": self.block_chars >= 16,
            "min_match_blocks": self.min_match_blocks >= 1,
            "min_match_ratio": 0.0 <= self.min_match_ratio <= 1.0,
            "index_blocks": self.index_blocks >= 1,
            "sessions": self.sessions >= 1,
            "miss_decay": 0.0 < self.miss_decay < 1.0,
            "min_confidence": 0.0 < self.min_confidence <= 1.0,
        }
        for key, ok in checks.items():
            if not ok:
                raise RoutingSettingError(key, getattr(self, key))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RoutingConfig:
        """Defaults overridden by `KVMESH_GATEWAY_ROUTING_<FIELD>` variables (e.g. ..._LOAD_MARGIN=3)."""
        values: dict[str, int | float] = {}
        for spec in fields(cls):
            name = ENV_PREFIX + spec.name.upper()
            raw = env.get(name, "").strip()
            if not raw:
                continue
            kind = float if spec.type in ("float", float) else int
            try:
                values[spec.name] = kind(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
        try:
            return cls(**values)  # type: ignore[arg-type]
        except RoutingSettingError as exc:
            name = ENV_PREFIX + exc.key.upper()
            raise ValueError(f"{name}={env.get(name, '')!r} is out of range") from None
