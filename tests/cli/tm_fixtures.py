"""Pytest plugin for `tm` command tests: `standin` (stand-in CP + Gateway) and `tm` (CliRunner with
TM_CONFIG_HOME in tmp_path). Load with `pytest_plugins = ("tm_fixtures",)`; never import it directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tm_harness import ENV_VARS, Invoke
from tm_standin import Standin

from kvmesh.cli import cli


@pytest.fixture
def standin() -> Iterator[Standin]:
    server = Standin()
    yield server
    server.stop()


@pytest.fixture
def tm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run `tm ARGS...` in-process; `input=` feeds stdin (empty by default, never a TTY)."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)

    def invoke(*args: str, input: str | None = "", env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(
            cli, list(args), input=input, env={"TM_CONFIG_HOME": str(tmp_path), **(env or {})}
        )

    return invoke
