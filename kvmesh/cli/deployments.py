"""`tm deployments create|list|get|delete|wait` (kvmesh addition): start a served model, watch it start."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import CliError, usage_error
from kvmesh.cli._remote import (
    check_timeout,
    cli_errors,
    controlplane_for,
    emit_controlplane_call,
    emit_response,
)

TIMEOUT = click.option("--timeout", type=float, default=None, help="HTTP timeout in seconds per request.")
UP, FAILED, DELETED = "MODEL_STATUS_UP", "MODEL_STATUS_FAILED", "MODEL_STATUS_DELETED"
DEFAULT_SERVED_NAME = "smollm2-135m-instruct"


@click.group(name="deployments")
def deployments() -> None:
    """Create, list, wait for and delete deployments (served models).

    \b
    Examples:
      tm deployments create --name my-model --wait
      tm deployments list
      tm deployments wait DEPLOYMENT_ID --wait-timeout 600
    """


def _path(deployment_id: str) -> str:
    from kvmesh.client import path_segment

    if not deployment_id.strip():
        raise usage_error("DEPLOYMENT_ID must not be empty.")
    return f"/v1/deployments/{path_segment(deployment_id.strip())}"


def _fetch(cli: CliContext, deployment_id: str, timeout: float | None) -> tuple[dict[str, Any], str]:
    with cli_errors():
        data, response = controlplane_for(cli, timeout).call_json("GET", _path(deployment_id), "deployment")
    return data, response.text


def wait_until_ready(
    cli: CliContext, deployment_id: str, wait_timeout: float, interval: float, timeout: float | None
) -> dict[str, Any]:
    """Poll until UP; print each status change to stderr; FAILED/DELETED/timeout are errors with a fix."""
    deadline = time.monotonic() + wait_timeout
    started = time.monotonic()
    last_status = None
    while True:
        data, _ = _fetch(cli, deployment_id, timeout)
        record = data["deployment"] if isinstance(data.get("deployment"), dict) else {}
        status = str(record.get("status") or "MODEL_STATUS_UNSPECIFIED")
        if status != last_status and not cli.quiet:
            click.echo(f"Deployment {deployment_id}: {status} ({time.monotonic() - started:.0f}s)", err=True)
            last_status = status
        if status == UP:
            return data
        if status == FAILED:
            detail = str(record.get("lastError") or "no error detail reported").strip().splitlines()
            raise CliError(
                f"Deployment {deployment_id} failed: {detail[-1] if detail else ''}",
                hints=[f"Inspect: tm --output json deployments get {deployment_id}"],
            )
        if status == DELETED:
            raise CliError(f"Deployment {deployment_id} was deleted while waiting.")
        if time.monotonic() >= deadline:
            raise CliError(
                f"Deployment {deployment_id} is not ready after {wait_timeout:g} seconds (status {status}).",
                hints=[f"Keep waiting: tm deployments wait {deployment_id}"],
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


@deployments.command(name="create")
@click.option(
    "--name",
    "model_name",
    default=DEFAULT_SERVED_NAME,
    show_default=True,
    help="Served model name (what requests send as `model`).",
)
@click.option("--catalog-model", default=None, help="Catalog model to serve (default: the embedded SmolLM2).")
@click.option(
    "--provider", type=click.Choice(["llamacpp", "vllm", "external"]), default=None, help="Engine provider."
)
@click.option(
    "--replicas", type=click.IntRange(1, 64), default=1, show_default=True, help="Number of replicas."
)
@click.option("--upstream-url", default=None, help="OpenAI-compatible base URL (provider `external`).")
@click.option("--upstream-api-key", default=None, help="API key for the upstream (provider `external`).")
@click.option("--engine-config", default=None, help="Engine options as a JSON object.")
@click.option("--wait", is_flag=True, help="Wait until the deployment is ready, showing progress.")
@click.option(
    "--wait-timeout", type=float, default=900.0, show_default=True, help="Seconds to wait with --wait."
)
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between status polls.")
@TIMEOUT
@pass_cli
def create(
    cli: CliContext,
    model_name: str,
    catalog_model: str | None,
    provider: str | None,
    replicas: int,
    upstream_url: str | None,
    upstream_api_key: str | None,
    engine_config: str | None,
    wait: bool,
    wait_timeout: float,
    interval: float,
    timeout: float | None,
) -> None:
    """Create a deployment (POST /v1/deployments); with --wait, block until it serves.

    \b
    Examples:
      tm deployments create --wait
      tm deployments create --name qwen --provider vllm --catalog-model Qwen/Qwen2.5-0.5B-Instruct
    """
    check_timeout(timeout)
    body: dict[str, Any] = {"modelName": model_name.strip(), "replicas": replicas}
    if engine_config is not None:
        try:
            config = json.loads(engine_config)
        except ValueError as exc:
            raise usage_error(f"Invalid JSON for --engine-config: {exc}") from None
        if not isinstance(config, dict):
            raise usage_error("--engine-config must be a JSON object.")
        body["engineConfig"] = config
    extras = {
        "catalogModel": catalog_model,
        "provider": provider,
        "upstreamUrl": upstream_url,
        "upstreamApiKey": upstream_api_key,
    }
    body.update({key: value for key, value in extras.items() if value is not None})
    with cli_errors():
        data, response = controlplane_for(cli, timeout).call_json(
            "POST", "/v1/deployments", "deployment", json_body=body
        )
    if wait:
        deployment_id = str(data["deployment"].get("deploymentId") or data["deployment"].get("modelId") or "")
        data = wait_until_ready(cli, deployment_id, wait_timeout, interval, timeout)
        emit_response(cli, data, json.dumps(data))
        if not cli.quiet:
            click.echo("Next: tm init --sync", err=True)
        return
    emit_response(cli, data, response.text)


@deployments.command(name="list")
@click.option("--include-deleted", is_flag=True, help="Include deleted deployments.")
@TIMEOUT
@pass_cli
def list_deployments(cli: CliContext, include_deleted: bool, timeout: float | None) -> None:
    """List your deployments (GET /v1/deployments).

    \b
    Example:
      tm --output table deployments list
    """
    check_timeout(timeout)
    params = {"includeDeleted": True if include_deleted else None}
    emit_controlplane_call(cli, "GET", "/v1/deployments", "deployments", timeout, params=params)


@deployments.command(name="get")
@click.argument("deployment_id")
@TIMEOUT
@pass_cli
def get(cli: CliContext, deployment_id: str, timeout: float | None) -> None:
    """Show one deployment (GET /v1/deployments/{id}).

    \b
    Example:
      tm deployments get dep-1
    """
    check_timeout(timeout)
    data, text = _fetch(cli, deployment_id, timeout)
    emit_response(cli, data, text)


@deployments.command(name="delete")
@click.argument("deployment_id")
@click.option("--yes", is_flag=True, help="Skip confirmation prompt.")
@TIMEOUT
@pass_cli
def delete(cli: CliContext, deployment_id: str, yes: bool, timeout: float | None) -> None:
    """Stop and delete a deployment (DELETE /v1/deployments/{id}).

    \b
    Example:
      tm deployments delete dep-1 --yes
    """
    check_timeout(timeout)
    path = _path(deployment_id)
    if not yes:
        click.confirm(
            f"Delete deployment {deployment_id.strip()!r}? Inference on it stops.", default=False, abort=True
        )
    emit_controlplane_call(cli, "DELETE", path, None, timeout)


@deployments.command(name="wait")
@click.argument("deployment_id")
@click.option("--wait-timeout", type=float, default=900.0, show_default=True, help="Seconds to wait.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between status polls.")
@TIMEOUT
@pass_cli
def wait(
    cli: CliContext, deployment_id: str, wait_timeout: float, interval: float, timeout: float | None
) -> None:
    """Wait until a deployment is ready, printing each status change.

    \b
    Example:
      tm deployments wait dep-1 --wait-timeout 600
    """
    check_timeout(timeout)
    if not wait_timeout > 0 or not interval > 0:
        raise usage_error("--wait-timeout and --interval must be greater than 0.")
    data = wait_until_ready(cli, deployment_id, wait_timeout, interval, timeout)
    emit_response(cli, data, json.dumps(data))
