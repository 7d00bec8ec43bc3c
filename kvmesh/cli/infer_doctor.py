"""`tm infer doctor`: readiness of the next inference request (§5); `--live` also checks it for real."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._infer_target import (
    LATEST,
    ON_DEMAND,
    SURFACES,
    TargetFlags,
    pass_target_flags,
    target_values,
)
from kvmesh.cli._remote import emit_response

LOCAL_ONLY = (
    "Local readiness only. `tm infer doctor` does not live-validate "
    "the current inference endpoint or API key."
)


def _option(value: str | None, name: str) -> str | None:
    return f"option:{name}" if (value or "").strip() else None


def _on_demand(cli: CliContext, flags: TargetFlags) -> tuple[dict[str, Any], list[str]]:
    from kvmesh.cli.readiness import local as r

    model, user_id, api_key, base_url = flags.model, flags.user_id, flags.api_key, flags.base_url
    settings = cli.settings
    token = r.inspect_token(settings.auth_json_path)
    values = target_values(flags, settings)
    base, key, chosen = values.base, values.api_key, values.model
    latest = chosen == LATEST
    state = r.inspect_gateway(settings, token, api_key=api_key, user_id=user_id, model=model)
    model_ready = False if latest else state.model_id_present
    user_source = _option(user_id, "--user-id") or (
        settings.sources.get("gateway_user_id") if state.user_id_present else None
    )
    if state.user_id_derived:
        user_source = "derived-from:controlplane-auth"
    from kvmesh.client import redact_secret

    gateway = r.gateway_data(
        settings,
        state,
        base=base,
        base_source=_option(base_url, "--base-url") or settings.sources.get("gateway_base"),
        api_key_source=_option(api_key, "--api-key") or settings.sources.get("gateway_api_key"),
        user_id_source=user_source,
        model_id_source=_option(model, "--model")
        if latest
        else (_option(model, "--model") or settings.sources.get("gateway_model_id")),
    )
    gateway["api_key_value"] = redact_secret(key)
    gateway["user_id_source"] = user_source
    gateway["model_id_value"] = chosen or None
    gateway["model_id_present"] = model_ready
    warnings = [state.user_id_error] if state.user_id_error else []
    if latest and not token.ready:
        warnings.append("control plane auth is not ready, so `--model @latest` cannot be resolved yet")
    if latest and token.ready:
        warnings.append(
            "control plane auth is present, but `--model @latest` "
            "still requires a live request to confirm the "
            "current Control Plane inventory can resolve it"
        )
    warnings.append(LOCAL_ONLY)
    steps = r.setup_steps(state, token.ready, need_model=not latest)
    next_steps = list(steps)
    if latest and not token.ready and "tm auth login" not in steps:
        next_steps.append("tm auth login")
    next_steps.append(r.chat_example(model_ready, LATEST if latest else None))
    data = {
        "surface": ON_DEMAND,
        "ready_for_direct_request": state.api_key_present and state.user_id_ready and model_ready,
        "gateway": gateway,
        "latest_resolution": {
            "control_plane_token_present": token.ready,
            "validated_live": False,
            "requires": "control-plane-access-token",
            "requested": latest,
        },
        "warnings": warnings,
        "next_steps": next_steps,
    }
    lines = [
        r.gateway_line(settings.gateway_provider, base, state, model_ready),
        "Latest model resolution prerequisite: "
        + (
            "control plane token present (not live-validated)"
            if token.ready
            else "missing control plane auth"
        ),
    ]
    return data, lines


def _serverless(cli: CliContext, flags: TargetFlags) -> tuple[dict[str, Any], list[str]]:
    from kvmesh.cli.readiness import local as r
    from kvmesh.client import redact_secret

    model, user_id, api_key, base_url = flags.model, flags.user_id, flags.api_key, flags.base_url
    if (user_id or "").strip():
        raise usage_error("--user-id is only used for --surface on-demand.")
    settings = cli.settings
    values = target_values(flags, settings)
    base, key, chosen = values.base, values.api_key, values.model or None
    warnings = []
    if not key:
        warnings.append(
            "inference API key is not configured. Set gateway_api_key "
            "or pass --api-key when sending a request."
        )
    if not chosen:
        warnings.append(
            "serverless requests require --model because model names are not resolved from local config."
        )
    warnings.append(LOCAL_ONLY)
    data = {
        "surface": "serverless",
        "ready_for_direct_request": bool(key and chosen),
        "serverless": {
            "base": base,
            "base_source": _option(base_url, "--base-url") or "default:serverless-base",
            "api_key_present": bool(key),
            "api_key_source": _option(api_key, "--api-key") or settings.sources.get("gateway_api_key"),
            "api_key_value": redact_secret(key),
            "model_id_present": bool(chosen),
            "model_id_source": _option(model, "--model"),
            "model_id_value": chosen,
            "model_requirement": "explicit --model required",
        },
        "warnings": warnings,
        "next_steps": [r.serverless_example(bool(key), chosen, base_url)],
    }
    lines = [
        f"Serverless: base={base} api_key={'present' if key else 'missing'} "
        f"model={'present' if chosen else 'missing'}"
    ]
    return data, lines


@click.command(name="doctor")
@click.option(
    "--surface",
    type=click.Choice(SURFACES, case_sensitive=False),
    default=ON_DEMAND,
    show_default=True,
    help="Inference surface to inspect.",
)
@click.option("--model", default=None, help="Model name to check.")
@click.option("--user-id", default=None, help="X-User-Id to check (UUID). Only used for --surface on-demand.")
@click.option("--api-key", default=None, help="Inference API key to check.")
@click.option("--base-url", default=None, help="Override the base URL for the selected surface.")
@click.option("--exit-status", is_flag=True, help="Exit non-zero when the next request is not ready.")
@click.option(
    "--live",
    is_flag=True,
    help="Also check for real: CP reachable, token valid, model ready, gateway, 1 token.",
)
@pass_target_flags
@pass_cli
def doctor(cli: CliContext, target_flags: TargetFlags, exit_status: bool, live: bool) -> None:
    """Inspect inference readiness for the next request.

    \b
    Examples:
      tm infer doctor
      tm infer doctor --live
      tm infer doctor --surface serverless --model MODEL
    """
    from kvmesh.cli.readiness import local as r

    surface = target_flags.surface.lower()
    build = _on_demand if surface == ON_DEMAND else _serverless
    data, lines = build(cli, target_flags)
    ready = bool(data["ready_for_direct_request"])
    if live:
        from kvmesh.cli.readiness.live import run_live_checks

        checks = run_live_checks(cli, replace(target_flags, surface=surface))
        data["live"] = [{"check": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix} for c in checks]
        ready = ready and all(c.ok for c in checks)
        data["warnings"] = [w for w in data["warnings"] if w != LOCAL_ONLY]
        lines = lines + ["", "Live checks:"] + [c.line() for c in checks]
    if cli.output != "text":
        emit_response(cli, data, json.dumps(data))
    else:
        r.echo_screen("tm infer doctor", lines, warnings=data["warnings"], next_steps=data["next_steps"])
    if (exit_status or live) and not ready:
        raise SystemExit(1)
