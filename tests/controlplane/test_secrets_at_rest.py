"""Secrets at rest: private server files, and a JWT signing key that is not in the database."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from records_harness import sign_up
from sqlalchemy import create_engine, text

from kvmesh.controlplane.tokens import JWT_KEY_FILE, load_jwt_key
from kvmesh.store.engine import create_engine_for_url
from kvmesh.store.migrate import upgrade_database


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _forged_admin_token(key: bytes, user_id: str) -> str:
    claims = {
        "sub": user_id,
        "fam": "forged",
        "typ": "access",
        "iss": "kvmesh-controlplane",
        "exp": 4102444800,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def test_every_server_file_is_0600_in_a_0700_folder(tmp_path: Path, serve_app: Any) -> None:
    from kvmesh.controlplane.app import create_app
    from kvmesh.controlplane.settings import ControlPlaneSettings

    data_dir = tmp_path / "state" / "server"
    settings = ControlPlaneSettings(
        database_url=f"sqlite:///{data_dir / 'kvmesh.db'}", data_dir=data_dir, run_engines=False
    )
    live = serve_app(lambda port: create_app(settings))
    sign_up(live, "files@example.com")  # writes, so SQLite has its -wal and -shm files
    names = {path.name for path in data_dir.iterdir()}
    assert {"kvmesh.db", "kvmesh.db-wal", "kvmesh.db-shm", "server-secret", JWT_KEY_FILE} <= names
    assert _mode(data_dir) == 0o700
    for path in data_dir.iterdir():
        assert _mode(path) == 0o600, path.name


def test_the_sqlite_file_is_private_before_sqlite_writes_to_it(tmp_path: Path) -> None:
    engine = create_engine_for_url(f"sqlite:///{tmp_path / 'new' / 'k.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _mode(tmp_path / "new" / "k.db-wal") == 0o600
        assert _mode(tmp_path / "new" / "k.db-shm") == 0o600
    engine.dispose()
    assert _mode(tmp_path / "new") == 0o700
    assert _mode(tmp_path / "new" / "k.db") == 0o600


def test_an_existing_world_readable_data_dir_is_tightened(tmp_path: Path) -> None:
    from kvmesh.store.private_files import private_dir, private_file

    (tmp_path / "d").mkdir(mode=0o755)
    (tmp_path / "d" / "kvmesh.db").write_text("")
    (tmp_path / "d" / "kvmesh.db").chmod(0o644)
    private_file(private_dir(tmp_path / "d") / "kvmesh.db")
    assert _mode(tmp_path / "d") == 0o700
    assert _mode(tmp_path / "d" / "kvmesh.db") == 0o600


def test_the_database_holds_no_jwt_signing_key(control_plane: Any, database_url: str) -> None:
    live = control_plane()
    account = sign_up(live, "reader@example.com", admin=True)
    engine = create_engine_for_url(database_url)
    with engine.connect() as conn:
        values = [row.value for row in conn.execute(text("SELECT value FROM server_settings"))]
    engine.dispose()
    key = live.app.state.services.jwt_key
    assert key.decode() not in values
    for value in values:  # whatever a database reader finds, it cannot sign an accepted token
        forged = _forged_admin_token(value.encode(), account.user_id)
        response = httpx.get(f"{live.base_url}/auth/profile", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401


def test_the_signing_key_file_is_what_signs_tokens(control_plane: Any, tmp_path: Path) -> None:
    live = control_plane()
    account = sign_up(live, "owner@example.com", admin=True)
    key_file = tmp_path / "cp-data" / JWT_KEY_FILE
    assert _mode(key_file) == 0o600
    assert key_file.read_text().strip().encode() == live.app.state.services.jwt_key
    forged = _forged_admin_token(key_file.read_text().strip().encode(), account.user_id)
    response = httpx.get(f"{live.base_url}/auth/profile", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 200  # the file is the secret: only its 0600 mode protects it


def test_upgrading_moves_a_key_from_the_table_to_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    upgrade_database_to(url, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO server_settings (name, value, created_at)"
                " VALUES ('jwt_signing_key', :v, '2026-01-01')"
            ),
            {"v": "k" * 64},
        )
    upgrade_database(url, tmp_path / "server")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM server_settings")).scalar() == 0
    engine.dispose()
    assert load_jwt_key(tmp_path / "server" / JWT_KEY_FILE, env={}) == b"k" * 64
    assert _mode(tmp_path / "server" / JWT_KEY_FILE) == 0o600


def test_a_short_jwt_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32"):
        load_jwt_key(tmp_path / JWT_KEY_FILE, env={"KVMESH_JWT_SIGNING_KEY": "short"})


def upgrade_database_to(url: str, revision: str) -> None:
    from alembic import command

    from kvmesh.store.migrate import alembic_config

    command.upgrade(alembic_config(url), revision)
