"""`tm version` (same fields as the reference client's, plus what we speak)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kvmesh import __version__
from kvmesh.cli import cli


def _tm(tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"TM_CONFIG_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_text_screen(tmp_path: Path) -> None:
    lines = _tm(tmp_path, "version").splitlines()
    assert lines[:3] == ["tm version", "", f"CLI version: {__version__}"]
    assert "Compatible with: tensormesh 0.1.9" in lines


def test_json_keeps_reference_keys_first(tmp_path: Path) -> None:
    data = json.loads(_tm(tmp_path, "--output", "json", "version"))
    assert list(data)[:9] == [
        "cli_version",
        "python_version",
        "python_implementation",
        "platform",
        "executable",
        "package_root",
        "requires_python",
        "distribution_model",
        "install_guide",
    ]
    assert data["cli_version"] == __version__


def test_raw_is_just_the_version(tmp_path: Path) -> None:
    assert _tm(tmp_path, "--output", "raw", "version") == f"{__version__}\n"
