"""`kvmesh controlplane rotate-keys`: new JWT key and server secret; stored keys keep working."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kvmesh.cli import cli
from kvmesh.controlplane.tokens import JWT_KEY_FILE, load_jwt_key
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.migrate import upgrade_database
from kvmesh.store.models import ApiKey, Deployment
from kvmesh.store.passwords import make_password_hasher
from kvmesh.store.secrets import (
    ENCRYPTED_UPSTREAM_KEY,
    decrypt_secret,
    encrypt_secret,
    hash_api_key,
    load_server_secret,
)
from kvmesh.store.users import create_user


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KVMESH_SECRET_KEY", raising=False)
    monkeypatch.delenv("KVMESH_JWT_SIGNING_KEY", raising=False)
    return tmp_path / "server"


def _seed(data_dir: Path) -> tuple[str, str]:
    """A user with an API key and an external deployment with an upstream key; returns the API key."""
    url = f"sqlite:///{data_dir / 'kvmesh.db'}"
    upgrade_database(url, data_dir)
    secret = load_server_secret(data_dir / "server-secret", env={})
    load_jwt_key(data_dir / JWT_KEY_FILE, env={})
    engine = create_engine_for_url(url)
    with make_session_factory(engine)() as session:
        user, key = create_user(
            session, secret, "a@example.com", "pw-123456789", hasher=make_password_hasher(1, 8)
        )
        config = {
            "base_url": "https://api.example.com/v1",
            ENCRYPTED_UPSTREAM_KEY: encrypt_secret(secret, "sk-up"),
        }
        session.add(Deployment(user_id=user.id, served_name="ext", provider="external", engine_config=config))
        session.commit()
    engine.dispose()
    return url, key


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["controlplane", "rotate-keys", "--data-dir", str(data_dir), *args])
    return result.exit_code, result.output


def test_rotating_the_server_secret_keeps_api_and_upstream_keys_working(data_dir: Path) -> None:
    url, api_key = _seed(data_dir)
    old = load_server_secret(data_dir / "server-secret", env={})
    code, out = _run(data_dir, "--server-secret")
    assert code == 0, out
    assert "1 API keys and 1 upstream keys re-encrypted" in out
    new = load_server_secret(data_dir / "server-secret", env={})
    assert new != old and stat.S_IMODE((data_dir / "server-secret").stat().st_mode) == 0o600
    assert not (data_dir / "server-secret.new").exists()
    engine = create_engine_for_url(url)
    with make_session_factory(engine)() as session:
        hashes = set(session.scalars(select(ApiKey.key_hash)))
        assert hash_api_key(new, api_key) in hashes and hash_api_key(old, api_key) not in hashes
        deployment = session.scalars(select(Deployment)).one()
        assert decrypt_secret(new, deployment.engine_config[ENCRYPTED_UPSTREAM_KEY]) == "sk-up"
    engine.dispose()


def test_rotating_the_jwt_key_writes_a_new_private_key_file(data_dir: Path) -> None:
    _seed(data_dir)
    before = (data_dir / JWT_KEY_FILE).read_text()
    code, out = _run(data_dir, "--jwt")
    assert code == 0, out
    assert (data_dir / JWT_KEY_FILE).read_text() != before
    assert stat.S_IMODE((data_dir / JWT_KEY_FILE).stat().st_mode) == 0o600


def test_rotate_keys_needs_a_choice(data_dir: Path) -> None:
    code, out = _run(data_dir)
    assert code == 2 and "choose what to rotate" in out


def test_a_secret_from_the_environment_is_not_rotated_here(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(data_dir)
    monkeypatch.setenv("KVMESH_SECRET_KEY", "x" * 44)
    code, out = _run(data_dir, "--server-secret")
    assert code == 1 and "comes from $KVMESH_SECRET_KEY" in out
