"""`tm init` (local screen) and `tm init --sync` (fills [managed] from the Control Plane, keeps the rest)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tm_harness import Invoke, closed_port, mode, write_tokens
from tm_standin import GATEWAY_KEY, USER_ID, Standin

pytest_plugins = ("tm_fixtures",)


def _config(home: Path) -> dict[str, object]:
    return tomllib.loads((home / "config.toml").read_text())


def test_init_on_fresh_state_lists_login_then_sync(tm: Invoke, tmp_path: Path) -> None:
    result = tm("init")
    assert result.exit_code == 0
    assert f"Config: missing ({tmp_path / 'config.toml'})" in result.stdout
    assert "Next steps:\n1. tm auth login\n2. tm init --sync\n3. tm infer doctor\n" in result.stdout


def test_sync_stores_deployment_key_model_and_endpoint(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    result = tm("--controlplane-base", standin.base, "init", "--sync")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Synced managed config: {tmp_path / 'config.toml'}\n")
    assert f"user_id={USER_ID} model_id=smollm2-135m-instruct" in result.stdout
    config = _config(tmp_path)
    managed = config["managed"]
    assert isinstance(managed, dict)
    assert managed["gateway_api_key"] == GATEWAY_KEY
    assert managed["gateway_base"] == standin.base
    assert managed["gateway_model_id"] == "smollm2-135m-instruct"
    assert config["controlplane_base"] == standin.base
    assert config["overrides"] == {}
    assert mode(tmp_path / "config.toml") == 0o600


def test_sync_keeps_comments_and_overrides_and_drops_legacy_keys(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    write_tokens(tmp_path)
    (tmp_path / "config.toml").write_text(
        f'# my notes\ncontrolplane_base = "{standin.base}"\n'
        'gateway_api_key = "legacy"\ntimeout_seconds = 12 # slow\n\n'
        '[overrides]\ngateway_user_id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"\n\n'
        '[managed]\ngateway_provider = "lambda"\nstale = 1\n'
    )
    assert tm("init", "--sync").exit_code == 0
    text = (tmp_path / "config.toml").read_text()
    assert "# my notes" in text and "timeout_seconds = 12 # slow" in text
    config = _config(tmp_path)
    assert "gateway_api_key" not in config
    assert config["overrides"] == {"gateway_user_id": USER_ID}
    assert "stale" not in config["managed"] and "gateway_provider" not in config["managed"]  # type: ignore[operator]


def test_sync_twice_gives_the_same_file_but_the_timestamp(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    write_tokens(tmp_path)
    assert tm("--controlplane-base", standin.base, "init", "--sync").exit_code == 0
    first = (tmp_path / "config.toml").read_text().splitlines()
    assert tm("init", "--sync").exit_code == 0
    second = (tmp_path / "config.toml").read_text().splitlines()
    assert [line for line in first if "synced_at" not in line] == [
        line for line in second if "synced_at" not in line
    ]


def test_sync_without_token_is_a_usage_error(tm: Invoke) -> None:
    result = tm("init", "--sync")
    assert result.exit_code == 2
    assert "Error: No control plane access token found. Run `tm auth login` first." in result.stderr


def test_sync_without_deployment_falls_back_to_newest_api_key(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    write_tokens(tmp_path)
    standin.state.models.clear()
    standin.state.api_keys[:] = [
        {"id": "tmk_old", "createdAt": "2026-01-01T00:00:00Z"},
        {"id": "tmk_new", "createdAt": "2026-02-01T00:00:00.123456789Z"},
        {"id": "tmk_gone", "createdAt": "2026-03-01T00:00:00Z", "deletedAt": "2026-03-02T00:00:00Z"},
    ]
    result = tm("--controlplane-base", standin.base, "--output", "json", "init", "--sync")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["gateway_model_id"] is None and data["gateway_provider"] is None
    assert _config(tmp_path)["managed"]["gateway_api_key"] == "tmk_new"  # type: ignore[index]
    assert "tm deployments create --wait" in result.stderr


def test_sync_with_nothing_usable_says_what_to_do(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    standin.state.models.clear()
    result = tm("--controlplane-base", standin.base, "init", "--sync")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Failed to sync managed gateway config: no "
        "active user API keys found in control plane inventory."
    )
    assert "tm deployments create --wait" in result.stderr


def test_sync_rejects_a_bad_timestamp(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    standin.state.models[0]["updatedAt"] = "yesterday"
    result = tm("--controlplane-base", standin.base, "init", "--sync")
    assert result.exit_code == 1
    assert (
        "Error: Failed to sync managed gateway config: model 'smollm2-135m-instruct' has invalid metadata: "
        "updatedAt must be a valid RFC3339 timestamp." in result.stderr
    )


def test_sync_with_control_plane_down_fails_cleanly(tm: Invoke, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    result = tm("--controlplane-base", f"http://127.0.0.1:{closed_port()}", "init", "--sync")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Failed to derive gateway user id from the "
        "control plane profile.\nRequest failed (network error):"
    )
    assert not (tmp_path / "config.toml").exists()


def test_sync_with_malformed_inventory_is_a_clean_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    standin.state.canned[("GET", "/v1/models")] = (200, b'{"items": []}')
    result = tm("--controlplane-base", standin.base, "init", "--sync")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Malformed success response from the control plane: missing `models`."
    )
    assert "Traceback" not in result.output


def test_sync_retries_a_busy_control_plane_when_asked(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    standin.state.fail_next[:] = [503]
    result = tm("--controlplane-base", standin.base, "--max-retries", "1", "init", "--sync")
    assert result.exit_code == 0, result.output


def test_sync_stores_the_account_key_by_default_so_every_deployment_works(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    write_tokens(tmp_path)
    standin.state.api_keys[:] = [{"id": "tmk_account", "createdAt": "2026-02-01T00:00:00Z"}]
    assert tm("--controlplane-base", standin.base, "init", "--sync").exit_code == 0
    managed = _config(tmp_path)["managed"]
    assert managed["gateway_api_key"] == "tmk_account"  # type: ignore[index]
    assert managed["gateway_model_id"] == "smollm2-135m-instruct"  # type: ignore[index]


def test_sync_with_deployment_key_scope_stores_the_deployments_own_key(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    write_tokens(tmp_path)
    standin.state.api_keys[:] = [{"id": "tmk_account", "createdAt": "2026-02-01T00:00:00Z"}]
    result = tm("--controlplane-base", standin.base, "init", "--sync", "--key-scope", "deployment")
    assert result.exit_code == 0, result.output
    assert _config(tmp_path)["managed"]["gateway_api_key"] == GATEWAY_KEY  # type: ignore[index]
