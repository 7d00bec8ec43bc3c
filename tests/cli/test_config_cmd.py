"""`tm config show|init|get|set|unset|path` through click's CliRunner with TM_CONFIG_HOME in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from tm_harness import Invoke, mode

pytest_plugins = ("tm_fixtures",)


def test_show_prints_yaml_in_reference_key_order(tm: Invoke, tmp_path: Path) -> None:
    result = tm("config", "show")
    assert result.exit_code == 0
    assert result.stdout == (
        f"config_path: {tmp_path}/config.toml\n"
        "controlplane_base: https://api.tensormesh.ai\n"
        "gateway_provider: nebius\n"
        "gateway_base: https://external.nebius.tensormesh.ai\n"
        f"controlplane_auth_json: {tmp_path}/auth.json\n"
        "gateway_api_key: null\n"
        "gateway_user_id: null\n"
        "gateway_model_id: null\n"
        "ca_bundle: null\n"
        "timeout_seconds: 30.0\n"
        "max_retries: 0\n"
        "serverless_base: https://serverless.tensormesh.ai\n"
    )


def test_show_sources_wraps_values_and_sources(tm: Invoke, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[managed]\ngateway_api_key = "sk-managed-abcdefgh"\n')
    result = tm("--output", "JSON", "--timeout", "5", "config", "show", "--sources")
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    assert list(data) == ["values", "sources"]
    assert data["values"]["gateway_api_key"] == "sk-m...efgh"
    assert data["sources"]["gateway_api_key"] == "managed:gateway_api_key"
    assert data["sources"]["timeout_seconds"] == "--timeout-seconds"
    assert "sk-managed-abcdefgh" not in result.output


def test_corrupt_config_is_a_one_line_error_and_left_alone(tm: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("timeout_seconds = \n")
    result = tm("config", "show")
    assert result.exit_code == 1
    assert (
        result.stderr == f"Error: Invalid config file (TOML): {path}: Invalid value (at line 1, column 19)\n"
    )
    assert tm("config", "set", "max_retries", "2").exit_code == 1
    assert path.read_text() == "timeout_seconds = \n"


def test_unsupported_keys_message(tm: Invoke, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("profiles = {}\n")
    result = tm("config", "show")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: Unsupported keys in {tmp_path}/config.toml: profiles",
        "- profiles: named profiles are no longer supported; "
        "flatten [profiles.*] into top-level keys in config.toml.",
    ]


def test_init_writes_template_0600_and_prints_path(tm: Invoke, tmp_path: Path) -> None:
    result = tm("config", "init")
    path = tmp_path / "config.toml"
    assert (result.exit_code, result.stdout) == (0, f"{path}\n")
    text = path.read_text()
    assert "timeout_seconds = 30\nmax_retries = 0\n" in text
    assert "\n[overrides]\n" in text and "\n[managed]\n" in text
    assert mode(path) == 0o600


def test_init_refuses_existing_file_without_force(tm: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("x = 1\n")
    result = tm("config", "init")
    assert result.exit_code == 1
    assert result.stderr == f"Error: Config already exists: {path} (use --force to overwrite)\n"
    assert path.read_text() == "x = 1\n"


def test_init_force_keeps_managed_values(tm: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[managed]\ngateway_user_id = "u"\nsynced_at = "s"\n')
    assert tm("config", "init", "--force").exit_code == 0
    assert path.read_text().endswith(
        "[managed]\n# Managed gateway values written by `tm init --sync`.\n"
        'synced_at = "s"\ngateway_user_id = "u"\n'
    )


def test_init_works_with_a_broken_config_elsewhere(tm: Invoke, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("broken = \n")
    target = tmp_path / "new.toml"
    assert tm("config", "init", "--path", str(target)).exit_code == 0
    assert target.is_file()


def test_set_keeps_comments_and_is_0600(tm: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# my notes\nmax_retries = 1  # keep me\n\n[overrides]\n# about keys\n")
    path.chmod(0o644)
    result = tm("config", "set", "overrides.gateway_user_id", "u-1")
    assert result.exit_code == 0, result.output
    assert tm("config", "set", "max_retries", "3").exit_code == 0
    assert path.read_text() == (
        '# my notes\nmax_retries = 3  # keep me\n\n[overrides]\n# about keys\ngateway_user_id = "u-1"\n'
    )
    assert mode(path) == 0o600


def test_set_typed_values_resolve(tm: Invoke, tmp_path: Path) -> None:
    assert tm("config", "set", "timeout_seconds", "2.5").exit_code == 0
    assert tm("config", "set", "gateway_base", "http://127.0.0.1:8081/").exit_code == 0
    assert tm("config", "set", "overrides.gateway_provider", "Lambda").exit_code == 0
    text = (tmp_path / "config.toml").read_text()
    assert 'timeout_seconds = 2.5\ngateway_base = "http://127.0.0.1:8081"\n' in text
    assert 'gateway_provider = "lambda"' in text
    assert tm("config", "get", "gateway_base").stdout == "http://127.0.0.1:8081\n"


def test_set_redacts_api_keys_in_its_message(tm: Invoke) -> None:
    result = tm("config", "set", "overrides.gateway_api_key", "tmk_abcdefghijklmnop")
    assert result.exit_code == 0
    assert "tmk_abcdefghijklmnop" not in result.output
    assert "tmk_...mnop" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("timeout_seconds", "abc"), "Error: Invalid value for timeout_seconds: 'abc'. Expected a number."),
        (("timeout_seconds", "0"), "Error: Timeout must be greater than 0 seconds."),
        (("max_retries", "1.5"), "Error: Invalid value for max_retries: '1.5'. Expected an integer."),
        (
            ("overrides.gateway_provider", "aws"),
            "Error: Invalid value for overrides.gateway_provider: 'aws'.",
        ),
        (
            ("gateway_base", "gw.local"),
            "Error: Invalid value for gateway_base: 'gw.local'. Expected an http://",
        ),
        (("colour", "blue"), "Error: Unsupported config key: colour. Supported keys: controlplane_base,"),
        (("gateway_api_key", "k"), "Error: Unsupported config key: gateway_api_key."),
    ],
)
def test_set_rejects_bad_keys_and_values_with_exit_2(
    tm: Invoke, tmp_path: Path, args: tuple[str, str], message: str
) -> None:
    result = tm("config", "set", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_set_refuses_managed_with_sync_hint(tm: Invoke) -> None:
    result = tm("config", "set", "managed.gateway_api_key", "k")
    assert result.exit_code == 2
    assert "[managed] is rewritten by `tm init --sync`" in result.stderr
    assert "Hint: run `tm init --sync`" in result.stderr


def test_unset_removes_a_key_and_is_idempotent(tm: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# c\nmax_retries = 4\n[overrides]\ngateway_model_id = "m"\n')
    assert tm("config", "unset", "overrides.gateway_model_id").exit_code == 0
    assert tm("config", "unset", "max_retries").exit_code == 0
    assert path.read_text() == "# c\n[overrides]\n"
    again = tm("config", "unset", "max_retries")
    assert (again.exit_code, again.stdout) == (0, f"Not set: max_retries in {path}\n")


def test_get_reads_resolved_settings_and_file_keys(tm: Invoke, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[managed]\nsynced_at = "2026-01-01T00:00:00Z"\n')
    assert tm("config", "get", "max_retries").stdout == "0\n"
    assert tm("config", "get", "managed.synced_at").stdout == "2026-01-01T00:00:00Z\n"
    unset = tm("config", "get", "gateway_user_id")
    assert (unset.exit_code, unset.stderr) == (1, "Error: gateway_user_id is not set.\n")
    assert tm("config", "get", "nope").exit_code == 2


def test_path_follows_the_config_flag(tm: Invoke, tmp_path: Path) -> None:
    assert tm("config", "path").stdout == f"{tmp_path}/config.toml\n"
    assert tm("--config", "/tmp/else.toml", "config", "path").stdout == "/tmp/else.toml\n"
