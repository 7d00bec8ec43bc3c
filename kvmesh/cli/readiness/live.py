"""`tm infer doctor --live`: each step of the first request checked for real, each failure with its fix."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kvmesh.cli._context import CliContext

if TYPE_CHECKING:
    from kvmesh.cli._infer_target import TargetFlags

PING = [{"role": "user", "content": "ping"}]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{'ok' if self.ok else 'fail'}  {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text} -> fix: {self.fix}"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _control_plane_checks(cli: CliContext, model: str | None) -> tuple[list[Check], str | None]:
    """CP reachable, token valid, served model ready; returns the model the gateway should serve."""
    from kvmesh.cli._remote import controlplane_for
    from kvmesh.client import (
        HttpStatusError,
        MissingTokenError,
        NetworkError,
        TokenFileError,
        pick_served_model,
        served_name,
    )

    settings = cli.settings
    base = settings.controlplane_base
    client = controlplane_for(cli)
    checks: list[Check] = []
    try:
        client.profile()
    except NetworkError as exc:
        fix = (
            f"start it (`tm local up`) or point tm at it: tm --controlplane-base URL auth login (now {base})"
        )
        return [Check("control plane reachable", False, _first_line(exc), fix)], None
    except (MissingTokenError, TokenFileError) as exc:
        checks.append(Check("control plane reachable", True, base))
        return [*checks, Check("control plane token valid", False, _first_line(exc), "tm auth login")], None
    except HttpStatusError as exc:
        checks.append(Check("control plane reachable", True, base))
        return [
            *checks,
            Check("control plane token valid", False, f"HTTP {exc.status}", "tm auth login"),
        ], None
    except Exception as exc:
        return [Check("control plane reachable", False, _first_line(exc), "check the server logs")], None
    checks += [
        Check("control plane reachable", True, base),
        Check("control plane token valid", True, "profile ok"),
    ]
    wanted = (model or settings.gateway_model_id or "").strip() or None
    try:
        records, _ = client.list_models()
    except Exception as exc:
        return [*checks, Check("served model ready", False, _first_line(exc), "tm models list")], wanted
    if wanted in (None, "@latest"):
        record = pick_served_model(records, require_api_key=False)
        if record is None:
            return [
                *checks,
                Check("served model ready", False, "no served model is up", "tm deployments create --wait"),
            ], None
        wanted = served_name(record)
        return [*checks, Check("served model ready", True, f"{wanted} is up")], wanted
    matches = [r for r in records if isinstance(r, dict) and served_name(r) == wanted]
    up = [r for r in matches if r.get("status") == "MODEL_STATUS_UP"]
    if up:
        return [*checks, Check("served model ready", True, f"{wanted} is up")], wanted
    if matches:
        record = matches[0]
        status = record.get("status")
        dep = record.get("deploymentId") or record.get("modelId")
        return [
            *checks,
            Check("served model ready", False, f"{wanted} is {status}", f"tm deployments wait {dep}"),
        ], wanted
    fix = f"tm deployments create --name {wanted} --wait, then tm init --sync"
    return [*checks, Check("served model ready", False, f"no deployment named {wanted}", fix)], wanted


def _gateway_checks(cli: CliContext, target: Any) -> list[Check]:
    from kvmesh.client import HttpStatusError, TransportError

    client = target.client(cli)
    try:
        client.health()
        checks = [Check("gateway reachable", True, target.base)]
    except HttpStatusError as exc:
        checks = [Check("gateway reachable", True, f"{target.base} (health answered HTTP {exc.status})")]
    except TransportError as exc:
        fix = "check the gateway base: tm config show (gateway_base), or rerun tm init --sync"
        return [Check("gateway reachable", False, _first_line(exc), fix)]
    try:
        client.chat({"model": target.model, "messages": PING, "max_tokens": 1})
        checks.append(Check("1-token request", True, f"model {target.model} answered"))
    except HttpStatusError as exc:
        fixes = {
            401: "tm init --sync (or pass --api-key)",
            404: "tm init --sync (or pass --model with a served name)",
        }
        fix = fixes.get(exc.status or 0, 'tm --debug infer chat --json \'[{"role":"user","content":"hi"}]\'')
        checks.append(Check("1-token request", False, _first_line(exc), fix))
    except TransportError as exc:
        checks.append(
            Check(
                "1-token request", False, _first_line(exc), "retry; check the engine with tm deployments list"
            )
        )
    return checks


def run_live_checks(cli: CliContext, flags: TargetFlags) -> list[Check]:
    import click

    from kvmesh.cli._errors import CliError
    from kvmesh.cli._infer_target import ON_DEMAND, resolve_target

    checks: list[Check] = []
    if flags.surface == ON_DEMAND:
        checks, resolved = _control_plane_checks(cli, flags.model)
        flags = replace(flags, model=resolved or flags.model)
    try:
        target = resolve_target(cli, flags, timeout=None)
    except (click.UsageError, CliError) as exc:
        return [
            *checks,
            Check("gateway settings", False, exc.format_message().splitlines()[0], "tm init --sync"),
        ]
    if not target.model:
        return [
            *checks,
            Check("gateway settings", False, "no model configured", "tm init --sync (or pass --model)"),
        ]
    return checks + _gateway_checks(cli, target)
