"""The Deployment and Service a kvmesh deployment becomes: engine args, GPUs, probes, labels, schema."""

from __future__ import annotations

import kubernetes_validate
import pytest

from kvmesh.engines.kubernetes.manifests import (
    DEPLOYMENT_ID,
    deployment_manifest,
    engine_of,
    service_manifest,
)
from kvmesh.engines.provider import ReplicaSpec
from kvmesh.engines.settings import KubernetesSettings

SETTINGS = KubernetesSettings(namespace="engines", llamacpp_image="reg/llama:1", vllm_image="reg/vllm:2")
DEPLOYMENT = "3f1c2b9e-0000-4000-8000-000000000001"


def spec(**config: object) -> ReplicaSpec:
    return ReplicaSpec(
        deployment_id=DEPLOYMENT, served_name="qwen", model_source="Qwen/Qwen2.5-0.5B", engine_config=config
    )


def container(manifest: dict[str, object]) -> dict[str, object]:
    return manifest["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index,no-any-return]


def test_vllm_pod_gets_gpus_lmcache_and_serves_on_all_addresses() -> None:
    manifest = deployment_manifest(spec(lmcache={"cpu_offload_gb": 20}, gpu_count=2), "vllm", 3, SETTINGS)
    engine = container(manifest)
    assert engine["image"] == "reg/vllm:2"
    assert engine["command"] == ["vllm", "serve"]
    args = engine["args"]
    assert args[0] == "Qwen/Qwen2.5-0.5B" and args[args.index("--host") + 1] == "0.0.0.0"
    assert "--kv-transfer-config" in args and "--enable-prefix-caching" in args
    env = {e["name"]: e["value"] for e in engine["env"]}
    assert env["LMCACHE_MAX_LOCAL_CPU_SIZE"] == "20" and "CUDA_VISIBLE_DEVICES" not in env
    assert engine["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert manifest["spec"]["replicas"] == 3


def test_llamacpp_pod_runs_the_baked_in_model_without_gpus() -> None:
    engine = container(deployment_manifest(spec(engine="llamacpp", threads=4), "kubernetes", 1, SETTINGS))
    assert engine["image"] == "reg/llama:1"
    assert engine["command"] == ["llama-server"]
    args = engine["args"]
    assert args[args.index("--model") + 1] == "/models/model.gguf"
    assert args[args.index("--threads") + 1] == "4" and args[args.index("--alias") + 1] == "qwen"
    assert "nvidia.com/gpu" not in engine["resources"]["limits"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert engine[probe]["httpGet"] == {"path": "/health", "port": "http"}


def test_pods_and_service_select_by_the_deployment_id() -> None:
    manifest = deployment_manifest(spec(), "llamacpp", 1, SETTINGS)
    service = service_manifest(spec(), SETTINGS)
    selector = manifest["spec"]["selector"]["matchLabels"]
    assert selector[DEPLOYMENT_ID] == DEPLOYMENT
    assert service["spec"]["selector"] == selector
    assert selector.items() <= manifest["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("provider", ["llamacpp", "vllm"])
def test_manifests_validate_against_the_api_schema(provider: str) -> None:
    for manifest in (
        deployment_manifest(spec(gpu_count=1), provider, 2, SETTINGS),
        service_manifest(spec(), SETTINGS),
    ):
        kubernetes_validate.validate(manifest, "1.30.0", strict=True)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match=r"engineConfig\.engine"):
        engine_of("kubernetes", spec(engine="tgi"))
