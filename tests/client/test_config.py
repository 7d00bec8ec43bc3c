"""Config resolution: precedence per key, source labels and error messages (protocol.md §1.3–1.5, Part A)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmesh.client import ConfigError, GlobalOptions, Settings, public_settings, resolve_settings


def _resolve(
    root: Path, toml: str | None = None, options: GlobalOptions | None = None, **env: str
) -> Settings:
    if toml is not None:
        (root / "config.toml").write_text(toml)
    return resolve_settings(options or GlobalOptions(), {"TM_CONFIG_HOME": str(root), **env})


def _error(root: Path, toml: str | None = None, options: GlobalOptions | None = None, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        _resolve(root, toml, options, **env)
    return str(info.value)


def test_built_in_defaults_and_labels(tmp_path: Path) -> None:
    s = _resolve(tmp_path)
    assert (s.controlplane_base, s.gateway_provider, s.gateway_base) == (
        "https://api.tensormesh.ai",
        "nebius",
        "https://external.nebius.tensormesh.ai",
    )
    assert (s.serverless_base, s.timeout_seconds, s.max_retries) == (
        "https://serverless.tensormesh.ai",
        30.0,
        0,
    )
    assert s.config_exists is False
    assert s.auth_json_path == tmp_path / "auth.json"
    assert dict(s.sources) == {
        "config_path": "built-in:config_path",
        "controlplane_base": "built-in:controlplane_base",
        "controlplane_auth_json": "built-in:controlplane_auth_json",
        "gateway_provider": "built-in:gateway_provider",
        "gateway_base": "derived-from:built-in:gateway_provider",
        "gateway_api_key": None,
        "gateway_user_id": None,
        "gateway_model_id": None,
        "ca_bundle": None,
        "timeout_seconds": "built-in:timeout_seconds",
        "max_retries": "built-in:max_retries",
        "serverless_base": "built-in:serverless_base",
    }


def test_flag_beats_env_beats_config(tmp_path: Path) -> None:
    toml = (
        'controlplane_base = "http://file"\ntimeout_seconds = 5\nmax_retries = 1\nca_bundle = "/file.pem"\n'
    )
    env = {
        "TENSORMESH_CONTROL_PLANE_BASE_URL": "http://env/",
        "TENSORMESH_TIMEOUT_SECONDS": "6",
        "TENSORMESH_MAX_RETRIES": "2",
        "TENSORMESH_CA_BUNDLE": "/env.pem",
    }
    from_file = _resolve(tmp_path, toml)
    assert from_file.controlplane_base == "http://file"
    assert from_file.sources["timeout_seconds"] == "config:timeout_seconds"
    from_env = _resolve(tmp_path, None, None, **env)
    assert (from_env.controlplane_base, from_env.timeout_seconds, from_env.max_retries) == (
        "http://env",
        6.0,
        2,
    )
    assert from_env.sources["controlplane_base"] == "TENSORMESH_CONTROL_PLANE_BASE_URL"
    assert from_env.sources["ca_bundle"] == "TENSORMESH_CA_BUNDLE"
    flags = GlobalOptions(controlplane_base="http://flag", ca_bundle="/flag.pem", timeout=7, max_retries=3)
    from_flag = _resolve(tmp_path, None, flags, **env)
    assert (from_flag.controlplane_base, from_flag.ca_bundle, from_flag.timeout_seconds) == (
        "http://flag",
        "/flag.pem",
        7.0,
    )
    assert [
        from_flag.sources[k] for k in ("controlplane_base", "ca_bundle", "timeout_seconds", "max_retries")
    ] == [
        "--controlplane-base",
        "--ca-bundle",
        "--timeout-seconds",  # the reference client's label for the global --timeout
        "--max-retries",
    ]


def test_overrides_beat_managed_and_top_level_gateway_keys_are_ignored(tmp_path: Path) -> None:
    toml = """
gateway_api_key = "legacy-top-level"
[managed]
gateway_provider = "lambda"
gateway_api_key = "managed-key-123"
gateway_user_id = "managed-user"
[overrides]
gateway_user_id = "override-user"
gateway_model_id = "   "
"""
    s = _resolve(tmp_path, toml)
    assert (s.gateway_provider, s.gateway_api_key, s.gateway_user_id, s.gateway_model_id) == (
        "lambda",
        "managed-key-123",
        "override-user",
        None,
    )
    assert s.gateway_base == "https://external.lambda.tensormesh.ai"
    assert s.sources["gateway_base"] == "derived-from:managed:gateway_provider"
    assert s.sources["gateway_api_key"] == "managed:gateway_api_key"
    assert s.sources["gateway_user_id"] == "config:gateway_user_id"


def test_blank_override_falls_through_to_managed(tmp_path: Path) -> None:
    s = _resolve(tmp_path, '[managed]\ngateway_model_id = "m"\n[overrides]\ngateway_model_id = " "\n')
    assert (s.gateway_model_id, s.sources["gateway_model_id"]) == ("m", "managed:gateway_model_id")


def test_gateway_provider_flag_is_case_insensitive(tmp_path: Path) -> None:
    s = _resolve(tmp_path, None, GlobalOptions(gateway_provider=" YOTTA "))
    assert (s.gateway_provider, s.sources["gateway_base"]) == ("yotta", "derived-from:--gateway-provider")


@pytest.mark.parametrize(
    ("toml", "env", "value", "source"),
    [
        ('gateway_base = "http://top/"', {}, "http://top", "config:gateway_base"),
        (
            'gateway_base = "http://top"\n[managed]\ngateway_base = "http://m"',
            {},
            "http://m",
            "managed:gateway_base",
        ),
        (
            'gateway_base = "http://top"\n[managed]\ngateway_base = "http://m"\n[overrides]\ngateway_base = "http://o"',
            {},
            "http://o",
            "config:gateway_base",
        ),
        (
            '[overrides]\ngateway_base = "http://o"',
            {"TENSORMESH_GATEWAY_BASE_URL": "http://env"},
            "http://env",
            "TENSORMESH_GATEWAY_BASE_URL",
        ),
    ],
)
def test_gateway_base_precedence(
    tmp_path: Path, toml: str, env: dict[str, str], value: str, source: str
) -> None:
    s = _resolve(tmp_path, toml, None, **env)
    assert (s.gateway_base, s.sources["gateway_base"]) == (value, source)


def test_serverless_base_from_env_and_config(tmp_path: Path) -> None:
    s = _resolve(tmp_path, '[managed]\nserverless_base = "http://gw/"\n')
    assert (s.serverless_base, s.sources["serverless_base"]) == ("http://gw", "managed:serverless_base")
    s = _resolve(tmp_path, None, None, TENSORMESH_SERVERLESS_BASE_URL="http://env")
    assert (s.serverless_base, s.sources["serverless_base"]) == (
        "http://env",
        "TENSORMESH_SERVERLESS_BASE_URL",
    )


def test_base_url_must_be_http(tmp_path: Path) -> None:
    assert _error(tmp_path, 'gateway_base = "gw.local"') == (
        "Invalid value for gateway_base from config:gateway_base: 'gw.local'. "
        "Expected an http:// or https:// URL."
    )


def test_config_flag_label_and_default_equivalence(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("max_retries = 4\n")
    s = _resolve(tmp_path, None, GlobalOptions(config_path=other))
    assert (s.config_path, s.max_retries, s.sources["config_path"]) == (other, 4, "--config")
    s = _resolve(tmp_path, None, GlobalOptions(config_path=tmp_path / "config.toml"))
    assert s.sources["config_path"] == "built-in:config_path"
    assert s.auth_json_path == tmp_path / "auth.json"  # --config never moves auth.json


def test_numeric_strings_are_accepted(tmp_path: Path) -> None:
    s = _resolve(tmp_path, 'timeout_seconds = " 2.5 "\nmax_retries = "3"\n')
    assert (s.timeout_seconds, s.max_retries) == (2.5, 3)


def test_ca_bundle_expands_tilde(tmp_path: Path) -> None:
    assert _resolve(tmp_path, 'ca_bundle = "~/ca.pem"').ca_bundle == str(Path.home() / "ca.pem")


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            'timeout_seconds = "abc"',
            {},
            "Invalid value for timeout_seconds from config:timeout_seconds: 'abc'. Expected a number.",
        ),
        (
            "timeout_seconds = true",
            {},
            "Invalid value for timeout_seconds from config:timeout_seconds: True. Expected a number.",
        ),
        (
            "max_retries = 1.5",
            {},
            "Invalid value for max_retries from config:max_retries: 1.5. Expected an integer.",
        ),
        (
            "",
            {"TENSORMESH_MAX_RETRIES": "x"},
            "Invalid value for max_retries from TENSORMESH_MAX_RETRIES: 'x'. Expected an integer.",
        ),
        (
            "controlplane_base = 5",
            {},
            "Invalid value for controlplane_base from config:controlplane_base: 5. Expected a string.",
        ),
        (
            "[overrides]\ngateway_api_key = 5",
            {},
            "Invalid value for gateway_api_key from config:gateway_api_key: 5. Expected a string.",
        ),
        (
            '[overrides]\ngateway_provider = "aws"',
            {},
            "Invalid value for gateway_provider from config:gateway_provider: 'aws'. "
            "Expected one of: nebius, lambda, yotta.",
        ),
        ("timeout_seconds = 0", {}, "Timeout must be greater than 0 seconds."),
        ("max_retries = -1", {}, "Max retries must be greater than or equal to 0."),
        ("managed = 3", {}, "Invalid config file: [managed] must be a TOML table."),
        ("overrides = 3", {}, "Invalid config file: [overrides] must be a TOML table."),
    ],
)
def test_wrong_types_name_key_source_and_value(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    assert _error(tmp_path, toml, None, **env) == message


def test_toml_parse_error_is_one_line_with_path(tmp_path: Path) -> None:
    message = _error(tmp_path, "timeout_seconds = \n")
    assert (
        message
        == f"Invalid config file (TOML): {tmp_path / 'config.toml'}: Invalid value (at line 1, column 19)"
    )


def test_unsupported_keys_are_listed_with_hints(tmp_path: Path) -> None:
    message = _error(tmp_path, 'controlplane_auth_json = "y"\nprofile = "x"\n')
    assert message == (
        f"Unsupported keys in {tmp_path / 'config.toml'}: profile, controlplane_auth_json\n"
        "- profile: named profiles are no longer supported; "
        "move those values to top-level keys in config.toml.\n"
        "- controlplane_auth_json: control plane auth always uses $TM_CONFIG_HOME/auth.json."
    )


def test_unknown_keys_and_tables_are_accepted(tmp_path: Path) -> None:
    assert _resolve(tmp_path, 'colour = "blue"\n[extra]\nx = 1\n').max_retries == 0


def test_public_settings_keep_reference_order_then_ours(tmp_path: Path) -> None:
    s = _resolve(tmp_path, '[overrides]\ngateway_api_key = "sk-model-new"\n')
    values = public_settings(s)
    assert list(values) == [
        "config_path",
        "controlplane_base",
        "gateway_provider",
        "gateway_base",
        "controlplane_auth_json",
        "gateway_api_key",
        "gateway_user_id",
        "gateway_model_id",
        "ca_bundle",
        "timeout_seconds",
        "max_retries",
        "serverless_base",
    ]
    assert values["gateway_api_key"] == "sk-m...-new"
