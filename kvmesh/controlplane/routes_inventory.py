"""Models and deployments inventory: the Tensormesh `/v1/models` surface and kvmesh's `/v1/deployments`.

Both surfaces show the same record (`model_record.ModelRecord`) for a user's deployments; every
query is scoped to the signed-in user (or, for admins, the `userId` they name).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvmesh.controlplane import activities
from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.activities import record_activity
from kvmesh.controlplane.deployments import (
    DeploymentRequest,
    create_deployment,
    deployment_keys,
    get_owned_deployment,
    list_deployments,
    name_is_free,
    request_delete,
    served_name_problem,
    update_routing,
)
from kvmesh.controlplane.deps import ControlPlaneServices, CurrentUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import UserIdQuery
from kvmesh.controlplane.inventory_schemas import (
    CatalogEntry,
    CatalogList,
    CreateDeploymentBody,
    DeploymentEnvelope,
    DeploymentsList,
    DeployModelBody,
    InfraIn,
    ModelEnvelope,
    ModelsList,
    UpdateDeploymentBody,
    ValidateNameBody,
    ValidationResult,
)
from kvmesh.controlplane.key_reveal import reveal_key
from kvmesh.controlplane.model_record import ModelRecord, model_record
from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.controlplane.wire_models import EmptyResult, error_responses
from kvmesh.engines.upstream_policy import UpstreamPolicy
from kvmesh.store.models import CatalogModel, Deployment, User
from kvmesh.store.users import ROLE_ADMIN

router = APIRouter(tags=["models"], responses=error_responses())


def deployment_records(
    session: Session, services: ControlPlaneServices, caller: User, deployments: Sequence[Deployment]
) -> list[ModelRecord]:
    keys = deployment_keys(session, [d.id for d in deployments])
    names = dict(session.execute(select(CatalogModel.id, CatalogModel.name)).tuples().all())
    settings = services.settings
    records = []
    for deployment in deployments:
        key = keys.get(deployment.id)
        owner = deployment.user_id == caller.id
        records.append(
            model_record(
                deployment,
                catalog_name=names.get(deployment.catalog_model_id) if deployment.catalog_model_id else None,
                api_key=reveal_key(services.secret, key) if key is not None and owner else None,
                gateway_base=settings.public_gateway_base,
                cloud_provider=settings.gateway_cloud_provider,
            )
        )
    return records


def _create(
    session: Session, services: ControlPlaneServices, caller: User, user_id: str, request: DeploymentRequest
) -> ModelRecord:
    policy = None if caller.role == ROLE_ADMIN else UpstreamPolicy.parse(services.settings.upstream_allowlist)
    try:
        deployment = create_deployment(
            session,
            services.secret,
            user_id,
            request,
            default_cloud_provider=services.settings.gateway_cloud_provider,
            upstream_policy=policy,
            quota=services.settings.quota_defaults,
        )
        session.flush()
        record_activity(
            session,
            user_id=user_id,
            action=activities.DEPLOYMENT_CREATED,
            actor=caller,
            resource_type=activities.RESOURCE_DEPLOYMENT,
            resource_id=deployment.id,
            description=f"deployed {deployment.served_name!r} ({deployment.replicas_desired} replica(s))",
        )
        session.commit()
    except IntegrityError:  # a concurrent create took the name between our check and the insert
        session.rollback()
        name = request.served_name
        raise ApiError(409, f"you already have a model named {name!r}", "model_name_taken") from None
    if services.controller is not None:
        services.controller.wake()
    session.refresh(deployment)
    return deployment_records(session, services, caller, [deployment])[0]


def delete_deployment_record(
    session: Session, services: ControlPlaneServices, caller: User, model_id: str, user_id: str | None
) -> None:
    deployment = get_owned_deployment(session, resolve_user_id(caller, user_id), model_id)
    if deployment.status == "stopped" or deployment.deleted_at is not None:
        raise ApiError(404, f"no such model: {model_id} (already deleted)", "model_not_found")
    request_delete(session, deployment, controller_running=services.controller is not None)
    record_activity(
        session,
        user_id=deployment.user_id,
        action=activities.DEPLOYMENT_DELETED,
        actor=caller,
        resource_type=activities.RESOURCE_DEPLOYMENT,
        resource_id=deployment.id,
        description=f"deleted {deployment.served_name!r}",
    )
    session.commit()
    if services.controller is not None:
        services.controller.wake()


@router.get("/v1/models", response_model=ModelsList)
def list_models(
    user: CurrentUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
    includeDeleted: bool = False,
) -> ModelsList:
    """The caller's deployments as Model records, newest first (ready ones are `MODEL_STATUS_UP`)."""
    target = resolve_user_id(user, userId)
    deployments = list_deployments(session, target, include_deleted=includeDeleted)
    return ModelsList(models=deployment_records(session, services, user, deployments))


@router.post("/v1/models", response_model=ModelEnvelope)
def deploy_model(
    body: DeployModelBody, user: CurrentUser, session: DbSession, services: Services
) -> ModelEnvelope:
    """Deploy a catalog model under a served name (the reference `tm models deploy`)."""
    spec = dict(body.modelSpec or {})
    infra = body.infra or InfraIn()
    replicas = spec.get("replicas", 1)
    upstream_url, upstream_key = spec.get("upstreamUrl"), spec.get("upstreamApiKey")
    if not all(value is None or isinstance(value, str) for value in (upstream_url, upstream_key)):
        raise ApiError(400, "modelSpec.upstreamUrl and upstreamApiKey must be strings", "invalid_upstream")
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise ApiError(400, "modelSpec.replicas must be an integer", "invalid_replicas")
    provider = spec.get("provider")
    engine_config = spec.get("engineConfig", {})
    if not isinstance(engine_config, dict):
        raise ApiError(400, "modelSpec.engineConfig must be an object", "invalid_engine_config")
    routing = spec.get("routing")
    if routing is not None and not isinstance(routing, str):
        raise ApiError(400, "modelSpec.routing must be a string", "invalid_routing")
    request = DeploymentRequest(
        served_name=body.modelName,
        catalog_model=body.modelPath or None,
        provider=str(provider) if provider is not None else None,
        replicas=replicas,
        engine_config=engine_config,
        upstream_url=upstream_url,
        upstream_api_key=upstream_key,
        description=body.description,
        cloud_provider=infra.cloudProvider,
        region=infra.onpremRegion or infra.nebiusRegion or infra.lambdaRegion,
        gpu_type=body.gpuType,
        gpu_count=body.gpuCount,
        routing=routing,
    )
    target = resolve_user_id(user, body.userId)
    return ModelEnvelope(model=_create(session, services, user, target, request))


@router.post("/v1/models:validate", response_model=ValidationResult)
def validate_model_name(body: ValidateNameBody, user: CurrentUser, session: DbSession) -> ValidationResult:
    """Whether `modelName` is a valid served name that the user does not use yet."""
    target = resolve_user_id(user, body.userId)
    problem = served_name_problem(body.modelName)
    if problem is None and not name_is_free(session, target, body.modelName):
        problem = f"you already have a model named {body.modelName!r}"
    return ValidationResult(isValid=problem is None, reason=problem)


@router.get("/v1/models/{model_id}", response_model=ModelEnvelope)
def get_model(
    model_id: str, user: CurrentUser, session: DbSession, services: Services, userId: UserIdQuery = None
) -> ModelEnvelope:
    deployment = get_owned_deployment(session, resolve_user_id(user, userId), model_id)
    return ModelEnvelope(model=deployment_records(session, services, user, [deployment])[0])


@router.delete("/v1/models/{model_id}", response_model=EmptyResult)
def delete_model(
    model_id: str, user: CurrentUser, session: DbSession, services: Services, userId: UserIdQuery = None
) -> EmptyResult:
    """Stop the deployment's replicas and revoke its key; the record then reads MODEL_STATUS_DELETED."""
    delete_deployment_record(session, services, user, model_id, userId)
    return EmptyResult()


@router.get("/v1/deployments", response_model=DeploymentsList, tags=["deployments"])
def list_user_deployments(
    user: CurrentUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
    includeDeleted: bool = False,
) -> DeploymentsList:
    deployments = list_deployments(session, resolve_user_id(user, userId), include_deleted=includeDeleted)
    return DeploymentsList(deployments=deployment_records(session, services, user, deployments))


@router.post("/v1/deployments", response_model=DeploymentEnvelope, status_code=201, tags=["deployments"])
def create_user_deployment(
    body: CreateDeploymentBody, user: CurrentUser, session: DbSession, services: Services
) -> DeploymentEnvelope:
    """Create a deployment: `pending` until the engines controller has a ready replica."""
    request = DeploymentRequest(
        served_name=body.modelName,
        catalog_model=body.catalogModel,
        provider=body.provider,
        replicas=body.replicas,
        engine_config=body.engineConfig,
        upstream_url=body.upstreamUrl,
        upstream_api_key=body.upstreamApiKey,
        description=body.description,
        cloud_provider=body.cloudProvider,
        region=body.region,
        gpu_type=body.gpuType,
        gpu_count=body.gpuCount,
        routing=body.routing,
    )
    target = resolve_user_id(user, body.userId)
    return DeploymentEnvelope(deployment=_create(session, services, user, target, request))


@router.get("/v1/deployments/{deployment_id}", response_model=DeploymentEnvelope, tags=["deployments"])
def get_user_deployment(
    deployment_id: str,
    user: CurrentUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
) -> DeploymentEnvelope:
    deployment = get_owned_deployment(session, resolve_user_id(user, userId), deployment_id)
    return DeploymentEnvelope(deployment=deployment_records(session, services, user, [deployment])[0])


@router.patch("/v1/deployments/{deployment_id}", response_model=DeploymentEnvelope, tags=["deployments"])
def update_user_deployment(
    deployment_id: str,
    body: UpdateDeploymentBody,
    user: CurrentUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
) -> DeploymentEnvelope:
    """Change a deployment in place: its Gateway routing policy (null = the Gateway's default)."""
    deployment = get_owned_deployment(session, resolve_user_id(user, userId), deployment_id)
    update_routing(session, deployment, body.routing)
    session.commit()
    session.refresh(deployment)
    return DeploymentEnvelope(deployment=deployment_records(session, services, user, [deployment])[0])


@router.delete("/v1/deployments/{deployment_id}", response_model=EmptyResult, tags=["deployments"])
def delete_user_deployment(
    deployment_id: str,
    user: CurrentUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
) -> EmptyResult:
    delete_deployment_record(session, services, user, deployment_id, userId)
    return EmptyResult()


@router.get("/v1/catalog/models", response_model=CatalogList, tags=["catalog"])
def list_catalog_models(user: CurrentUser, session: DbSession) -> CatalogList:
    """What can be deployed (`catalogModel` / `modelPath` values)."""
    rows = session.scalars(select(CatalogModel).order_by(CatalogModel.name)).all()
    return CatalogList(
        catalogModels=[
            CatalogEntry(
                name=row.name,
                description=row.description,
                engine=row.engine,
                source=row.source,
                contextLength=row.context_length,
                createdAt=format_rfc3339(row.created_at) or "",
            )
            for row in rows
        ]
    )
