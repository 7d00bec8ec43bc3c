"""`kvmesh gateway serve`: run the OpenAI-compatible inference Gateway."""

from __future__ import annotations

import click

from kvmesh.ops.database import (
    allow_upstream_option,
    checked_allowlist,
    configure_logging,
    database_options,
    resolve_server_paths,
)


@click.group()
def gateway() -> None:
    """Serve the OpenAI-compatible inference Gateway (operator command)."""


@gateway.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8081, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@database_options
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 256), help="Worker processes."
)
@allow_upstream_option
@click.option("--log-level", default="info", show_default=True, help="Python log level.")
def gateway_serve(
    host: str,
    port: int,
    database_url: str | None,
    data_dir: str | None,
    workers: int,
    allow_upstream: tuple[str, ...],
    log_level: str,
) -> None:
    """Run the Gateway HTTP server against the shared database.

    \b
    Example:
      kvmesh gateway serve --host 0.0.0.0 --port 8081 --workers 4
    """
    from kvmesh.gateway.server import serve as serve_gateway
    from kvmesh.store.private_files import restrict_umask

    restrict_umask()
    url, directory = resolve_server_paths(database_url, data_dir)
    configure_logging(log_level)
    serve_gateway(
        host=host,
        port=port,
        database_url=url,
        workers=workers,
        data_dir=directory,
        upstream_allowlist=checked_allowlist(allow_upstream),
    )
