"""The commented starter config.toml that `tm config init` writes (same text as the reference client)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kvmesh.client._config_schema import GATEWAY_KEYS, MANAGED_SECTION, OVERRIDES_SECTION

_REFERENCE_ENV_VARS = (
    "TENSORMESH_CONTROL_PLANE_BASE_URL",
    "TENSORMESH_TIMEOUT_SECONDS",
    "TENSORMESH_MAX_RETRIES",
    "TENSORMESH_CA_BUNDLE",
)
_API_KEY_NOTE = "stored inference API key; SDK uses this as `inference_api_key`"
_MODEL_NOTE = "compatibility key; value is sent as `model`"


def toml_value(value: Any) -> str:
    """One TOML value as text: strings as JSON-style basic strings, like the reference client."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    import tomlkit

    return str(tomlkit.item(value).as_string())


def render_template(managed: Mapping[str, Any] | None = None) -> str:
    """The starter file; `managed` values (kept by `--force`) replace the commented examples."""
    lines = [
        "# Tensormesh CLI config (TOML)",
        "#",
        "# Precedence:",
        "#   CLI flags > env vars > [overrides] > [managed] > defaults",
        "#",
        "# Environment variables supported:",
        *(f"#   {name}" for name in _REFERENCE_ENV_VARS),
        "",
        "# Request behavior defaults (overridable per-command)",
        '# controlplane_base = "https://api.tensormesh.ai"',
        "# timeout_seconds must be > 0",
        "# max_retries must be an integer >= 0",
        "timeout_seconds = 30",
        "max_retries = 0",
        '# ca_bundle = "~/.config/tensormesh/ca-bundle.pem"',
        "",
        f"[{OVERRIDES_SECTION}]",
        "# Manual gateway overrides. Uncomment only when you want config.toml to override",
        "# the managed values written by `tm init --sync`.",
        '# gateway_provider = "nebius"',
        f'# gateway_api_key = "..."  # {_API_KEY_NOTE}',
        '# gateway_user_id = "00000000-0000-0000-0000-000000000000"  # optional when tm auth is available',
        f'# gateway_model_id = "your-served-model-name"  # {_MODEL_NOTE}',
        "",
        f"[{MANAGED_SECTION}]",
        "# Managed gateway values written by `tm init --sync`.",
    ]
    if managed:
        order = [key for key in ("synced_at", *GATEWAY_KEYS) if key in managed]
        order += [key for key in managed if key not in order]
        lines.extend(f"{key} = {toml_value(managed[key])}" for key in order)
    else:
        lines.extend(
            [
                '# synced_at = "2026-03-23T00:00:00Z"',
                '# gateway_provider = "nebius"',
                f'# gateway_api_key = "..."  # {_API_KEY_NOTE}',
                '# gateway_user_id = "00000000-0000-0000-0000-000000000000"',
                f'# gateway_model_id = "your-served-model-name"  # {_MODEL_NOTE}',
            ]
        )
    lines.append("")
    return "\n".join(lines)
