"""The Kubernetes API client (in-cluster service account or a kubeconfig file); whether a cluster is used."""

from __future__ import annotations

from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SERVICE_ACCOUNT

from kvmesh.engines.settings import KubernetesSettings

PROVIDER = "kubernetes"
FIELD_MANAGER = "kvmesh-controlplane"


class KubernetesConfigError(RuntimeError):
    """No usable cluster configuration (neither in-cluster nor a kubeconfig)."""


def drives_cluster(settings: KubernetesSettings) -> bool:
    """Whether this Control Plane drives a cluster at all (a kubeconfig, or running inside one)."""
    return bool(settings.kubeconfig) or settings.engines_on_kubernetes or in_cluster()


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
