"""Operator commands for the database schema: `db upgrade` and `db current`."""

from __future__ import annotations

import click

from kvmesh.cli._errors import CliError
from kvmesh.ops.database import DATABASE_URL_HELP, resolve_server_paths


@click.group()
def db() -> None:
    """Database migrations (operator commands)."""


def _describe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db.command()
@click.option("--database-url", default=None, help=DATABASE_URL_HELP)
def upgrade(database_url: str | None) -> None:
    """Migrate the database to the newest schema (safe to run repeatedly).

    \b
    Example:
      kvmesh db upgrade --database-url postgresql://kvmesh@127.0.0.1/kvmesh
    """
    from sqlalchemy.exc import SQLAlchemyError

    from kvmesh.store.migrate import current_revision, upgrade_database

    url, _ = resolve_server_paths(database_url, None)
    try:
        upgrade_database(url)
        revision = current_revision(url)
    except SQLAlchemyError as exc:
        raise CliError(f"migration failed for {_describe(url)}: {str(exc).splitlines()[0]}") from None
    click.echo(f"Database {_describe(url)} is at revision {revision}.")


@db.command()
@click.option("--database-url", default=None, help=DATABASE_URL_HELP)
def current(database_url: str | None) -> None:
    """Print the database's schema revision and the newest one this kvmesh knows."""
    from sqlalchemy.exc import SQLAlchemyError

    from kvmesh.store.migrate import current_revision, head_revision

    url, _ = resolve_server_paths(database_url, None)
    try:
        revision = current_revision(url)
    except SQLAlchemyError as exc:
        raise CliError(f"cannot read {_describe(url)}: {str(exc).splitlines()[0]}") from None
    click.echo(f"current: {revision or '(empty database)'}\nhead:    {head_revision()}")
