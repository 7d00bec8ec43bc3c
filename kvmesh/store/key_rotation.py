"""Rotating the servers' own secrets: the JWT signing key and the server secret (operator command).

The JWT key only signs short-lived access tokens and browser sessions: a new key ends them and the CLI
refreshes (refresh tokens are opaque and stored hashed, so they keep working). The server secret keys
the API key lookup hash and encrypts API keys and external upstream keys: rotating it re-hashes and
re-encrypts every row under the new secret in one transaction, so keys keep working unchanged. The new
secret is staged in `server-secret.new` (0600) before the database changes and moved over the old one
right after the commit; should the process die in between, `finish_pending_secret` (run by the next
rotation) completes the move, since the database already matches the staged secret.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.store.models import ApiKey, Deployment
from kvmesh.store.private_files import write_secret_file
from kvmesh.store.secrets import (
    ENCRYPTED_UPSTREAM_KEY,
    SECRET_ENV,
    decrypt_api_key,
    decrypt_secret,
    encrypt_api_key,
    encrypt_secret,
    generate_secret,
    hash_api_key,
    load_server_secret,
)

JWT_KEY_FILE = "jwt-signing-key"  # in the server data dir, beside `server-secret`
JWT_KEY_ENV = "KVMESH_JWT_SIGNING_KEY"
SECRET_FILE = "server-secret"


class RotationError(Exception):
    """Rotation cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True)
class SecretRotation:
    api_keys: int
    upstream_keys: int
    unreadable_api_keys: int


def rotate_jwt_key(data_dir: Path) -> Path:
    """Write a fresh JWT signing key; a running Control Plane uses it after its next start."""
    if os.environ.get(JWT_KEY_ENV, "").strip():
        raise RotationError(f"the JWT key comes from ${JWT_KEY_ENV}: set a new value there instead")
    path = data_dir / JWT_KEY_FILE
    write_secret_file(path, secrets.token_urlsafe(48) + "\n")
    return path


def finish_pending_secret(data_dir: Path) -> bool:
    """Complete an interrupted rotation (the staged secret exists); True when one was completed."""
    staged = data_dir / (SECRET_FILE + ".new")
    if not staged.is_file():
        return False
    os.replace(staged, data_dir / SECRET_FILE)
    return True


def rotate_server_secret(data_dir: Path, sessions: sessionmaker[Session]) -> SecretRotation:
    """Re-hash and re-encrypt every API key and upstream key under a new server secret."""
    if os.environ.get(SECRET_ENV, "").strip():
        raise RotationError(f"the server secret comes from ${SECRET_ENV}: rotation needs the file form")
    finish_pending_secret(data_dir)
    old = load_server_secret(data_dir / SECRET_FILE, env={})
    new_text = generate_secret()
    new = load_server_secret(data_dir / "unused", env={SECRET_ENV: new_text})
    staged = data_dir / (SECRET_FILE + ".new")
    write_secret_file(staged, new_text + "\n")
    api_keys = upstream_keys = unreadable = 0
    try:
        with sessions() as session, session.begin():
            for row in session.scalars(select(ApiKey)):
                try:
                    plain = decrypt_api_key(old, row.key_encrypted)
                except Exception:
                    unreadable += 1  # its hash can't be recomputed: the key stops working
                    continue
                row.key_hash = hash_api_key(new, plain)
                row.key_encrypted = encrypt_api_key(new, plain)
                api_keys += 1
            for deployment in session.scalars(select(Deployment)):
                config = dict(deployment.engine_config or {})
                token = config.get(ENCRYPTED_UPSTREAM_KEY)
                if isinstance(token, str):
                    config[ENCRYPTED_UPSTREAM_KEY] = encrypt_secret(new, decrypt_secret(old, token))
                    deployment.engine_config = config
                    upstream_keys += 1
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    finish_pending_secret(data_dir)
    return SecretRotation(api_keys, upstream_keys, unreadable)
