"""`tm init`: local first-request readiness; `tm init --sync`: fill `[managed]` from the Control Plane."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import CliError
from kvmesh.cli._remote import cli_errors, controlplane_for, emit_response

HEADER = (
    "# Tensormesh CLI config (TOML)\n"
    "# Managed gateway values are written by `tm init --sync` under [managed].\n"
    "# Edit top-level request settings or [overrides] for manual overrides.\n"
)
LEGACY_TOP_LEVEL = ("gateway_provider", "gateway_api_key", "gateway_user_id", "gateway_model_id")


@click.command(name="init")
@click.option(
    "--sync",
    "sync",
    is_flag=True,
    help="Sync the available gateway settings from the control plane, update [managed] in config.toml, and "
    "persist controlplane_base only when this command is run with --controlplane-base.",
)
@click.option(
    "--key-scope",
    type=click.Choice(["account", "deployment"], case_sensitive=False),
    default="account",
    show_default=True,
    help="With --sync: store your account-wide API key (works for every deployment you own), or the "
    "chosen deployment's own key (works for that deployment only).",
)
@pass_cli
def init(cli: CliContext, sync: bool, key_scope: str) -> None:
    """Guide first-time CLI setup for Control Plane and Gateway workflows.

    \b
    Examples:
      tm init
      tm init --sync
      tm --controlplane-base http://127.0.0.1:8400 init --sync
      tm init --sync --key-scope deployment
    """
    if sync:
        _sync(cli, account_key=key_scope.lower() == "account")
    else:
        _show(cli)


def synced_at_now() -> str:
    now = datetime.now(UTC)
    text = now.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{now.microsecond:06d}" if now.microsecond else "") + "Z"


def _newest_account_key(client: Any, user_id: str, prefix: str) -> dict[str, Any] | None:
    from kvmesh.client import InventoryError, pick_api_key

    with cli_errors():
        keys, _ = client.list_api_keys(user_id)
    try:
        key: dict[str, Any] | None = pick_api_key(keys)
    except InventoryError as exc:
        raise CliError(f"{prefix} {exc}") from None
    return key


def _managed_values(client: Any, user_id: str, *, account_key: bool = True) -> dict[str, Any]:
    """What goes into `[managed]`: the chosen deployment's name and endpoint, with the newest account
    API key (`account_key`, so any deployment of the user can be called) or the deployment's own key;
    without a served deployment, the newest account key alone."""
    from kvmesh.client import (
        PROVIDER_LABELS,
        InventoryError,
        pick_served_model,
        served_name,
    )

    prefix = "Failed to sync managed gateway config:"
    with cli_errors():
        models, _ = client.list_models()
    try:
        record = pick_served_model(models, require_api_key=True)
    except InventoryError as exc:
        raise CliError(f"{prefix} {exc}") from None
    managed: dict[str, Any] = {"synced_at": synced_at_now()}
    if record is not None:
        infra: dict[str, Any] = record["infra"] if isinstance(record.get("infra"), dict) else {}
        provider = PROVIDER_LABELS.get(str(infra.get("cloudProvider") or "").strip())
        if provider:
            managed["gateway_provider"] = provider
        endpoint = record.get("endpoint")
        if isinstance(endpoint, str) and endpoint.strip().startswith(("http://", "https://")):
            managed["gateway_base"] = endpoint.strip().rstrip("/")
        shared = _newest_account_key(client, user_id, prefix) if account_key else None
        managed["gateway_api_key"] = str(shared["id"] if shared else record["apiKey"]).strip()
        managed["gateway_user_id"] = user_id
        managed["gateway_model_id"] = served_name(record)
        return managed
    key = _newest_account_key(client, user_id, prefix)
    if key is None:
        raise CliError(
            f"{prefix} no active user API keys found in control plane inventory.",
            hints=[
                "Create a deployment: tm deployments create --wait, then rerun: tm init --sync",
                "Or create an API key: tm users api-keys create --yes, then rerun: tm init --sync",
            ],
        )
    managed["gateway_api_key"] = str(key["id"]).strip()
    managed["gateway_user_id"] = user_id
    return managed


def write_managed(cli: CliContext, managed: dict[str, Any]) -> None:
    """Replace `[managed]` wholesale, drop legacy top-level gateway keys, keep comments and `[overrides]`."""
    import tomlkit

    from kvmesh.client import load_config_document, save_config_document

    settings = cli.settings
    doc = load_config_document(settings.config_path)
    if not doc.body:
        doc.add(tomlkit.comment(HEADER.splitlines()[0].removeprefix("# ")))
        for line in HEADER.splitlines()[1:]:
            doc.add(tomlkit.comment(line.removeprefix("# ")))
        doc.add(tomlkit.nl())
    for key in LEGACY_TOP_LEVEL:
        if key in doc:
            del doc[key]
    if settings.sources.get("controlplane_base") == "--controlplane-base":
        doc["controlplane_base"] = settings.controlplane_base
    table = tomlkit.table()
    for key, value in managed.items():
        table[key] = value
    if "managed" in doc:
        doc["managed"] = table
    else:
        doc.add("managed", table)
    if "overrides" not in doc:
        doc.add("overrides", tomlkit.table())
    save_config_document(settings.config_path, doc)


def _sync(cli: CliContext, *, account_key: bool = True) -> None:
    from kvmesh.client import read_token_file

    settings = cli.settings
    with cli_errors():
        if read_token_file(settings.auth_json_path) is None:
            from kvmesh.cli._remote import no_token_usage_error

            raise no_token_usage_error()
    from kvmesh.cli._infer_target import derive_user_id

    client = controlplane_for(cli)
    user_id = derive_user_id(client)
    managed = _managed_values(client, user_id, account_key=account_key)
    write_managed(cli, managed)
    cli.reset_settings()
    path = str(settings.config_path.resolve())
    data = {
        "synced": True,
        "config_path": path,
        "gateway_provider": managed.get("gateway_provider"),
        "gateway_api_key_present": bool(managed.get("gateway_api_key")),
        "gateway_user_id": user_id,
        "gateway_model_id": managed.get("gateway_model_id"),
        "synced_at": managed["synced_at"],
        "gateway_base": managed.get("gateway_base"),
    }
    if not managed.get("gateway_model_id") and not cli.quiet:
        click.echo(
            "Note: no served model is ready yet, so only an API key was synced. Create one with "
            "`tm deployments create --wait`, then rerun `tm "
            "init --sync`; or pass --model to `tm infer chat`.",
            err=True,
        )
    if cli.output != "text":
        emit_response(cli, data, json.dumps(data))
        return
    click.echo(f"Synced managed config: {path}")
    click.echo(
        f"Gateway: provider={managed.get('gateway_provider') or 'unset'} "
        f"api_key={'present' if managed.get('gateway_api_key') else 'missing'} user_id={user_id} "
        f"model_id={managed.get('gateway_model_id') or 'unset'}"
    )
    if managed.get("gateway_base"):
        click.echo(f"Gateway base: {managed['gateway_base']}")


def _show(cli: CliContext) -> None:
    from kvmesh.cli.readiness import local as r

    settings = cli.settings
    readiness = r.inspect_local(settings)
    token, gateway = readiness.token, readiness.gateway
    ready = gateway.ready_for_direct_request
    warnings = readiness.state_warnings()
    setup = r.setup_steps(gateway, token.ready)
    next_steps = [*setup, *([] if ready else ["tm infer doctor"]), r.chat_example(gateway.model_id_present)]
    optional: list[str] = []
    if not settings.config_exists:
        optional.append("tm config init")
    if not token.access_token_present and "tm auth login" not in setup:
        optional.append("tm auth login")
    if token.error is None and not token.access_token_present:
        warnings.append(
            "control plane auth is optional for a direct gateway request, but required for Control Plane "
            "commands and `--model @latest`"
        )
    warnings.append("Local status only. Use `tm auth whoami` and `tm infer chat` for live verification.")
    for step in ("tm billing pricing serverless list", r.serverless_example(False)):
        if step not in optional:
            optional.append(step)
    optional = [step for step in optional if step not in next_steps]
    data: dict[str, Any] = {
        "ready_for_first_request": ready,
        "config": {
            "path": str(settings.config_path),
            "exists": settings.config_exists,
            "source": settings.sources.get("config_path"),
        },
        "control_plane": {**r.control_plane_data(settings, token), "ready": token.access_token_present},
        "gateway": {
            **r.gateway_data(settings, gateway),
            "api_key_ready": gateway.api_key_present,
            "user_id_ready": gateway.user_id_ready,
            "model_id_ready": gateway.model_id_present,
        },
        "warnings": warnings,
        "next_steps": next_steps,
    }
    if optional:
        data["optional_next_steps"] = optional
    if cli.output != "text":
        emit_response(cli, data, json.dumps(data))
        return
    lines = [
        f"Config: {'ok' if settings.config_exists else 'missing'} ({settings.config_path})",
        r.control_plane_line(settings.controlplane_base, token.access_token_present),
        r.gateway_line(settings.gateway_provider, settings.gateway_base, gateway),
    ]
    if token.error:
        lines += ["", f"Control Plane token error: {token.error}"]
    r.echo_screen("tm init", lines, warnings=warnings, next_steps=next_steps, optional_steps=optional)
