"""`tm models list|get|delete`: the served models (deployments) in the Control Plane inventory (§7)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import check_timeout, cli_errors, controlplane_for, emit_response

TIMEOUT = click.option("--timeout", type=float, default=None, help="HTTP timeout in seconds.")


@click.group(name="models")
def models() -> None:
    """Control Plane model resources.

    \b
    Examples:
      tm models list
      tm --output json models get MODEL_ID
    """


def _model_id(value: str) -> str:
    from kvmesh.client._controlplane import path_segment

    if not value.strip():
        raise usage_error("MODEL_ID must not be empty.")
    return path_segment(value.strip())


@models.command(name="list")
@click.option("--user-id", default=None, help="Optional user id to scope results.")
@TIMEOUT
@pass_cli
def list_models(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """List models (GET /v1/models).

    \b
    Example:
      tm --output table models list
    """
    check_timeout(timeout)
    with cli_errors():
        data, response = controlplane_for(cli, timeout).call_json(
            "GET", "/v1/models", "models", params={"userId": user_id}
        )
    emit_response(cli, data, response.text)


@models.command(name="get")
@click.argument("model_id")
@click.option("--user-id", default=None, help="Optional user id to scope results.")
@TIMEOUT
@pass_cli
def get_model(cli: CliContext, model_id: str, user_id: str | None, timeout: float | None) -> None:
    """Get a model by id (GET /v1/models/{modelId}).

    \b
    Example:
      tm models get dep-1
    """
    check_timeout(timeout)
    path = f"/v1/models/{_model_id(model_id)}"
    with cli_errors():
        data, response = controlplane_for(cli, timeout).call_json(
            "GET", path, "model", params={"userId": user_id}
        )
    emit_response(cli, data, response.text)


@models.command(name="delete")
@click.argument("model_id")
@click.option("--user-id", default=None, help="Optional user id to scope authorization.")
@click.option("--yes", is_flag=True, help="Skip confirmation prompt.")
@TIMEOUT
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
    with cli_errors():
        data, response = controlplane_for(cli, timeout).call_json(
            "DELETE", path, None, params={"userId": user_id}
        )
    emit_response(cli, data, response.text)
