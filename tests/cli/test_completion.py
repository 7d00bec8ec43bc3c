"""`tm completion` prints click's completion scripts, and completion answers without importing commands."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kvmesh.cli import cli


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _tm_completion tm"),
        ("zsh", "#compdef tm"),
        ("FISH", "complete --no-files --command tm"),
    ],
)
def test_script_per_shell(shell: str, marker: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert marker in result.stdout
    assert "_TM_COMPLETE" in result.stdout


def test_prog_name_changes_the_complete_variable() -> None:
    result = CliRunner().invoke(cli, ["completion", "bash", "--prog", "kvmesh"])
    assert "_KVMESH_COMPLETE" in result.stdout


def test_unknown_shell_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["completion", "tcsh"]).exit_code == 2


def test_completing_command_names_uses_the_table() -> None:
    env = {**os.environ, "COMP_WORDS": "tm con", "COMP_CWORD": "1", "_TM_COMPLETE": "bash_complete"}
    code = "import sys; from kvmesh.cli import cli; cli(prog_name='tm'); "
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.split() == ["plain,config", "plain,controlplane"]
