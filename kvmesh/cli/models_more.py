"""`tm models deploy|validate-name|check|search-by-infra|chat`: the Control Plane model actions (§7)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import YES_OPTION, body_options, body_or_flags, confirm, load_body, require_strings
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import (
    TIMEOUT_OPTION,
    check_timeout,
    cli_errors,
    controlplane_for,
    emit_controlplane_call,
    emit_response,
)
from kvmesh.cli.models import _model_id, models

NAME_MISSING = "Missing model name. Provide --name or a JSON body via --json/--file/stdin."
CHAT_MISSING = "No input provided. Use --message, --json/--file, or pipe JSON on stdin."


@models.command(name="deploy")
@YES_OPTION
@body_options()
@TIMEOUT_OPTION
@pass_cli
def deploy(
    cli: CliContext, yes: bool, json_arg: str | None, file_arg: str | None, timeout: float | None
) -> None:
    """Create a model deployment (POST /v1/models).

    \b
    Example:
      tm models deploy --yes --json @deploy.json
    """
    check_timeout(timeout)
    body = load_body(json_arg, file_arg)
    if body is None:
        raise usage_error("Deploy request must be a JSON object.")
    confirm(yes, "Create a model deployment? This may incur cost.")
    emit_controlplane_call(cli, "POST", "/v1/models", "model", timeout, json_body=body)


@models.command(name="validate-name")
@click.option("--name", "model_name", default=None, help="Model name to validate.")
@click.option("--user-id", default=None, help="Optional user id for authorization.")
@body_options("JSON request body or @file.json (overrides --name).")
@TIMEOUT_OPTION
@pass_cli
def validate_name(
    cli: CliContext,
    model_name: str | None,
    user_id: str | None,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Validate a model name (POST /v1/models:validate).

    \b
    Example:
      tm models validate-name --name my-model
    """
    check_timeout(timeout)
    body = body_or_flags(json_arg, file_arg, {"modelName": model_name, "userId": user_id})
    require_strings(body, ("modelName",), NAME_MISSING)
    emit_controlplane_call(cli, "POST", "/v1/models:validate", None, timeout, json_body=body)


@models.command(name="check")
@body_options()
@TIMEOUT_OPTION
@pass_cli
def check(cli: CliContext, json_arg: str | None, file_arg: str | None, timeout: float | None) -> None:
    """Check whether a model fits (POST /v1/models/check): memory needed and whether this server has it.

    \b
    Example:
      tm models check --json '{"modelId":"HuggingFaceTB/SmolLM2-135M-Instruct"}'
    """
    check_timeout(timeout)
    body = load_body(json_arg, file_arg)
    if body is None:
        raise usage_error("Request body must be a JSON object.")
    emit_controlplane_call(cli, "POST", "/v1/models/check", None, timeout, json_body=body)


@models.command(name="search-by-infra")
@body_options()
@TIMEOUT_OPTION
@pass_cli
def search_by_infra(
    cli: CliContext, json_arg: str | None, file_arg: str | None, timeout: float | None
) -> None:
    """Search models by infrastructure (POST /v1/models:search-by-infra).

    \b
    Example:
      tm models search-by-infra --json '{"infra":{"cloudProvider":"CLOUD_PROVIDER_ONPREM"}}'
    """
    check_timeout(timeout)
    body = load_body(json_arg, file_arg)
    if body is None:
        raise usage_error("Request body must be a JSON object.")
    emit_controlplane_call(cli, "POST", "/v1/models:search-by-infra", "models", timeout, json_body=body)


@models.command(name="chat")
@click.argument("model_id")
@click.option("--message", default=None, help="Chat message body (string).")
@click.option("--user-id", default=None, help="Optional user id for authorization.")
@body_options("JSON request body or @file.json (overrides --message).")
@TIMEOUT_OPTION
@pass_cli
def chat(
    cli: CliContext,
    model_id: str,
    message: str | None,
    user_id: str | None,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Chat with a deployed model (POST /v1/models/{modelId}:chat), through the Gateway.

    \b
    Example:
      tm models chat MODEL_ID --message "Say hello."
    """
    check_timeout(timeout)
    path = f"/v1/models/{_model_id(model_id)}:chat"
    body = body_or_flags(json_arg, file_arg, {"body": message, "userId": user_id})
    require_strings(body, ("body",), CHAT_MISSING)
    with cli_errors():
        data, response = controlplane_for(cli, timeout).call_json("POST", path, None, json_body=body)
    if cli.output in ("text", "raw") and isinstance(data, dict) and isinstance(data.get("response"), str):
        click.echo(data["response"])
        return
    emit_response(cli, data, response.text)
