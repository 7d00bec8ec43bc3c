"""The engines' typed settings: llama.cpp sizing, controller timing and start timeouts, with their defaults.

Built by the Control Plane from its own settings (`ControlPlaneSettings.engine_settings()`) or by
tests directly; every provider and the controller read these fields, so a misspelt name is a
type error, not a silent fallback to a default. A deployment's `engine_config` overrides the
`llama_*` fields per deployment. `llama_threads` / `llama_ctx_size` of None mean automatic:
threads from the core count, context = min(model context, 2048) x parallel slots.
`kubernetes` configures the Kubernetes provider (kvmesh/engines/kubernetes/) and `controller_election`
how several Control Planes elect the one running the controllers (kvmesh/engines/leader.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_LLAMA_PARALLEL = 4
DEFAULT_KUBERNETES_NAMESPACE = "kvmesh-engines"
DEFAULT_LLAMACPP_IMAGE = "kvmesh/llamacpp-engine:latest"
DEFAULT_VLLM_IMAGE = "vllm/vllm-openai:latest"

ControllerElection = Literal["auto", "lease"]


@dataclass(frozen=True)
class KubernetesSettings:
    """The Kubernetes provider's settings (`kvmesh controlplane serve --kubernetes-*`, `--kubeconfig`).

    `engines_on_kubernetes` makes every llamacpp/vllm deployment run on the cluster (the mode of a
    kvmesh installed in Kubernetes); without it only deployments whose provider is `kubernetes` do.
    An empty `kubeconfig` means the in-cluster service account, else $KUBECONFIG or ~/.kube/config.
    """

    namespace: str = DEFAULT_KUBERNETES_NAMESPACE
    kubeconfig: str = ""
    context: str = ""
    llamacpp_image: str = DEFAULT_LLAMACPP_IMAGE
    vllm_image: str = DEFAULT_VLLM_IMAGE
    engines_on_kubernetes: bool = False
    resync_backoff_s: float = 1.0
    watch_timeout_s: int = 300


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
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)
    controller_election: ControllerElection = "auto"
    controller_election_interval_s: float = 1.0

    @property
    def engines_dir(self) -> Path:
        """Where replica logs go: `<data dir>/engines` (`./.kvmesh-data/engines` without a data dir)."""
        base = self.data_dir if self.data_dir is not None else Path.cwd() / ".kvmesh-data"
        return base / "engines"
