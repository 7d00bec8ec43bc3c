"""Operator commands: `controlplane serve|create-user|issue-tokens|grant-credit` and `gateway serve`."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kvmesh.cli._errors import CliError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

DATABASE_URL_HELP = "Database URL (default: $KVMESH_DATABASE_URL, else SQLite in the data dir)."
DATA_DIR_HELP = (
    "Server data dir for the secret file and SQLite (default: $KVMESH_DATA_DIR or <state root>/server)."
)


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


def database_options(command: Any) -> Any:
    command = click.option("--data-dir", default=None, help=DATA_DIR_HELP)(command)
    return click.option("--database-url", default=None, help=DATABASE_URL_HELP)(command)


def _open_store(database_url: str, data_dir: Path) -> tuple[sessionmaker[Session], bytes]:
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


def _usd_to_micros(amount: str, option: str) -> int:
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise click.BadParameter(f"not a number: {amount!r}", param_hint=option) from None
    if not value.is_finite():
        raise click.BadParameter(f"not a number: {amount!r}", param_hint=option)
    return int((value * 1_000_000).to_integral_value())


def _user_by_email(session: Session, email: str) -> Any:
    from kvmesh.store.users import find_user_by_email

    user = find_user_by_email(session, email)
    if user is None:
        raise CliError(
            f"no user with email {email.strip().lower()}", ["Create it: kvmesh controlplane create-user"]
        )
    return user


@click.group()
def controlplane() -> None:
    """Serve and administer the Control Plane (operator commands).

    \b
    Example:
      kvmesh controlplane create-user --email owner@example.com --admin
      kvmesh controlplane serve --host 127.0.0.1 --port 8080
    """


@controlplane.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@database_options
@click.option("--public-base-url", default="", help="URL users reach this CP at (default: http://HOST:PORT).")
@click.option(
    "--gateway-base",
    default="http://127.0.0.1:8081",
    show_default=True,
    help="Gateway base URL given to users.",
)
@click.option(
    "--cloud-provider",
    default="CLOUD_PROVIDER_ONPREM",
    show_default=True,
    help="infra.cloudProvider reported for deployments (NEBIUS/LAMBDA/YOTTA for 0.1.9 `init --sync`).",
)
@click.option(
    "--catalog-file", type=click.Path(dir_okay=False, path_type=Path), help="Serverless catalog TOML."
)
@click.option("--no-engines", is_flag=True, help="Do not run the deployment controller in this process.")
@click.option(
    "--llama-threads",
    type=click.IntRange(min=1),
    envvar="KVMESH_LLAMA_THREADS",
    show_envvar=True,
    help="CPU threads per embedded llama.cpp replica (default: 1 on <= 2 cores, else half the cores, max 8).",
)
@click.option(
    "--llama-parallel",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    envvar="KVMESH_LLAMA_PARALLEL",
    show_envvar=True,
    help="Concurrent request slots per embedded llama.cpp replica.",
)
@click.option(
    "--llama-ctx-size",
    type=click.IntRange(min=256),
    envvar="KVMESH_LLAMA_CTX_SIZE",
    show_envvar=True,
    help="Context tokens per llama.cpp replica, shared by its slots (default: min(model, 2048) x slots).",
)
@click.option(
    "--max-deployments-per-user",
    type=click.IntRange(0, 1_000_000),
    default=10,
    show_default=True,
    help="Live deployments a user may have unless an admin set an override.",
)
@click.option(
    "--max-replicas-per-user",
    type=click.IntRange(0, 1_000_000),
    default=16,
    show_default=True,
    help="Replicas a user's live deployments may ask for in all unless an admin set an override.",
)
@click.option("--log-level", default="info", show_default=True, help="Python log level.")
def serve(
    host: str,
    port: int,
    database_url: str | None,
    data_dir: str | None,
    public_base_url: str,
    gateway_base: str,
    cloud_provider: str,
    catalog_file: Path | None,
    no_engines: bool,
    llama_threads: int | None,
    llama_parallel: int,
    llama_ctx_size: int | None,
    max_deployments_per_user: int,
    max_replicas_per_user: int,
    log_level: str,
) -> None:
    """Run the Control Plane HTTP server (migrates the database first).

    The --llama-* engine settings also come from KVMESH_LLAMA_THREADS, KVMESH_LLAMA_PARALLEL and
    KVMESH_LLAMA_CTX_SIZE; a deployment's engineConfig (threads, parallel, ctx_size) overrides them.

    \b
    Example:
      kvmesh controlplane serve --host 0.0.0.0 --port 8080 --database-url postgresql://kv@db/kvmesh
    """
    import uvicorn

    from kvmesh.controlplane.app import create_app
    from kvmesh.controlplane.settings import ControlPlaneSettings

    url, directory = resolve_server_paths(database_url, data_dir)
    configure_logging(log_level)
    settings = ControlPlaneSettings(
        database_url=url,
        data_dir=directory,
        host=host,
        port=port,
        public_base_url=public_base_url,
        public_gateway_base=gateway_base,
        gateway_cloud_provider=cloud_provider,
        run_engines=not no_engines,
        catalog_file=catalog_file,
        llama_threads=llama_threads,
        llama_parallel=llama_parallel,
        llama_ctx_size=llama_ctx_size,
        max_deployments_per_user=max_deployments_per_user,
        max_replicas_per_user=max_replicas_per_user,
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


def _read_password(password: str | None) -> str:
    if password is not None:
        return password
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CliError("no password given: pass --password or pipe it on stdin")
    return line


@controlplane.command("create-user")
@click.option("--email", required=True, help="The account's email address (its sign-in name).")
@click.option("--password", default=None, help="Password (default: prompt, or one line from stdin).")
@click.option("--admin", is_flag=True, help="Give the account the admin role (the owner).")
@click.option("--credit-usd", default="10", show_default=True, help="Starting credit for the new account.")
@database_options
def create_user_command(
    email: str,
    password: str | None,
    admin: bool,
    credit_usd: str,
    database_url: str | None,
    data_dir: str | None,
) -> None:
    """Create a local account with its first API key and starting credit.

    \b
    Example:
      kvmesh controlplane create-user --email owner@example.com --admin
    """
    from kvmesh.store.users import AccountError, create_user

    credit_micros = _usd_to_micros(credit_usd, "--credit-usd")
    secret_password = _read_password(password)
    session_factory, secret = _open_store(*resolve_server_paths(database_url, data_dir))
    with session_factory() as session:
        try:
            user, _ = create_user(
                session, secret, email, secret_password, admin=admin, signup_credit_micros=credit_micros
            )
        except AccountError as exc:
            raise CliError(str(exc)) from None
        session.commit()
        click.echo(f"Created user {user.email} (id {user.id}, role {user.role}).")


@controlplane.command("issue-tokens")
@click.option("--email", required=True, help="The account to sign in.")
@database_options
def issue_tokens_command(email: str, database_url: str | None, data_dir: str | None) -> None:
    """Print a fresh token object (as `/auth/cli/exchange` returns) for an existing account.

    Used by `tm local up` to sign the CLI in without a browser. The output is a secret.

    \b
    Example:
      kvmesh controlplane issue-tokens --email owner@example.com > "$TM_CONFIG_HOME/auth.json"
    """
    from kvmesh.controlplane.settings import ControlPlaneSettings
    from kvmesh.controlplane.tokens import TokenLifetimes, issue_tokens, load_jwt_key

    url, directory = resolve_server_paths(database_url, data_dir)
    session_factory, _ = _open_store(url, directory)
    defaults = ControlPlaneSettings(database_url=url, data_dir=directory)
    with session_factory() as session:
        user = _user_by_email(session, email)
        key = load_jwt_key(session)
        lifetimes = TokenLifetimes(defaults.access_token_ttl_s, defaults.refresh_token_ttl_s)
        tokens = issue_tokens(session, key, user, lifetimes)
        session.commit()
    click.echo(json.dumps(tokens, indent=2))


@controlplane.command("grant-credit")
@click.option("--email", required=True, help="The account to credit.")
@click.option("--amount-usd", required=True, help="Amount in USD, e.g. 25 or 0.50 (negative to debit).")
@click.option("--description", default="operator grant", show_default=True, help="Ledger description.")
@database_options
def grant_credit_command(
    email: str, amount_usd: str, description: str, database_url: str | None, data_dir: str | None
) -> None:
    """Add a credit ledger entry to an account and print its new balance.

    \b
    Example:
      kvmesh controlplane grant-credit --email alice@example.com --amount-usd 25
    """
    from kvmesh.store.users import balance_micros, grant_credit

    micros = _usd_to_micros(amount_usd, "--amount-usd")
    if micros == 0:
        raise click.BadParameter("amount must not be zero", param_hint="--amount-usd")
    session_factory, _ = _open_store(*resolve_server_paths(database_url, data_dir))
    with session_factory() as session:
        user = _user_by_email(session, email)
        grant_credit(session, user.id, micros, description)
        session.commit()
        balance = Decimal(balance_micros(session, user.id)) / 1_000_000
    click.echo(f"Granted {Decimal(micros) / 1_000_000} USD to {user.email}; balance {balance:.6f} USD.")


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
    help="Per-user cap on requests in flight in this process unless an admin set one (0: no cap).",
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
    serve_gateway(host=host, port=port, database_url=url, workers=workers, data_dir=directory, tuning=tuning)
