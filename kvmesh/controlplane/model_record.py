"""The Tensormesh Model record (protocol.md §7) for a deployment, as the 0.1.9 client reads it.

`modelId` and `deploymentId` are the deployment id, `modelName` the served gateway name, `status`
`MODEL_STATUS_UP` once the deployment is ready, `endpoint` the gateway base users call and
`apiKey` the deployment's own gateway key, in clear and only for its owner. `replicaStatus` is a
kvmesh extension (one entry per replica); secrets in the engine config never leave the server.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from kvmesh.controlplane.deployments import display_name
from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.store.models import Deployment

MODEL_STATUS = {
    "pending": "MODEL_STATUS_PENDING",
    "starting": "MODEL_STATUS_STARTING",
    "ready": "MODEL_STATUS_UP",
    "failed": "MODEL_STATUS_FAILED",
    "stopping": "MODEL_STATUS_DELETED",
    "stopped": "MODEL_STATUS_DELETED",
}
ONPREM = "CLOUD_PROVIDER_ONPREM"
REGION_FIELD = {"CLOUD_PROVIDER_NEBIUS": "nebiusRegion", "CLOUD_PROVIDER_LAMBDA": "lambdaRegion"}
SECRET_WORDS = ("key", "token", "secret", "password", "authorization")
DEFAULT_ROUTING = "default"  # the Gateway's default policy (least_outstanding unless configured)
MAX_EVENTS = 50  # the newest ones; a crash-looping replica would otherwise grow every record


class ModelEvent(BaseModel):
    createdAt: str
    log: str
    eventType: str


class Infra(BaseModel):
    cloudProvider: str
    onpremRegion: str | None = None
    nebiusRegion: str | None = None
    lambdaRegion: str | None = None


class ReplicaStatus(BaseModel):
    ordinal: int
    status: str
    restarts: int
    lastError: str
    updatedAt: str


class ModelRecord(BaseModel):
    modelId: str
    deploymentId: str
    userId: str
    description: str
    modelPath: str
    modelName: str
    status: str
    events: list[ModelEvent]
    createdAt: str
    updatedAt: str
    modelSpec: dict[str, Any]
    infra: Infra
    gpuCount: int
    gpuType: str
    replicas: int
    replicaStatus: list[ReplicaStatus]
    endpoint: str
    apiKey: str | None = None
    provider: str
    lastError: str
    routing: str = DEFAULT_ROUTING


def redact_config(config: dict[str, Any]) -> dict[str, Any]:
    """The engine config without secret-looking entries (api keys, tokens, ...), recursively."""
    clean: dict[str, Any] = {}
    for key, value in config.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            continue
        clean[key] = redact_config(value) if isinstance(value, dict) else value
    return clean


def cloud_provider_label(deployment: Deployment, default_label: str) -> str:
    """The deployment's own label, except that self-hosted (ONPREM) ones report the cluster setting."""
    label = (deployment.cloud_provider or "").strip()
    return default_label if label in ("", ONPREM) else label


def model_record(
    deployment: Deployment,
    *,
    catalog_name: str | None,
    api_key: str | None,
    gateway_base: str,
    cloud_provider: str,
) -> ModelRecord:
    label = cloud_provider_label(deployment, cloud_provider)
    region_field = REGION_FIELD.get(label, "onpremRegion")
    infra = Infra.model_validate({"cloudProvider": label, region_field: deployment.region or "local"})
    updated = max([deployment.updated_at, *(replica.updated_at for replica in deployment.replicas)])
    spec = {
        "provider": deployment.provider,
        "catalogModel": catalog_name,
        "replicas": deployment.replicas_desired,
        "engineConfig": redact_config(dict(deployment.engine_config or {})),
        "routing": deployment.routing_policy or DEFAULT_ROUTING,
    }
    return ModelRecord(
        modelId=deployment.id,
        deploymentId=deployment.id,
        userId=deployment.user_id,
        description=deployment.description or "",
        modelPath=catalog_name or str((deployment.engine_config or {}).get("model") or ""),
        modelName=display_name(deployment.served_name),
        status=MODEL_STATUS.get(deployment.status, "MODEL_STATUS_UNSPECIFIED"),
        events=[
            ModelEvent(
                createdAt=format_rfc3339(event.created_at) or "", log=event.log, eventType=event.event_type
            )
            for event in deployment.events[-MAX_EVENTS:]
        ],
        createdAt=format_rfc3339(deployment.created_at) or "",
        updatedAt=format_rfc3339(updated) or "",
        modelSpec=spec,
        infra=infra,
        gpuCount=deployment.gpu_count,
        gpuType=deployment.gpu_type,
        replicas=deployment.replicas_desired,
        replicaStatus=[
            ReplicaStatus(
                ordinal=replica.ordinal,
                status=replica.status,
                restarts=replica.restarts,
                lastError=replica.last_error,
                updatedAt=format_rfc3339(replica.updated_at) or "",
            )
            for replica in deployment.replicas
        ],
        endpoint=(deployment.endpoint or gateway_base).rstrip("/"),
        apiKey=api_key,
        provider=deployment.provider,
        lastError=deployment.last_error,
        routing=deployment.routing_policy or DEFAULT_ROUTING,
    )
