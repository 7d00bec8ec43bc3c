"""The Kubernetes objects one kvmesh deployment becomes: a Deployment running the engine and a Service.

engine_config keys read here (all optional): `engine` (llamacpp | vllm, for provider `kubernetes`),
`image`, `model_path` (GGUF path inside the llama.cpp image), `resources` ({"requests": {...},
"limits": {...}} as in a pod spec), `gpu_count` (nvidia.com/gpu per pod), `node_selector`,
`tolerations`, plus the llama.cpp / vLLM keys the local providers read (threads, parallel, ctx_size,
lmcache, tensor_parallel_size, max_model_len, extra_args …).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kvmesh.engines.llamacpp import llama_server_args
from kvmesh.engines.provider import ReplicaSpec
from kvmesh.engines.settings import EngineSettings, KubernetesSettings
from kvmesh.engines.vllm import vllm_command

ENGINE_PORT = 8080
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "kvmesh"
DEPLOYMENT_ID = "kvmesh.dev/deployment-id"
ENGINE = "kvmesh.dev/engine"
DEFAULT_MODEL_PATH = "/models/model.gguf"
ENGINES = ("llamacpp", "vllm")

Manifest = dict[str, Any]


def workload_name(deployment_id: str) -> str:
    """`kvm-<deployment id>`: 40 characters, a valid DNS-1123 name that leaves room for pod suffixes."""
    return f"kvm-{deployment_id}".lower()


def selector_labels(deployment_id: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGED_BY_VALUE, DEPLOYMENT_ID: deployment_id}


def engine_of(provider: str, spec: ReplicaSpec) -> str:
    """llamacpp or vllm: the provider itself, or engine_config.engine for provider `kubernetes`."""
    if provider in ENGINES:
        return provider
    engine = str(spec.engine_config.get("engine", "llamacpp"))
    if engine not in ENGINES:
        raise ValueError(f"engineConfig.engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


def _pod_host(argv: list[str]) -> list[str]:
    """Listen on every pod address, not loopback (kubelet probes and the Gateway come from outside)."""
    out = list(argv)
    for index, arg in enumerate(out[:-1]):
        if arg == "--host":
            out[index + 1] = "0.0.0.0"
    return out


def engine_container(engine: str, spec: ReplicaSpec, settings: KubernetesSettings) -> Manifest:
    config = spec.engine_config
    env: dict[str, str] = {}
    if engine == "llamacpp":
        model = Path(str(config.get("model_path", DEFAULT_MODEL_PATH)))
        # Sized for the pod (engine_config and engine defaults), not for the Control Plane's host.
        pod_settings = EngineSettings(llama_threads=int(config.get("threads", 2)))
        argv = llama_server_args(Path("llama-server"), model, ENGINE_PORT, spec, pod_settings)
        image = str(config.get("image") or settings.llamacpp_image)
    else:
        argv, env = vllm_command(spec, ENGINE_PORT)
        env.pop("CUDA_VISIBLE_DEVICES", None)  # the device plugin assigns GPUs in a pod
        image = str(config.get("image") or settings.vllm_image)
    argv = _pod_host(argv)
    resources = _resources(engine, config)
    slow_start = engine == "vllm"
    container: Manifest = {
        "name": "engine",
        "image": image,
        "command": argv[:2] if engine == "vllm" else argv[:1],
        "args": argv[2:] if engine == "vllm" else argv[1:],
        "ports": [{"name": "http", "containerPort": ENGINE_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe(period=5, failures=3),
        "livenessProbe": _probe(period=10, failures=6),
        "startupProbe": _probe(period=10, failures=90 if slow_start else 30),
        "resources": resources,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    return container


def _probe(period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _resources(engine: str, config: Any) -> Manifest:
    given = config.get("resources") or {}
    requests = dict(given.get("requests") or {"cpu": "1", "memory": "1Gi"})
    limits = dict(given.get("limits") or {"memory": "4Gi"})
    default_gpus = int(config.get("tensor_parallel_size", 1)) if engine == "vllm" else 0
    gpus = int(config.get("gpu_count", default_gpus))
    if gpus > 0:
        limits["nvidia.com/gpu"] = str(gpus)
        requests["nvidia.com/gpu"] = str(gpus)
    return {
        "requests": {k: str(v) for k, v in requests.items()},
        "limits": {k: str(v) for k, v in limits.items()},
    }


def deployment_manifest(
    spec: ReplicaSpec, provider: str, replicas: int, settings: KubernetesSettings
) -> Manifest:
    engine = engine_of(provider, spec)
    name = workload_name(spec.deployment_id)
    labels = {
        **selector_labels(spec.deployment_id),
        "app.kubernetes.io/name": "kvmesh-engine",
        "app.kubernetes.io/component": "engine",
        ENGINE: engine,
    }
    pod_spec: Manifest = {
        "containers": [engine_container(engine, spec, settings)],
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 30,
    }
    if spec.engine_config.get("node_selector"):
        pod_spec["nodeSelector"] = dict(spec.engine_config["node_selector"])
    if spec.engine_config.get("tolerations"):
        pod_spec["tolerations"] = list(spec.engine_config["tolerations"])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": {"kvmesh.dev/served-name": spec.served_name},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(spec.deployment_id)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def service_manifest(spec: ReplicaSpec, settings: KubernetesSettings) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": workload_name(spec.deployment_id),
            "namespace": settings.namespace,
            "labels": selector_labels(spec.deployment_id),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec.deployment_id),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
