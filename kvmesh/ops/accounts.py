"""Account administration for operators: `create-user`, `issue-tokens`, `grant-credit` (store-backed)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import click

from kvmesh.cli._errors import CliError
from kvmesh.ops.database import database_options, open_store, resolve_server_paths

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from kvmesh.store.models import User


def _usd_to_micros(amount: str, option: str) -> int:
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise click.BadParameter(f"not a number: {amount!r}", param_hint=option) from None
    if not value.is_finite():
        raise click.BadParameter(f"not a number: {amount!r}", param_hint=option)
    return int((value * 1_000_000).to_integral_value())


def _user_by_email(session: Session, email: str) -> User:
    from kvmesh.store.users import find_user_by_email

    user = find_user_by_email(session, email)
    if user is None:
        raise CliError(
            f"no user with email {email.strip().lower()}", ["Create it: kvmesh controlplane create-user"]
        )
    return user


def _read_password(password: str | None) -> str:
    if password is not None:
        return password
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CliError("no password given: pass --password or pipe it on stdin")
    return line


@click.command("create-user")
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
    session_factory, secret = open_store(*resolve_server_paths(database_url, data_dir))
    with session_factory() as session:
        try:
            user, _ = create_user(
                session, secret, email, secret_password, admin=admin, signup_credit_micros=credit_micros
            )
        except AccountError as exc:
            raise CliError(str(exc)) from None
        session.commit()
        click.echo(f"Created user {user.email} (id {user.id}, role {user.role}).")


@click.command("issue-tokens")
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
    session_factory, _ = open_store(url, directory)
    defaults = ControlPlaneSettings(database_url=url, data_dir=directory)
    with session_factory() as session:
        user = _user_by_email(session, email)
        key = load_jwt_key(session)
        lifetimes = TokenLifetimes(defaults.access_token_ttl_s, defaults.refresh_token_ttl_s)
        tokens = issue_tokens(session, key, user, lifetimes)
        session.commit()
    click.echo(json.dumps(tokens, indent=2))


@click.command("grant-credit")
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
    from kvmesh.controlplane import activities
    from kvmesh.controlplane.activities import record_activity
    from kvmesh.store.users import balance_micros, grant_credit

    micros = _usd_to_micros(amount_usd, "--amount-usd")
    if micros == 0:
        raise click.BadParameter("amount must not be zero", param_hint="--amount-usd")
    session_factory, _ = open_store(*resolve_server_paths(database_url, data_dir))
    with session_factory() as session:
        user = _user_by_email(session, email)
        grant_credit(session, user.id, micros, description)
        record_activity(
            session,
            user_id=user.id,
            action=activities.CREDIT_GRANTED,
            actor=None,  # the operator at the server's shell
            resource_type=activities.RESOURCE_BALANCE,
            resource_id=user.id,
            description=description,
            details={"amountMicros": micros, "via": "kvmesh controlplane grant-credit"},
        )
        session.commit()
        balance = Decimal(balance_micros(session, user.id)) / 1_000_000
    click.echo(f"Granted {Decimal(micros) / 1_000_000} USD to {user.email}; balance {balance:.6f} USD.")
