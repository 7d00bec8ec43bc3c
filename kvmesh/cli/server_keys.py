"""`kvmesh controlplane rotate-keys`: new JWT signing key and/or server secret (operator command)."""

from __future__ import annotations

import click

from kvmesh.cli._errors import CliError
from kvmesh.cli.servers import database_options, resolve_server_paths


@click.command("rotate-keys")
@click.option("--jwt", "jwt_key", is_flag=True, help="Replace the JWT signing key (ends access tokens).")
@click.option(
    "--server-secret", is_flag=True, help="Replace the server secret, re-encrypting every stored key."
)
@database_options
def rotate_keys_command(
    jwt_key: bool, server_secret: bool, database_url: str | None, data_dir: str | None
) -> None:
    """Rotate the servers' own secrets; stop the Control Plane and Gateways first, start them after.

    --jwt: access tokens and browser sessions end; `tm` refreshes on its next call. --server-secret:
    API keys and external upstream keys are re-hashed and re-encrypted in one transaction, so they
    keep working. See docs/security.md.

    \b
    Example:
      kvmesh controlplane rotate-keys --jwt --server-secret
    """
    from sqlalchemy.exc import SQLAlchemyError

    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.key_rotation import RotationError, rotate_jwt_key, rotate_server_secret
    from kvmesh.store.migrate import upgrade_database

    if not (jwt_key or server_secret):
        raise click.UsageError("choose what to rotate: --jwt, --server-secret or both")
    url, directory = resolve_server_paths(database_url, data_dir)
    try:
        if server_secret:
            upgrade_database(url, directory)
            engine = create_engine_for_url(url)
            try:
                done = rotate_server_secret(directory, make_session_factory(engine))
            finally:
                engine.dispose()
            click.echo(
                f"Server secret rotated: {done.api_keys} API keys and {done.upstream_keys} upstream keys "
                "re-encrypted."
            )
            if done.unreadable_api_keys:
                click.echo(
                    f"Warning: {done.unreadable_api_keys} API keys were not readable with the old secret "
                    "and no longer work; their owners must create new ones.",
                    err=True,
                )
        if jwt_key:
            click.echo(f"JWT signing key rotated: {rotate_jwt_key(directory)}")
    except RotationError as exc:
        raise CliError(str(exc)) from None
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise CliError(f"rotation failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    click.echo("Restart the Control Plane and every Gateway to use the new keys.")
