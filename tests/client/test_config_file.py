"""config.toml documents: comment-preserving load/save and parse errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kvmesh.client import ConfigError, load_config_document, save_config_document


def test_missing_file_is_an_empty_document(tmp_path: Path) -> None:
    assert dict(load_config_document(tmp_path / "config.toml")) == {}


def test_round_trip_keeps_comments_order_and_writes_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = '# mine\nmax_retries = 1  # why\n\n[extra]\n# keep\nx = 1\n\n[overrides]\ngateway_user_id = "u"\n'
    path.write_text(text)
    doc = load_config_document(path)
    doc["max_retries"] = 2
    save_config_document(path, doc)
    assert path.read_text() == text.replace("max_retries = 1", "max_retries = 2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_parse_error_uses_the_resolution_message(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("x = [\n")
    with pytest.raises(ConfigError, match=r"^Invalid config file \(TOML\): .*config\.toml: "):
        load_config_document(path)
