"""`kvmesh gateway serve`: bad routing settings in the environment are one-line errors before serving."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kvmesh.cli import cli


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "KVMESH_GATEWAY_ROUTING_POLICY",
            "fastest",
            "Error: KVMESH_GATEWAY_ROUTING_POLICY='fastest' is not a routing policy; choose one of: ",
        ),
        (
            "KVMESH_GATEWAY_ROUTING_LOAD_MARGIN",
            "many",
            "Error: KVMESH_GATEWAY_ROUTING_LOAD_MARGIN='many' is not a valid int\n",
        ),
    ],
)
def test_bad_routing_settings_fail_with_one_line_naming_the_variable(
    variable: str, value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)

    def must_not_serve(**_: object) -> None:
        raise AssertionError("served despite a bad routing setting")

    monkeypatch.setattr("kvmesh.gateway.server.serve", must_not_serve)
    where = ["--database-url", f"sqlite:///{tmp_path / 'gw.db'}", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(cli, ["gateway", "serve", *where])
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1, result.output
