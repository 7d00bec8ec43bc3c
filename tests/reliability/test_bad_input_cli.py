"""Hypothesis on the CLI's input parsers: `--json` text and config.toml files give one-line errors only."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import tomlkit
from bad_input_profile import bounded
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from kvmesh.cli import cli
from kvmesh.client import ChatInputError, ConfigError, GlobalOptions, load_request_json, resolve_settings

CONFIG_KEYS = ["controlplane_base", "gateway_base", "gateway_provider", "timeout", "max_retries", "ca_bundle"]
toml_scalars = (
    st.text(max_size=30) | st.integers() | st.floats() | st.booleans() | st.lists(st.integers(), max_size=3)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)


@bounded(300, 10_000)
@given(text=st.text(max_size=200) | json_values.map(json.dumps))
@example(text='{"messages": [{"role": "user", "content": "\\ud800"}]}')
@example(text="[" * 500 + "]" * 500)
def test_json_input_is_parsed_or_refused_with_one_message(text: str) -> None:
    try:
        load_request_json(text, None, io.StringIO(""))
    except ChatInputError as exc:
        assert "\n" not in str(exc).strip() or str(exc).startswith("Invalid JSON")


def _settings_from(tmp_path: Path, text: str) -> Any:
    root = tmp_path / "state"
    root.mkdir(exist_ok=True)
    (root / "config.toml").write_text(text)
    return resolve_settings(GlobalOptions(), env={"TM_CONFIG_HOME": str(root)})


@bounded(200, 5000)
@given(text=st.text(max_size=200))
@example(text="[managed\n")
@example(text='controlplane_base = "\\u0000"')
def test_any_config_text_loads_or_raises_config_error(tmp_path_factory: Any, text: str) -> None:
    try:
        _settings_from(tmp_path_factory.mktemp("cfg"), text)
    except ConfigError as exc:
        assert str(exc).strip()


@bounded(200, 5000)
@given(
    values=st.dictionaries(st.sampled_from(CONFIG_KEYS), toml_scalars, max_size=6),
    managed=st.dictionaries(
        st.sampled_from(["gateway_api_key", "user_id", "model"]), toml_scalars, max_size=3
    ),
)
def test_wrongly_typed_config_values_are_config_errors(
    tmp_path_factory: Any, values: dict[str, Any], managed: dict[str, Any]
) -> None:
    document = tomlkit.document()
    for key, value in values.items():
        document[key] = value
    if managed:
        document["managed"] = managed
    try:
        _settings_from(tmp_path_factory.mktemp("cfg"), tomlkit.dumps(document))
    except ConfigError as exc:
        assert str(exc).strip()


@bounded(40, 600)
@given(text=st.text(max_size=80) | json_values.map(json.dumps))
def test_tm_infer_chat_json_never_shows_a_traceback(tmp_path_factory: Any, text: str) -> None:
    root = tmp_path_factory.mktemp("tm")
    env = {
        "TM_CONFIG_HOME": str(root),
        "TENSORMESH_SERVERLESS_BASE_URL": "http://127.0.0.1:9",  # nothing listens: fails fast, locally
        "TENSORMESH_TIMEOUT_SECONDS": "2",
        "TENSORMESH_MAX_RETRIES": "0",
    }
    result = CliRunner().invoke(
        cli,
        ["infer", "chat", "--surface", "serverless", "--api-key", "k", "--model", "m", "--json", text],
        env=env,
    )
    assert result.exit_code != 0  # bad input, or nothing at the gateway: an error either way
    assert result.output.startswith(("Error:", "Usage:")), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
