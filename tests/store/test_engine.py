"""kvmesh.store.engine: default locations, URL mapping and per-backend engine setup."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from kvmesh.store.engine import (
    create_engine_for_url,
    default_data_dir,
    default_database_url,
    normalize_database_url,
)


def test_data_dir_prefers_kvmesh_data_dir() -> None:
    assert default_data_dir({"KVMESH_DATA_DIR": "/srv/kv", "TM_CONFIG_HOME": "/x"}) == Path("/srv/kv")


def test_data_dir_defaults_under_state_root() -> None:
    assert default_data_dir({"TM_CONFIG_HOME": "/home/a/tm"}) == Path("/home/a/tm/server")
    assert default_data_dir({}) == Path.home() / ".config" / "tensormesh" / "server"


def test_database_url_env_wins_else_sqlite_in_data_dir() -> None:
    assert default_database_url({"KVMESH_DATABASE_URL": "postgresql://h/db"}) == "postgresql://h/db"
    assert default_database_url({"KVMESH_DATA_DIR": "/d"}) == "sqlite:////d/kvmesh.db"


def test_postgres_urls_use_psycopg3() -> None:
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_engine_uses_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine_for_url(f"sqlite:///{tmp_path / 'sub' / 'k.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
    engine.dispose()


def test_engine_connects_to_each_backend(database_url: str) -> None:
    engine = create_engine_for_url(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
