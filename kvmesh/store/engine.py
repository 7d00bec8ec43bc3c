"""Database engines: default data dir and URL, SQLite/PostgreSQL engine tuning, session factories."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.store.private_files import private_file

DATABASE_URL_ENV = "KVMESH_DATABASE_URL"
DATA_DIR_ENV = "KVMESH_DATA_DIR"


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """`KVMESH_DATA_DIR`, else `<state root>/server` (state root: `$TM_CONFIG_HOME`, ~/.config/tensormesh)."""
    source = os.environ if env is None else env
    explicit = source.get(DATA_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    root = source.get("TM_CONFIG_HOME", "").strip()
    state_root = Path(root).expanduser() if root else Path.home() / ".config" / "tensormesh"
    return state_root / "server"


def default_database_url(env: Mapping[str, str] | None = None) -> str:
    """`KVMESH_DATABASE_URL`, else a SQLite file `kvmesh.db` in the server data dir."""
    source = os.environ if env is None else env
    explicit = source.get(DATABASE_URL_ENV, "").strip()
    if explicit:
        return explicit
    return f"sqlite:///{default_data_dir(source) / 'kvmesh.db'}"


def normalize_database_url(url: str) -> str:
    """Map plain `postgresql://`/`postgres://` to the psycopg 3 driver; leave everything else alone."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_engine_for_url(url: str) -> Engine:
    """Build an engine tuned per backend: SQLite (WAL, FKs, busy timeout, any thread) or PostgreSQL.

    SQL parameters are hidden from error messages so hashes and ciphertexts never reach logs.
    """
    parsed = make_url(normalize_database_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            # Created 0600 before SQLite opens it: SQLite gives -wal/-shm the database file's mode.
            private_file(Path(database).expanduser())
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
