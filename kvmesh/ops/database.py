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
    import logging

    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


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
        upgrade_database(database_url)
        secret = load_server_secret(data_dir / "server-secret")
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise CliError(
            f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    return make_session_factory(create_engine_for_url(database_url)), secret
