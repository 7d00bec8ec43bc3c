"""The engines' typed settings: llama.cpp sizing, controller timing and start timeouts, with their defaults.

Built by the Control Plane from its own settings (`ControlPlaneSettings.engine_settings()`) or by
tests directly; every provider and the controller read these fields, so a misspelt name is a
type error, not a silent fallback to a default. A deployment's `engine_config` overrides the
`llama_*` fields per deployment. `llama_threads` / `llama_ctx_size` of None mean automatic:
threads from the core count, context = min(model context, 2048) x parallel slots.
`upstream_allowlist`: networks/hosts users' external deployments may reach although the upstream
address policy (kvmesh/engines/upstream_policy.py) refuses them; the Control Plane copies its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_LLAMA_PARALLEL = 4


@dataclass(frozen=True)
class EngineSettings:
    """Everything engine providers and the deployment controller are configured with."""

    data_dir: Path | None = None
    llama_threads: int | None = None
    llama_parallel: int = DEFAULT_LLAMA_PARALLEL
    llama_ctx_size: int | None = None
    engine_poll_interval_s: float = 2.0
    engine_health_interval_s: float = 5.0
    engine_restart_backoff_s: float = 1.0
    engine_restart_backoff_cap_s: float = 60.0
    engine_unhealthy_threshold: int = 3
    engine_start_timeout_s: float = 120.0
    vllm_start_timeout_s: float = 900.0
    upstream_allowlist: tuple[str, ...] = ()

    @property
    def engines_dir(self) -> Path:
        """Where replica logs go: `<data dir>/engines` (`./.kvmesh-data/engines` without a data dir)."""
        base = self.data_dir if self.data_dir is not None else Path.cwd() / ".kvmesh-data"
        return base / "engines"
