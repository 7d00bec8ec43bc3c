"""Local readiness of Control Plane auth and Gateway settings, shared by `auth status`, `init`, doctors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kvmesh.client import Settings, redact_secret

INVALID_USER_ID = "Invalid gateway user id. `X-User-Id` must be a UUID."
HELLO_JSON = '\'[{"role":"user","content":"Say hello."}]\''


def normalise_user_id(value: str) -> str:
    """Canonical lower-case 8-4-4-4-12 form; accepts upper case, no hyphens, braces, `urn:uuid:`.

    The same forms `uuid.UUID` accepts, without importing `uuid` (it pulls in `platform`, ~14 ms).
    """
    digits = value.strip().replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    if len(digits) != 32 or any(ch not in "0123456789abcdef" for ch in digits):
        raise ValueError(INVALID_USER_ID)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


@dataclass(frozen=True)
class TokenState:
    auth_json_path: str
    auth_json_exists: bool
    access_token_present: bool
    error: str | None

    @property
    def ready(self) -> bool:
        return self.access_token_present and self.error is None


@dataclass(frozen=True)
class GatewayState:
    api_key_present: bool
    user_id_value: str | None
    user_id_valid: bool
    user_id_error: str | None
    user_id_derived: bool
    model_id_present: bool

    @property
    def user_id_present(self) -> bool:
        return self.user_id_value is not None

    @property
    def user_id_ready(self) -> bool:
        return self.user_id_valid or self.user_id_derived

    @property
    def ready_for_direct_request(self) -> bool:
        return self.api_key_present and self.user_id_ready and self.model_id_present


def inspect_token(path: Path) -> TokenState:
    from kvmesh.client import TokenFileError, read_token_file

    if not path.exists():
        return TokenState(str(path), False, False, None)
    try:
        return TokenState(str(path), True, read_token_file(path) is not None, None)
    except TokenFileError as exc:
        return TokenState(str(path), True, False, str(exc))


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


def inspect_gateway(
    settings: Settings,
    token: TokenState,
    *,
    api_key: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
) -> GatewayState:
    user = _clean(user_id) or _clean(settings.gateway_user_id)
    valid, error = False, None
    if user is not None:
        try:
            normalise_user_id(user)
            valid = True
        except ValueError as exc:
            error = str(exc)
    return GatewayState(
        api_key_present=bool(_clean(api_key) or _clean(settings.gateway_api_key)),
        user_id_value=user,
        user_id_valid=valid,
        user_id_error=error,
        user_id_derived=user is None and token.ready,
        model_id_present=bool(_clean(model) or _clean(settings.gateway_model_id)),
    )


@dataclass(frozen=True)
class LocalReadiness:
    """The token and Gateway settings as found on disk: what every status screen starts from."""

    token: TokenState
    gateway: GatewayState

    @property
    def gateway_ready(self) -> bool:
        return self.gateway.api_key_present and self.gateway.user_id_ready

    @property
    def overall(self) -> bool:
        return self.token.ready and self.gateway_ready

    def ready_data(self) -> dict[str, bool]:
        """The `ready` object of `auth status` / `doctor` JSON."""
        return {"control_plane": self.token.ready, "gateway": self.gateway_ready, "overall": self.overall}

    def state_warnings(self, *, user_id: bool = True) -> list[str]:
        """An unreadable auth.json, then (with `user_id`) an invalid gateway user id."""
        warnings = [f"control_plane_auth_json invalid ({self.token.error})"] if self.token.error else []
        if user_id and self.gateway.user_id_error:
            warnings.append(self.gateway.user_id_error)
        return warnings

    def missing_items(self) -> list[str]:
        """What blocks the next request, each with the command that fixes it (empty when ready)."""
        if self.overall:
            return []
        items = (
            [] if self.token.access_token_present else ["control_plane_access_token (run `tm auth login`)"]
        )
        gateway = self.gateway
        if not gateway.api_key_present:
            items.append("gateway_api_key (set in config/runtime or run `tm init --sync`)")
        if not gateway.user_id_present and not gateway.user_id_derived:
            items.append("gateway_user_id (set in config/runtime or run `tm init --sync`)")
        elif not gateway.user_id_valid:
            items.append("gateway_user_id invalid (set a UUID in config/runtime or rerun `tm init --sync`)")
        return items


def inspect_local(settings: Settings) -> LocalReadiness:
    token = inspect_token(settings.auth_json_path)
    return LocalReadiness(token, inspect_gateway(settings, token))


def control_plane_data(settings: Settings, token: TokenState) -> dict[str, Any]:
    return {
        "base": settings.controlplane_base,
        "auth_json_path": token.auth_json_path,
        "auth_json_exists": token.auth_json_exists,
        "access_token_present": token.access_token_present,
        "auth_json_source": settings.sources.get("controlplane_auth_json"),
        "error": token.error,
    }


def gateway_data(settings: Settings, state: GatewayState, **override: Any) -> dict[str, Any]:
    """The `gateway` object of status/doctor JSON; keyword overrides replace base/source/value entries."""
    sources = settings.sources
    data = {
        "provider": settings.gateway_provider,
        "base": settings.gateway_base,
        "base_source": sources.get("gateway_base"),
        "api_key_present": state.api_key_present,
        "api_key_source": sources.get("gateway_api_key"),
        "api_key_value": redact_secret(settings.gateway_api_key),
        "user_id_present": state.user_id_present,
        "user_id_value": state.user_id_value,
        "user_id_valid": state.user_id_valid,
        "user_id_ready": state.user_id_ready,
        "user_id_derived_from_controlplane": state.user_id_derived,
        "user_id_error": state.user_id_error,
        "user_id_source": sources.get("gateway_user_id")
        or ("derived-from:controlplane-auth" if state.user_id_derived else None),
        "model_id_present": state.model_id_present,
        "model_id_source": sources.get("gateway_model_id"),
        "model_id_value": settings.gateway_model_id,
    }
    data.update({key: value for key, value in override.items() if value is not None})
    return data


def control_plane_line(
    base: str, token_present: bool, auth_json: str | None = None, source: str | None = None
) -> str:
    line = f"Control Plane: base={base} token={'present' if token_present else 'missing'}"
    if auth_json is not None:
        line += f" auth_json={auth_json}"
    if source is not None:
        line += f" source={source}"
    return line


def gateway_line(provider: str, base: str, state: GatewayState, model_present: bool | None = None) -> str:
    user = "present" if state.user_id_valid else "derived" if state.user_id_derived else "missing"
    model = state.model_id_present if model_present is None else model_present
    key = "present" if state.api_key_present else "missing"
    return (
        f"Gateway: provider={provider} base={base} api_key={key} "
        f"user_id={user} model_id={'present' if model else 'missing'}"
    )


def setup_steps(state: GatewayState, cp_ready: bool, *, need_model: bool = True) -> list[str]:
    """What to run so the gateway settings are complete: nothing, `init --sync`, or login first."""
    if state.api_key_present and state.user_id_ready and (state.model_id_present or not need_model):
        return []
    return ["tm init --sync"] if cp_ready else ["tm auth login", "tm init --sync"]


def chat_example(model_configured: bool, model: str | None = None) -> str:
    if model is not None:
        shown = model if model == "@latest" else f'"{model}"'
        return f"tm infer chat --model {shown} --json {HELLO_JSON}"
    if model_configured:
        return f"tm infer chat --json {HELLO_JSON}"
    return f'tm infer chat --model "YOUR_SERVED_GATEWAY_MODEL_NAME" --json {HELLO_JSON}'


def serverless_example(api_key_available: bool, model: str | None = None, base_url: str | None = None) -> str:
    parts = ["tm infer chat --surface serverless"]
    if base_url:
        parts.append(f'--base-url "{base_url}"')
    if not api_key_available:
        parts.append('--api-key "YOUR_INFERENCE_API_KEY"')
    parts.append(
        f'--model "{model.strip()}"' if model and model.strip() else '--model "YOUR_SERVERLESS_MODEL_NAME"'
    )
    parts.append(f"--json {HELLO_JSON}")
    return " ".join(parts)


def numbered(title: str, items: list[str]) -> list[str]:
    return ["", f"{title}:", *(f"{i}. {item}" for i, item in enumerate(items, 1))] if items else []


def bulleted(title: str, items: list[str]) -> list[str]:
    return ["", f"{title}:", *(f"- {item}" for item in items)] if items else []


def echo_screen(
    title: str,
    lines: list[str],
    *,
    missing: list[str] | None = None,
    warnings: list[str] | None = None,
    next_steps: list[str] | None = None,
    optional_steps: list[str] | None = None,
) -> None:
    """The text screen of status-like commands: title, blank line, lines, then titled lists."""
    import click

    out = [title, "", *lines]
    out += bulleted("Missing", missing or [])
    out += bulleted("Warnings", warnings or [])
    out += numbered("Next steps", next_steps or [])
    out += numbered("Optional next steps", optional_steps or [])
    click.echo("\n".join(out))
