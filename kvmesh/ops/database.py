"""Where the operator commands find the server database and data dir, and how they open it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from kvmesh.cli._errors import CliError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

DATABASE_URL_HELP = "Database URL (default: $KVMESH_DATABASE_URL, else SQLite in the data dir)."
DATA_DIR_HELP = (
    "Server data dir for the secret file and SQLite (default: $KVMESH_DATA_DIR or <state root>/server)."
)

CommandT = TypeVar("CommandT", bound=Callable[..., object])


def resolve_server_paths(database_url: str | None, data_dir: str | None) -> tuple[str, Path]:
    """Apply the documented defaults; an explicit --data-dir also moves the default SQLite file."""
    import os

    from kvmesh.store.engine import DATABASE_URL_ENV, default_data_dir, default_database_url

    directory = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if database_url:
        return database_url, directory
    if data_dir and not os.environ.get(DATABASE_URL_ENV, "").strip():
        return f"sqlite:///{directory / 'kvmesh.db'}", directory
    return default_database_url(), directory


def configure_logging(level: str) -> None:
    """Log to stderr through the escaping formatter: no log line a client can split or forge."""
    import logging

    from kvmesh.log_escape import EscapingFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.WARNING)


ALLOW_UPSTREAM_HELP = (
    "Network (CIDR) or host name that users' external upstreams may use although it is loopback, "
    "private or link-local; repeat for several (default: none; admins' deployments are always allowed)."
)


def allow_upstream_option(command: CommandT) -> CommandT:
    """`--allow-upstream` / KVMESH_UPSTREAM_ALLOWLIST, taken by both servers' serve commands."""
    return click.option(
        "--allow-upstream",
        "allow_upstream",
        multiple=True,
        envvar="KVMESH_UPSTREAM_ALLOWLIST",
        show_envvar=True,
        help=ALLOW_UPSTREAM_HELP,
    )(command)


def checked_allowlist(entries: tuple[str, ...]) -> tuple[str, ...]:
    """The allowlist entries, or a usage error naming the bad one."""
    from kvmesh.engines.upstream_policy import UpstreamPolicy

    try:
        UpstreamPolicy.parse(entries)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-upstream") from None
    return entries


def checked_proxies(entries: tuple[str, ...]) -> tuple[str, ...]:
    """Trusted proxy networks, or a usage error naming the bad one."""
    import ipaddress

    for entry in (part for item in entries for part in item.replace(",", " ").split()):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise click.BadParameter(
                f"{entry!r} is not a network (CIDR)", param_hint="--trusted-proxy"
            ) from None
    return entries


def database_options(command: CommandT) -> CommandT:
    """The `--database-url` and `--data-dir` options every store-backed operator command takes."""
    command = click.option("--data-dir", default=None, help=DATA_DIR_HELP)(command)
    return click.option("--database-url", default=None, help=DATABASE_URL_HELP)(command)


def open_store(database_url: str, data_dir: Path) -> tuple[sessionmaker[Session], bytes]:
    """Migrate, then return a session factory and the server secret; errors become one-line CLI errors."""
    from sqlalchemy.exc import SQLAlchemyError

    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.migrate import upgrade_database
    from kvmesh.store.secrets import load_server_secret

    try:
        upgrade_database(database_url, data_dir)
        secret = load_server_secret(data_dir / "server-secret")
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise CliError(
            f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    return make_session_factory(create_engine_for_url(database_url)), secret
