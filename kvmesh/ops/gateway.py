"""`kvmesh gateway serve`: run the OpenAI-compatible inference Gateway."""

from __future__ import annotations

import click

from kvmesh.cli._errors import CliError
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
@click.option(
    "--redis-url",
    default="",
    envvar="KVMESH_REDIS_URL",
    show_envvar=True,
    help="Redis for limits shared by every Gateway replica, e.g. redis://redis:6379/0.",
)
@click.option(
    "--key-requests-per-minute",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    envvar="KVMESH_KEY_REQUESTS_PER_MINUTE",
    show_envvar=True,
    help="Requests per minute per API key (0: no limit); shared through --redis-url when set.",
)
@allow_upstream_option
@click.option("--log-level", default="info", show_default=True, help="Python log level.")
@click.option(
    "--upstream-connect-timeout",
    type=click.FloatRange(0.1, 600),
    default=3.0,
    show_default=True,
    help="Seconds to connect to a replica.",
)
@click.option(
    "--upstream-first-byte-timeout",
    type=click.FloatRange(0.1, 86400),
    default=300.0,
    show_default=True,
    help="Seconds a non-streamed reply may take to start.",
)
@click.option(
    "--upstream-idle-timeout",
    type=click.FloatRange(0.1, 86400),
    default=60.0,
    show_default=True,
    help="Seconds a stream may stay silent (the response head included).",
)
@click.option(
    "--upstream-total-timeout",
    type=click.FloatRange(1, 86400),
    default=900.0,
    show_default=True,
    help="Seconds one upstream exchange may take in all; also how long a balance hold outlives a crash.",
)
@click.option(
    "--default-max-tokens",
    type=click.IntRange(1, 1_000_000),
    default=512,
    show_default=True,
    help="Answer length reserved and sent upstream for a priced request without max_tokens.",
)
@click.option(
    "--max-concurrent-requests",
    type=click.IntRange(0, 1_000_000),
    default=64,
    show_default=True,
    help="Per-user cap on requests in flight unless an admin set one (0: no cap); in this process, "
    "or across every Gateway sharing --redis-url when set.",
)
@click.option(
    "--usage-flush-interval",
    type=click.FloatRange(0.01, 3600),
    default=0.5,
    show_default=True,
    help="Seconds between batched usage writes to the store (records are spooled to disk first).",
)
def gateway_serve(
    host: str,
    port: int,
    database_url: str | None,
    data_dir: str | None,
    workers: int,
    redis_url: str,
    key_requests_per_minute: int,
    allow_upstream: tuple[str, ...],
    log_level: str,
    upstream_connect_timeout: float,
    upstream_first_byte_timeout: float,
    upstream_idle_timeout: float,
    upstream_total_timeout: float,
    default_max_tokens: int,
    max_concurrent_requests: int,
    usage_flush_interval: float,
) -> None:
    """Run the Gateway HTTP server against the shared database.

    \b
    Example:
      kvmesh gateway serve --host 0.0.0.0 --port 8081 --workers 4
    """
    from kvmesh.gateway.server import serve as serve_gateway
    from kvmesh.gateway.server import settings_for
    from kvmesh.store.private_files import restrict_umask

    restrict_umask()
    url, directory = resolve_server_paths(database_url, data_dir)
    configure_logging(log_level)
    tuning = {
        "connect_timeout": upstream_connect_timeout,
        "first_byte_timeout": upstream_first_byte_timeout,
        "idle_timeout": upstream_idle_timeout,
        "total_timeout": upstream_total_timeout,
        "default_max_tokens": default_max_tokens,
        "max_concurrent_requests": max_concurrent_requests,
        "usage_flush_interval": usage_flush_interval,
    }
    try:
        # routing settings from the environment: fail with one clear line before serving
        settings_for(url, directory, redis_url, key_requests_per_minute)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    serve_gateway(
        host=host,
        port=port,
        database_url=url,
        workers=workers,
        data_dir=directory,
        redis_url=redis_url,
        key_requests_per_minute=key_requests_per_minute,
        upstream_allowlist=checked_allowlist(allow_upstream),
        tuning=tuning,
    )
