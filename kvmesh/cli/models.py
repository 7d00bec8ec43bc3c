"""`tm models list|get|delete`: the served models (deployments) in the Control Plane inventory (§7)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call


@click.group(name="models")
def models() -> None:
    """Control Plane model resources.

    \b
    Examples:
      tm models list
      tm --output json models get MODEL_ID
    """


def _model_id(value: str) -> str:
    from kvmesh.client import path_segment

    if not value.strip():
        raise usage_error("MODEL_ID must not be empty.")
    return path_segment(value.strip())


@models.command(name="list")
@click.option("--user-id", default=None, help="Optional user id to scope results.")
@TIMEOUT_OPTION
@pass_cli
def list_models(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """List models (GET /v1/models).

    \b
    Example:
      tm --output table models list
    """
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", "/v1/models", "models", timeout, params={"userId": user_id})


@models.command(name="get")
@click.argument("model_id")
@click.option("--user-id", default=None, help="Optional user id to scope results.")
@TIMEOUT_OPTION
@pass_cli
def get_model(cli: CliContext, model_id: str, user_id: str | None, timeout: float | None) -> None:
    """Get a model by id (GET /v1/models/{modelId}).

    \b
    Example:
      tm models get dep-1
    """
    check_timeout(timeout)
    path = f"/v1/models/{_model_id(model_id)}"
    emit_controlplane_call(cli, "GET", path, "model", timeout, params={"userId": user_id})


@models.command(name="delete")
@click.argument("model_id")
@click.option("--user-id", default=None, help="Optional user id to scope authorization.")
@click.option("--yes", is_flag=True, help="Skip confirmation prompt.")
@TIMEOUT_OPTION
@pass_cli
def delete_model(
    cli: CliContext, model_id: str, user_id: str | None, yes: bool, timeout: float | None
) -> None:
    """Delete a model (DELETE /v1/models/{modelId}).

    \b
    Example:
      tm models delete dep-1 --yes
    """
    check_timeout(timeout)
    path = f"/v1/models/{_model_id(model_id)}"
    if not yes:
        click.confirm(
            f"Delete model {model_id.strip()!r}? This may stop inference and may be irreversible.",
            default=False,
            abort=True,
        )
    emit_controlplane_call(cli, "DELETE", path, None, timeout, params={"userId": user_id})


from kvmesh.cli import models_more as _models_more  # noqa: E402,F401  (registers deploy, check, chat, ...)
