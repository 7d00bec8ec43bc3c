"""`tm doctor`: local check of config, Control Plane token and Gateway settings (no network, §5.3)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._remote import emit_response


@click.command(name="doctor")
@click.option("--exit-status", is_flag=True, help="Exit non-zero when readiness checks fail.")
@pass_cli
def doctor(cli: CliContext, exit_status: bool) -> None:
    """Diagnose configuration and credentials (local only; see `tm infer doctor --live` for live checks).

    \b
    Examples:
      tm doctor
      tm --output json doctor --exit-status
    """
    from kvmesh.cli.readiness import local as r
    from kvmesh.client import public_settings

    settings = cli.settings
    readiness = r.inspect_local(settings)
    token, gateway, overall = readiness.token, readiness.gateway, readiness.overall
    ca_exists = bool(settings.ca_bundle) and os.path.exists(settings.ca_bundle or "")
    warnings = readiness.state_warnings(user_id=False)
    missing = readiness.missing_items()
    warnings.append(
        "Local readiness only. `tm doctor` does not live-validate "
        "the current Control Plane token or inference endpoint."
    )
    if not gateway.model_id_present:
        warnings.append("gateway_model_id not set (run `tm init --sync` or pass --model when required)")
    if settings.ca_bundle and not ca_exists:
        warnings.append(
            "ca_bundle is set but file is missing (set "
            "--ca-bundle/TENSORMESH_CA_BUNDLE to a readable PEM file)"
        )
    data: dict[str, Any] = {
        "ok": overall,
        "ready": readiness.ready_data(),
        "missing": missing,
        "warnings": warnings,
        "files": {
            "config_path": str(settings.config_path),
            "config_exists": settings.config_exists,
            "auth_json_path": token.auth_json_path,
            "auth_json_exists": token.auth_json_exists,
            "ca_bundle_path": settings.ca_bundle,
            "ca_bundle_exists": ca_exists,
        },
        "config": public_settings(settings),
        "control_plane": r.control_plane_data(settings, token),
        "gateway": r.gateway_data(settings, gateway),
    }
    if cli.output in ("json", "yaml", "raw"):
        emit_response(cli, data, json.dumps(data))
    else:
        lines = [
            f"Config file: {settings.config_path} ({'ok' if settings.config_exists else 'missing'})",
            r.control_plane_line(settings.controlplane_base, token.access_token_present),
            r.gateway_line(settings.gateway_provider, settings.gateway_base, gateway),
        ]
        if settings.ca_bundle:
            lines.append(f"CA bundle: {settings.ca_bundle} ({'ok' if ca_exists else 'missing'})")
        r.echo_screen("tm doctor", lines, missing=missing, warnings=warnings)
    if exit_status and not overall:
        raise SystemExit(1)
