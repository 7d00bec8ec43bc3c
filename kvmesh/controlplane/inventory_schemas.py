"""Request and response shapes of the models/deployments inventory routes (camelCase, as on the wire)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kvmesh.controlplane.inputs import JsonObject, SafeText, ShortText
from kvmesh.controlplane.model_record import ModelRecord


class ModelsList(BaseModel):
    models: list[ModelRecord]


class ModelEnvelope(BaseModel):
    model: ModelRecord


class DeploymentsList(BaseModel):
    deployments: list[ModelRecord]


class DeploymentEnvelope(BaseModel):
    deployment: ModelRecord


class InfraIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    cloudProvider: ShortText | None = None
    onpremRegion: ShortText | None = Field(default=None, max_length=100)
    nebiusRegion: ShortText | None = Field(default=None, max_length=100)
    lambdaRegion: ShortText | None = Field(default=None, max_length=100)


class DeployModelBody(BaseModel):
    """The reference client's DeployModelRequest; `modelPath` names a catalog model."""

    model_config = ConfigDict(extra="allow")
    modelName: ShortText
    userId: ShortText | None = None
    description: SafeText = ""
    modelPath: ShortText | None = None
    infra: InfraIn | None = None
    gpuCount: int = Field(default=0, ge=0, le=1024)
    gpuType: ShortText = Field(default="", max_length=40)
    modelSpec: JsonObject | None = None


class CreateDeploymentBody(BaseModel):
    """kvmesh's deployment request: a served name, what to serve and how many replicas."""

    modelName: ShortText = Field(description="Served gateway model name, unique per user")
    catalogModel: ShortText | None = Field(
        default=None, description="Catalog model (default: embedded SmolLM2)"
    )
    provider: Literal["llamacpp", "vllm", "external"] | None = None
    replicas: int = Field(default=1, ge=1, le=64)
    engineConfig: JsonObject = Field(default_factory=dict)
    upstreamUrl: ShortText | None = None
    upstreamApiKey: SafeText | None = None
    description: SafeText = ""
    cloudProvider: ShortText | None = None
    region: ShortText | None = Field(default=None, max_length=100)
    gpuType: ShortText = Field(default="", max_length=40)
    gpuCount: int = Field(default=0, ge=0, le=1024)
    userId: ShortText | None = None
    routing: ShortText | None = Field(
        default=None,
        description="Gateway routing policy: least_outstanding, prefix_aware, round_robin, session_affinity",
    )


class UpdateDeploymentBody(BaseModel):
    """The fields of a deployment that can change in place (today: its routing policy)."""

    routing: ShortText | None = Field(
        description="Gateway routing policy, or null for the Gateway's default",
    )


class ValidateNameBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    modelName: ShortText
    userId: ShortText | None = None


class ValidationResult(BaseModel):
    isValid: bool
    reason: str | None = None


class CatalogEntry(BaseModel):
    name: str
    description: str
    engine: str
    source: str
    contextLength: int
    createdAt: str


class CatalogList(BaseModel):
    catalogModels: list[CatalogEntry]
