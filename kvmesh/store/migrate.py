"""Schema migrations: run Alembic programmatically against a database URL (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from kvmesh.store.engine import create_engine_for_url, normalize_database_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DATA_DIR_ATTRIBUTE = "kvmesh_data_dir"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str, data_dir: Path | None = None) -> None:
    """Bring the database at `url` to the newest revision (creates it from scratch when empty).

    `data_dir` is the server data dir: migrations that move secrets out of the database (0002 moves
    the JWT signing key) write them there; without it such a secret is dropped, not moved.
    """
    engine = create_engine_for_url(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            config.attributes[DATA_DIR_ATTRIBUTE] = data_dir
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = create_engine_for_url(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
