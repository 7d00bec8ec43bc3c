"""docs/cli.md stays in step with `--help`: every global option and `tm config` command is documented."""

from __future__ import annotations

from pathlib import Path

import click

from kvmesh.cli import cli
from kvmesh.cli.config import config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()


def test_every_global_option_is_documented() -> None:
    flags = [flag for param in cli.params if isinstance(param, click.Option) for flag in param.opts]
    assert [flag for flag in flags if f"`{flag}" not in DOC] == []


def test_every_config_command_is_documented() -> None:
    assert [name for name in config.commands if f"`tm config {name}" not in DOC] == []
