"""Kubernetes provider settings and the API client: in-cluster service account or a kubeconfig file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SERVICE_ACCOUNT

from kvmesh.engines.provider import setting

PROVIDER = "kubernetes"
DEFAULT_NAMESPACE = "kvmesh-engines"
DEFAULT_LLAMACPP_IMAGE = "kvmesh/llamacpp-engine:latest"
DEFAULT_VLLM_IMAGE = "vllm/vllm-openai:latest"
FIELD_MANAGER = "kvmesh-controlplane"


class KubernetesConfigError(RuntimeError):
    """No usable cluster configuration (neither in-cluster nor a kubeconfig)."""


@dataclass(frozen=True)
class KubernetesSettings:
    """What the provider needs; read from the Control Plane settings (`kubernetes_*` fields).

    `engines_on_kubernetes` makes every llamacpp/vllm deployment run on the cluster (the mode of a
    kvmesh installed in Kubernetes); without it only deployments whose provider is `kubernetes` do.
    """

    namespace: str = DEFAULT_NAMESPACE
    kubeconfig: str = ""
    context: str = ""
    llamacpp_image: str = DEFAULT_LLAMACPP_IMAGE
    vllm_image: str = DEFAULT_VLLM_IMAGE
    engines_on_kubernetes: bool = False
    poll_interval_s: float = 2.0
    resync_backoff_s: float = 1.0
    watch_timeout_s: int = 300

    @classmethod
    def from_settings(cls, settings: object) -> KubernetesSettings:
        return cls(
            namespace=str(setting(settings, "kubernetes_namespace", "") or DEFAULT_NAMESPACE),
            kubeconfig=str(setting(settings, "kubernetes_kubeconfig", "") or ""),
            context=str(setting(settings, "kubernetes_context", "") or ""),
            llamacpp_image=str(setting(settings, "kubernetes_llamacpp_image", "") or DEFAULT_LLAMACPP_IMAGE),
            vllm_image=str(setting(settings, "kubernetes_vllm_image", "") or DEFAULT_VLLM_IMAGE),
            engines_on_kubernetes=bool(setting(settings, "kubernetes_engines", False)),
            poll_interval_s=float(setting(settings, "engine_poll_interval_s", 2.0)),
            resync_backoff_s=float(setting(settings, "kubernetes_resync_backoff_s", 1.0)),
            watch_timeout_s=int(setting(settings, "kubernetes_watch_timeout_s", 300)),
        )

    @property
    def enabled(self) -> bool:
        """Whether this Control Plane drives a cluster at all (a kubeconfig, or running inside one)."""
        return bool(self.kubeconfig) or self.engines_on_kubernetes or in_cluster()


def in_cluster(service_account: str | Path = SERVICE_ACCOUNT) -> bool:
    return (Path(service_account) / "token").is_file()


def load_kubeconfig(settings: KubernetesSettings) -> KubeConfig:
    """An explicit kubeconfig file wins; else the in-cluster service account; else $KUBECONFIG/~/.kube."""
    try:
        if settings.kubeconfig:
            return KubeConfig.from_file(settings.kubeconfig)
        return KubeConfig.from_env()
    except Exception as exc:  # lightkube raises ConfigError, OSError or YAML errors here
        raise KubernetesConfigError(f"cannot load a Kubernetes configuration: {exc}") from exc


def make_client(settings: KubernetesSettings) -> AsyncClient:
    config = load_kubeconfig(settings)
    try:
        single = config.get(context_name=settings.context or None)
    except Exception as exc:
        raise KubernetesConfigError(f"kubeconfig context {settings.context!r}: {exc}") from exc
    return AsyncClient(single, namespace=settings.namespace, field_manager=FIELD_MANAGER)
