"""The `tm` group's global options, version flag, error style and exit codes (protocol.md §1.6, §9.1)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kvmesh import __version__
from kvmesh.cli import cli
from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import CliError, usage_error


def _tm(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"TM_CONFIG_HOME": str(tmp_path)})
    return result.exit_code, result.stdout, result.stderr


def test_version_flag(tmp_path: Path) -> None:
    assert _tm(tmp_path, "-V") == (0, f"tm, version {__version__}\n", "")
    assert _tm(tmp_path, "--version")[1] == f"tm, version {__version__}\n"


def test_help_and_version_work_with_a_broken_config(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("= nonsense\n")
    assert _tm(tmp_path, "--help")[0] == 0
    assert _tm(tmp_path, "--version")[0] == 0
    assert _tm(tmp_path, "version")[0] == 0


def test_every_global_option_has_help(tmp_path: Path) -> None:
    missing = [p.name for p in cli.params if isinstance(p, click.Option) and not p.help]
    assert missing == []


def test_output_is_case_insensitive_and_validated(tmp_path: Path) -> None:
    assert _tm(tmp_path, "--output", "YAML", "config", "show")[0] == 0
    code, _, err = _tm(tmp_path, "--output", "xml", "config", "show")
    assert code == 2
    assert "Invalid value for '--output'" in err


def test_bad_gateway_provider_flag_is_exit_1_like_the_reference(tmp_path: Path) -> None:
    code, _, err = _tm(tmp_path, "--gateway-provider", "aws", "config", "show")
    assert (code, err) == (
        1,
        "Error: Invalid value for gateway_provider from --gateway-provider: 'aws'. "
        "Expected one of: nebius, lambda, yotta.\n",
    )


def test_non_numeric_timeout_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = _tm(tmp_path, "--timeout", "abc", "config", "show")
    assert code == 2
    assert err.endswith("Error: Invalid value for '--timeout': 'abc' is not a valid float.\n")


def test_global_options_reach_the_settings(tmp_path: Path) -> None:
    code, out, _ = _tm(
        tmp_path,
        "--output",
        "json",
        "--controlplane-base",
        "http://cp:1/",
        "--gateway-provider",
        "Lambda",
        "--ca-bundle",
        "/ca.pem",
        "--max-retries",
        "2",
        "config",
        "show",
    )
    assert code == 0
    assert '"controlplane_base": "http://cp:1"' in out
    assert '"gateway_base": "https://external.lambda.tensormesh.ai"' in out
    assert '"ca_bundle": "/ca.pem"' in out
    assert '"max_retries": 2' in out


def test_unknown_command_is_exit_2(tmp_path: Path) -> None:
    assert _tm(tmp_path, "nonexistent")[0] == 2


@click.command()
@click.option("--hints", is_flag=True, help="Add hints.")
@click.option("--usage", is_flag=True, help="Raise a usage error.")
@pass_cli
def _fails(cli_ctx: CliContext, hints: bool, usage: bool) -> None:
    """A command that fails the way kvmesh commands do."""
    if usage:
        raise usage_error("Missing gateway API key.")
    raise CliError("Something broke.", hints=["try this", "or that"] if hints else [])


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        ([], 1, "Error: Something broke.\n"),
        (["--hints"], 1, "Error: Something broke.\n\nHints:\n- try this\n- or that\n"),
        (
            ["--usage"],
            2,
            "Usage: fails [OPTIONS]\nTry 'fails --help' for help.\n\nError: Missing gateway API key.\n",
        ),
    ],
)
def test_error_style_and_exit_codes(args: list[str], code: int, stderr: str) -> None:
    result = CliRunner().invoke(_fails, args, prog_name="fails")
    assert (result.exit_code, result.stderr) == (code, stderr)


def test_settings_resolve_lazily_and_once(tmp_path: Path) -> None:
    ctx = CliContext(env={"TM_CONFIG_HOME": str(tmp_path)}, output="JSON")
    assert ctx.output == "json"
    first = ctx.settings
    (tmp_path / "config.toml").write_text("max_retries = 5\n")
    assert ctx.settings is first
    ctx.reset_settings()
    assert ctx.settings.max_retries == 5


def test_config_error_becomes_cli_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_retries = -1\n")
    ctx = CliContext(env={"TM_CONFIG_HOME": str(tmp_path)})
    with pytest.raises(CliError, match=r"^Max retries must be greater than or equal to 0\.$"):
        _ = ctx.settings


@click.command()
@pass_cli
def _chatty(cli_ctx: CliContext) -> None:
    """Prints a debug line."""
    cli_ctx.debug_line("debug: GET http://cp/v1/models attempt=1/1")


@pytest.mark.parametrize(
    ("debug", "quiet", "stderr"),
    [(True, False, "debug: GET http://cp/v1/models attempt=1/1\n"), (True, True, ""), (False, False, "")],
)
def test_debug_lines_go_to_stderr_unless_quiet(debug: bool, quiet: bool, stderr: str) -> None:
    result = CliRunner().invoke(_chatty, [], obj=CliContext(debug=debug, quiet=quiet))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", stderr)
