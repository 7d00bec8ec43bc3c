"""`tm --version` and `tm --help` stay lean: no heavy imports on the start-up path."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "yaml", "rich", "sqlalchemy", "fastapi", "tomlkit", "pydantic", "kvmesh.client._http")

_PROBE = """
import json, sys
from kvmesh.cli import cli
try:
    cli(sys.argv[1:], prog_name="tm")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_start_up_imports_nothing_heavy(flag: str, tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, flag],
        capture_output=True,
        text=True,
        check=True,
        env={"TM_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    loaded = [name for name in HEAVY if name in modules]
    assert loaded == []


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_fast_version_path_prints_what_click_prints(flag: str) -> None:
    from click.testing import CliRunner

    from kvmesh.cli import cli

    fast = subprocess.run(
        [sys.executable, "-c", "from kvmesh.cli import main; main()", flag],
        capture_output=True,
        text=True,
        check=True,
    )
    assert fast.stdout == CliRunner().invoke(cli, [flag]).stdout
