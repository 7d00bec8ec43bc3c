"""trust: the JWT signing key leaves the database

Revision ID: 0006_trust_secure
Revises: 0005_routing
Create Date: 2026-11-29

The HS256 signing key was a row of server_settings, readable by anyone who can read the database
(and so forge admin tokens). It now lives in `<data dir>/jwt-signing-key` (0600). This revision
moves an existing key there, so signed-in sessions survive the upgrade, and deletes the row. When the
upgrade runs without a data dir (`upgrade_database(url)` alone) the row is deleted and the Control
Plane makes a new key: access tokens then stop working and clients refresh (refresh tokens are
unaffected). Self-contained on purpose: revisions do not import kvmesh.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision: str = "0006_trust_secure"
down_revision: str | None = "0005_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTING = "jwt_signing_key"
KEY_FILE = "jwt-signing-key"  # kvmesh.controlplane.tokens.JWT_KEY_FILE
DATA_DIR_ATTRIBUTE = "kvmesh_data_dir"  # kvmesh.store.migrate.DATA_DIR_ATTRIBUTE


def _key_file() -> Path | None:
    data_dir = context.config.attributes.get(DATA_DIR_ATTRIBUTE)
    return Path(data_dir) / KEY_FILE if data_dir else None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.migrating")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def upgrade() -> None:
    bind = op.get_bind()
    value = bind.execute(
        sa.text("SELECT value FROM server_settings WHERE name = :name"), {"name": SETTING}
    ).scalar()
    key_file = _key_file()
    if value and key_file is not None and not key_file.exists():
        _write_private(key_file, f"{value}\n")
    bind.execute(sa.text("DELETE FROM server_settings WHERE name = :name"), {"name": SETTING})


def downgrade() -> None:
    key_file = _key_file()
    if key_file is None or not key_file.is_file():
        return
    op.get_bind().execute(
        sa.text(
            "INSERT INTO server_settings (name, value, created_at) VALUES (:name, :value, CURRENT_TIMESTAMP)"
        ),
        {"name": SETTING, "value": key_file.read_text().strip()},
    )
