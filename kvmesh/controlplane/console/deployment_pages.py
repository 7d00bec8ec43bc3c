"""Console deployments: list with status and replicas, details (events, recent log lines), create
from the catalog, delete after a confirmation. Writes go through `controlplane.deployments`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kvmesh.controlplane.console.rendering import Console, ConsoleCtx, html_errors
from kvmesh.controlplane.deployments import (
    DeploymentRequest,
    create_deployment,
    display_name,
    get_owned_deployment,
    list_deployments,
    request_delete,
)
from kvmesh.controlplane.errors import ApiError
from kvmesh.engines.upstream_policy import UpstreamPolicy
from kvmesh.store.models import CatalogModel, Deployment, DeploymentEvent

router = APIRouter()
FormField = Annotated[str, Form()]
LOG_LINES = 40
EVENTS_SHOWN = 50
MESSAGES = {
    "created": "Deployment requested; it turns ready once its replicas answer.",
    "deleted": "Deployment deleted.",
}


def _owned(console: Console, deployment_id: str) -> Deployment:
    deployment = get_owned_deployment(console.db, console.user.id, deployment_id)
    if deployment.deleted_at is not None or deployment.status == "stopped":
        raise ApiError(404, f"no such model: {deployment_id}", "model_not_found")
    return deployment


def _catalog_names(console: Console) -> dict[str | None, str]:
    return dict(console.db.execute(select(CatalogModel.id, CatalogModel.name)).tuples().all())


def _log_tails(console: Console, deployment: Deployment) -> list[tuple[int, str]]:
    """The last lines of each replica's engine log, when the engines run on this host."""
    from kvmesh.engines.processes import tail_lines

    folder = console.services.settings.engine_settings().engines_dir / deployment.id
    tails = []
    for replica in deployment.replicas:
        path = folder / f"replica-{replica.ordinal}.log"
        if path.is_file():
            tails.append((replica.ordinal, tail_lines(path, LOG_LINES)))
    return tails


@router.get("/deployments")
@html_errors
def deployments_page(console: ConsoleCtx, done: str = "") -> Response:
    return console.page(
        "deployments.html",
        deployments=list_deployments(console.db, console.user.id),
        catalog=_catalog_names(console),
        catalog_models=console.db.scalars(select(CatalogModel).order_by(CatalogModel.name)).all(),
        display=display_name,
        message=MESSAGES.get(done, ""),
    )


@router.post("/deployments")
@html_errors
def create(
    console: ConsoleCtx,
    catalog_model: FormField = "",
    served_name: FormField = "",
    replicas: FormField = "1",
    csrf_token: FormField = "",
) -> Response:
    console.check_csrf(csrf_token)
    try:
        count = int(replicas)
    except ValueError:
        raise ApiError(400, f"Replicas must be a whole number, got {replicas[:20]!r}.") from None
    request = DeploymentRequest(
        served_name=served_name.strip(), catalog_model=catalog_model.strip() or None, replicas=count
    )
    try:
        create_deployment(
            console.db,
            console.services.secret,
            console.user.id,
            request,
            default_cloud_provider=console.services.settings.gateway_cloud_provider,
            upstream_policy=None
            if console.admin
            else UpstreamPolicy.parse(console.services.settings.upstream_allowlist),
            quota=console.services.settings.quota_defaults,
        )
        console.db.commit()
    except IntegrityError:
        console.db.rollback()
        raise ApiError(409, f"You already have a model named {request.served_name!r}.") from None
    if console.services.controller is not None:
        console.services.controller.wake()
    return RedirectResponse("/console/deployments?done=created", status_code=303)


@router.get("/deployments/{deployment_id}")
@html_errors
def deployment_page(console: ConsoleCtx, deployment_id: str) -> Response:
    deployment = _owned(console, deployment_id)
    events = console.db.scalars(
        select(DeploymentEvent)
        .where(DeploymentEvent.deployment_id == deployment.id)
        .order_by(DeploymentEvent.created_at.desc(), DeploymentEvent.id.desc())
        .limit(EVENTS_SHOWN)
    ).all()
    return console.page(
        "deployment.html",
        d=deployment,
        name=display_name(deployment.served_name),
        catalog_name=_catalog_names(console).get(deployment.catalog_model_id),
        events=events,
        logs=_log_tails(console, deployment),
        gateway=console.services.settings.public_gateway_base,
    )


@router.get("/deployments/{deployment_id}/delete")
@html_errors
def confirm_delete(console: ConsoleCtx, deployment_id: str) -> Response:
    deployment = _owned(console, deployment_id)
    name = display_name(deployment.served_name)
    return console.page(
        "confirm.html",
        title="Delete deployment?",
        question=f"Delete “{name}”? Its replicas stop and its deployment key is revoked.",
        action=f"/console/deployments/{deployment.id}/delete",
        button="Delete deployment",
        back="/console/deployments",
    )


@router.post("/deployments/{deployment_id}/delete")
@html_errors
def delete(
    console: ConsoleCtx, deployment_id: str, csrf_token: FormField = "", confirm: FormField = ""
) -> Response:
    console.check_csrf(csrf_token)
    deployment = _owned(console, deployment_id)
    if confirm != "yes":
        raise ApiError(400, "Confirm the deletion on the confirmation page.")
    request_delete(console.db, deployment, controller_running=console.services.controller is not None)
    console.db.commit()
    if console.services.controller is not None:
        console.services.controller.wake()
    return RedirectResponse("/console/deployments?done=deleted", status_code=303)
