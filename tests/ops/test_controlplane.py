"""Operator commands in kvmesh/ops: controlplane create-user, issue-tokens, grant-credit, serve wiring."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kvmesh.cli import cli
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.models import Activity
from kvmesh.store.users import balance_micros, find_user_by_email


def _run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.output


def test_create_user_then_issue_tokens_and_grant_credit(database_url: str, tmp_path: Path) -> None:
    where = ["--database-url", database_url, "--data-dir", str(tmp_path)]
    code, out = _run(
        "controlplane",
        "create-user",
        "--email",
        "Owner@Example.com",
        "--admin",
        *where,
        input="s3cret-pass\n",
    )
    assert code == 0, out
    assert "Created user owner@example.com" in out and "USER_ROLE_ADMIN" in out
    assert "s3cret-pass" not in out
    assert (tmp_path / "server-secret").stat().st_mode & 0o777 == 0o600

    code, out = _run("controlplane", "issue-tokens", "--email", "owner@example.com", *where)
    assert code == 0, out
    tokens = json.loads(out)
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"].startswith("tmr_")
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"

    code, out = _run(
        "controlplane", "grant-credit", "--email", "owner@example.com", "--amount-usd", "2.5", *where
    )
    assert code == 0, out
    engine = create_engine_for_url(database_url)
    with make_session_factory(engine)() as session:
        user = find_user_by_email(session, "owner@example.com")
        assert user is not None
        assert balance_micros(session, user.id) == 12_500_000
        audited = session.scalars(select(Activity).where(Activity.user_id == user.id)).all()
        granted = ("ACTIVITY_ACTION_CREDIT_GRANTED", "ACTOR_TYPE_SYSTEM")
        assert [(a.action, a.actor_type) for a in audited] == [granted]
    engine.dispose()


def test_duplicate_user_and_unknown_email_are_one_line_errors(database_url: str, tmp_path: Path) -> None:
    where = ["--database-url", database_url, "--data-dir", str(tmp_path)]
    assert _run("controlplane", "create-user", "--email", "a@b.io", "--password", "password1", *where)[0] == 0
    code, out = _run("controlplane", "create-user", "--email", "a@b.io", "--password", "password1", *where)
    assert code == 1 and out == "Error: a user with email a@b.io already exists\n"
    code, out = _run("controlplane", "issue-tokens", "--email", "nobody@b.io", *where)
    assert code == 1 and out.startswith("Error: no user with email nobody@b.io")


def test_grant_credit_rejects_non_numbers(tmp_path: Path) -> None:
    code, out = _run(
        "controlplane",
        "grant-credit",
        "--email",
        "a@b.io",
        "--amount-usd",
        "lots",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 2 and "not a number: 'lots'" in out


def test_data_dir_alone_puts_sqlite_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kvmesh.ops.database import resolve_server_paths

    monkeypatch.delenv("KVMESH_DATABASE_URL", raising=False)
    assert resolve_server_paths(None, str(tmp_path)) == (f"sqlite:///{tmp_path / 'kvmesh.db'}", tmp_path)
    assert resolve_server_paths("postgresql://h/db", str(tmp_path)) == ("postgresql://h/db", tmp_path)


def test_serve_command_runs_a_migrated_control_plane(tmp_path: Path) -> None:
    """`kvmesh controlplane serve` as `tm local up` runs it: a subprocess that answers on its port."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    command = [sys.executable, "-m", "kvmesh", "controlplane", "serve", "--port", str(port), "--no-engines"]
    server = subprocess.Popen(
        [*command, "--database-url", url, "--data-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/auth/cli/start", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["auth_url"].startswith(f"http://127.0.0.1:{port}/cli-login?code=")
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    assert "POST /auth/cli/start 200" in stderr and "request_id=" in stderr
    assert response.json()["cli_code"] not in stderr


def test_serve_help_documents_engine_flags_and_their_env_vars() -> None:
    code, out = _run("controlplane", "serve", "--help")
    assert code == 0
    for flag, env in (
        ("--llama-threads", "KVMESH_LLAMA_THREADS"),
        ("--llama-parallel", "KVMESH_LLAMA_PARALLEL"),
        ("--llama-ctx-size", "KVMESH_LLAMA_CTX_SIZE"),
    ):
        assert flag in out and env in out


def test_serve_reads_engine_settings_from_env_and_validates_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import click

    from kvmesh.ops.controlplane import serve

    monkeypatch.setenv("KVMESH_LLAMA_THREADS", "3")
    monkeypatch.setenv("KVMESH_LLAMA_CTX_SIZE", "4096")
    params = serve.make_context("serve", ["--llama-parallel", "2"]).params  # parses without serving
    assert (params["llama_threads"], params["llama_parallel"], params["llama_ctx_size"]) == (3, 2, 4096)
    monkeypatch.setenv("KVMESH_LLAMA_THREADS", "0")
    with pytest.raises(click.BadParameter, match="0 is not in the range"):
        serve.make_context("serve", [])
