"""Where an inference request goes: surface, base URL, API key, X-User-Id and model (§4.2–§4.4)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kvmesh.cli._context import CliContext
from kvmesh.cli._errors import CliError, usage_error
from kvmesh.cli._remote import check_timeout, cli_errors, controlplane_for, transport_for

if TYPE_CHECKING:
    from kvmesh.client import ControlPlaneClient, GatewayClient, Settings

ON_DEMAND = "on-demand"
SERVERLESS = "serverless"
SURFACES = (ON_DEMAND, SERVERLESS)
LATEST = "@latest"
LATEST_NONE = (
    "Failed to resolve @latest: no served models with "
    "modelName/deploymentId found in control plane inventory.\n"
    "Hint: try `tm --output json models list` and look for records with `status = MODEL_STATUS_UP`."
)


@dataclass(frozen=True)
class TargetFlags:
    """The target options as given on the command line, before settings fill the gaps."""

    surface: str
    model: str | None = None
    user_id: str | None = None
    api_key: str | None = None
    base_url: str | None = None


def pass_target_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """Hands the command one `target_flags` instead of the `--surface/--model/--user-id/--api-key/--base-url`
    values (a command without `--model` gets `model=None`)."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        flags = TargetFlags(
            surface=kwargs.pop("surface"),
            model=kwargs.pop("model", None),
            user_id=kwargs.pop("user_id"),
            api_key=kwargs.pop("api_key"),
            base_url=kwargs.pop("base_url"),
        )
        return func(*args, target_flags=flags, **kwargs)

    return run


@dataclass(frozen=True)
class Target:
    surface: str
    base: str
    api_key: str
    user_id: str | None
    model: str | None
    timeout: float

    def client(self, cli: CliContext) -> GatewayClient:
        from kvmesh.client import GatewayClient

        return GatewayClient(
            self.base,
            transport_for(cli),
            api_key=self.api_key or None,
            user_id=self.user_id,
            serverless=self.surface == SERVERLESS,
            timeout=self.timeout,
        )


def has_token(cli: CliContext) -> bool:
    from kvmesh.cli.readiness.local import inspect_token

    return inspect_token(cli.settings.auth_json_path).ready


def derive_user_id(client: ControlPlaneClient) -> str:
    """X-User-Id from the CP profile (`user.id`, else `user.user.id`), canonical UUID."""
    from kvmesh.cli.readiness.local import normalise_user_id

    prefix = "Failed to derive gateway user id from the control plane profile."
    with cli_errors(prefix):
        data, _ = client.profile()
    user = data["user"]
    value = user.get("id")
    if not (isinstance(value, str) and value.strip()) and isinstance(user.get("user"), dict):
        value = user["user"].get("id")
    if not isinstance(value, str) or not value.strip():
        raise CliError(f"{prefix}\nMissing `user.id` in GET /auth/profile response.")
    try:
        return normalise_user_id(value)
    except ValueError as exc:
        raise CliError(f"{prefix}\n{exc}") from None


def resolve_latest(cli: CliContext, timeout: float) -> str:
    """The served name of the newest UP model in the CP inventory (no provider/key requirement)."""
    from kvmesh.client import InventoryError, MalformedResponseError, pick_served_model, served_name

    if not has_token(cli):
        from kvmesh.cli._remote import no_token_usage_error

        raise no_token_usage_error()
    with cli_errors():
        try:
            models, _ = controlplane_for(cli, timeout).list_models()
        except MalformedResponseError as exc:
            raise CliError(f"Failed to resolve @latest: {exc}") from None
    try:
        record = pick_served_model(models, require_api_key=False)
    except InventoryError as exc:
        raise CliError(f"Failed to resolve @latest: {exc}") from None
    if record is None:
        raise CliError(LATEST_NONE)
    return served_name(record)


def _clean(value: str | None) -> str:
    return (value or "").strip()


@dataclass(frozen=True)
class TargetValues:
    """Base URL, API key and model after the precedence (flag, then config), before any validation."""

    base: str
    api_key: str
    model: str  # "" when neither the flag nor (On-Demand only) gateway_model_id gives one


def target_values(flags: TargetFlags, settings: Settings) -> TargetValues:
    """Flags before config: the key comes from gateway_api_key on both surfaces; the base from the
    surface's configured base; the model from gateway_model_id for On-Demand only."""
    on_demand = flags.surface.lower() == ON_DEMAND
    base = _clean(flags.base_url) or (settings.gateway_base if on_demand else settings.serverless_base)
    model = _clean(flags.model) or (_clean(settings.gateway_model_id) if on_demand else "")
    return TargetValues(base.rstrip("/"), _clean(flags.api_key) or _clean(settings.gateway_api_key), model)


def resolve_target(
    cli: CliContext,
    flags: TargetFlags,
    *,
    timeout: float | None,
    require_model: bool = True,
    require_serverless_key: bool = True,
) -> Target:
    check_timeout(timeout)
    settings = cli.settings
    wait = timeout if timeout is not None else settings.timeout_seconds
    values = target_values(flags, settings)
    base, key = values.base, values.api_key
    if flags.surface.lower() == ON_DEMAND:
        if not key:
            message = (
                "Missing gateway API key. Set --api-key, configure gateway_api_key, or run `tm init --sync`."
            )
            if has_token(cli):
                message += (
                    " Note: you appear logged into the control plane; that token is not a gateway API key."
                )
            raise usage_error(message)
        user = _clean(flags.user_id) or _clean(settings.gateway_user_id)
        if not user:
            if not has_token(cli):
                raise usage_error(
                    "Missing gateway user id. Set --user-id, configure "
                    "gateway_user_id, or run `tm auth login` plus "
                    "`tm init --sync` so tm can derive and persist it from your control plane profile."
                )
            user = derive_user_id(controlplane_for(cli, wait))
        from kvmesh.cli.readiness.local import normalise_user_id

        try:
            user = normalise_user_id(user)
        except ValueError as exc:
            raise usage_error(str(exc)) from None
        chosen = values.model or None
        if chosen == LATEST:
            chosen = resolve_latest(cli, wait)
        return Target(ON_DEMAND, base, key, user, chosen, wait)
    if _clean(flags.user_id):
        raise usage_error("--user-id is only used for --surface on-demand.")
    chosen = values.model or None
    if require_serverless_key:
        if not key:
            message = "Missing serverless API key. Set --api-key or configure gateway_api_key."
            if has_token(cli):
                message += (
                    " Note: you appear logged into the control plane; that token is not a serverless API key."
                )
            raise usage_error(message)
        if chosen == LATEST:
            raise usage_error("`--model @latest` is only supported for --surface on-demand.")
    if require_model and not chosen:
        raise usage_error("Missing serverless model name. Set --model when using --surface serverless.")
    return Target(SERVERLESS, base, key, None, chosen, wait)
