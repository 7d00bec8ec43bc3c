"""The `tm` group itself: global options (protocol.md §1.6) on the lazy command table."""

from __future__ import annotations

import click

from kvmesh import __version__
from kvmesh.cli import COMMANDS
from kvmesh.cli._lazy import LazyGroup

_EPILOG = """\b
Config precedence: flags > env > config.toml ([overrides] before [managed]) > defaults.
Global options such as --output must come before the subcommand:
  tm --output json auth status

\b
Quickstart:
  tm auth login
  tm init --sync
  tm auth status
  tm infer chat --json '[{"role":"user","content":"hi"}]'

\b
State root: $TM_CONFIG_HOME, else ~/.config/tensormesh (config.toml, auth.json).
"""


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_EPILOG,
)
@click.version_option(__version__, "-V", "--version", prog_name="tm", help="Print the version and exit.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help=(
        "Path to config TOML file  "
        "[default: $TM_CONFIG_HOME/config.toml, else ~/.config/tensormesh/config.toml]"
    ),
)
@click.option(
    "--output",
    type=click.Choice(["text", "json", "yaml", "raw", "table"], case_sensitive=False),
    default="text",
    show_default=True,
    help="Output format (text is human-readable; json is machine-friendly).",
)
@click.option("--quiet", is_flag=True, default=False, help="Suppress non-essential output.")
@click.option("--debug", is_flag=True, default=False, help="Print debug logs to stderr (secrets redacted).")
@click.option(
    "--ca-bundle",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Path to a PEM CA bundle for TLS verification (overrides TENSORMESH_CA_BUNDLE).",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Default HTTP timeout in seconds (overrides TENSORMESH_TIMEOUT_SECONDS; subcommands may override).",
)
@click.option(
    "--max-retries",
    type=int,
    default=None,
    help="Max retries for idempotent HTTP requests on transient errors (overrides TENSORMESH_MAX_RETRIES).",
)
@click.option(
    "--controlplane-base",
    metavar="URL",
    default=None,
    help="Override the Control Plane base URL (overrides TENSORMESH_CONTROL_PLANE_BASE_URL).",
)
@click.option(
    "--gateway-provider",
    metavar="[nebius|lambda|yotta]",
    default=None,
    help="Inference Gateway provider for built-in host selection (nebius, lambda, yotta).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    output: str,
    quiet: bool,
    debug: bool,
    ca_bundle: str | None,
    timeout: float | None,
    max_retries: int | None,
    controlplane_base: str | None,
    gateway_provider: str | None,
) -> None:
    """kvmesh: the Tensormesh-compatible CLI for a self-hosted LLM serving platform.

    \b
    Example:
      tm --output json config show --sources
    """
    from pathlib import Path

    from kvmesh.cli._context import CliContext
    from kvmesh.client import GlobalOptions

    options = GlobalOptions(
        config_path=Path(config_path) if config_path else None,
        controlplane_base=controlplane_base,
        gateway_provider=gateway_provider,
        ca_bundle=ca_bundle,
        timeout=timeout,
        max_retries=max_retries,
    )
    ctx.obj = CliContext(options=options, output=output, quiet=quiet, debug=debug)
