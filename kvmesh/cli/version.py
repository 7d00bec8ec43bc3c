"""`tm version`: the CLI version and the Python runtime it runs on (no config needed)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import click

from kvmesh import __version__
from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._render import emit

REQUIRES_PYTHON = ">=3.11"
COMPATIBLE_WITH = "tensormesh 0.1.9"


def _distribution_model(package_root: str) -> str:
    if getattr(sys, "frozen", False):
        return "standalone-binary"
    normalized = package_root.replace("\\", "/").lower()
    if "/site-packages/" in normalized or "/dist-packages/" in normalized:
        return "python-package"
    return "python-source"


def version_info() -> dict[str, Any]:
    """The reference client's `tm version` fields (same keys and order), then ours."""
    package_root = str(Path(__file__).resolve().parent.parent)
    return {
        "cli_version": __version__,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "package_root": package_root,
        "requires_python": REQUIRES_PYTHON,
        "distribution_model": _distribution_model(package_root),
        "install_guide": "docs/cli.md",
        "compatible_with": COMPATIBLE_WITH,
    }


@click.command(name="version")
@pass_cli
def version(cli: CliContext) -> None:
    """Show CLI version and runtime details.

    \b
    Examples:
      tm version
      tm --output json version
    """
    data = version_info()
    if cli.output == "raw":
        click.echo(data["cli_version"])
        return
    if cli.output != "text":
        emit(cli, data)
        return
    click.echo("tm version")
    click.echo("")
    click.echo(f"CLI version: {data['cli_version']}")
    click.echo(f"Python: {data['python_version']} ({data['python_implementation']})")
    click.echo(f"Requires Python: {data['requires_python']}")
    click.echo(f"Distribution: {data['distribution_model']}")
    click.echo(f"Platform: {data['platform']}")
    click.echo(f"Executable: {data['executable']}")
    click.echo(f"Package root: {data['package_root']}")
    click.echo(f"Compatible with: {data['compatible_with']}")
