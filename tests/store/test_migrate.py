"""kvmesh.store.migrate: migrations create the schema models.py describes, on both backends."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import inspect

from kvmesh.cli import cli
from kvmesh.store.engine import create_engine_for_url
from kvmesh.store.migrate import MIGRATIONS_DIR, current_revision, head_revision, upgrade_database
from kvmesh.store.models import Base


def test_upgrade_creates_every_model_table_and_is_idempotent(database_url: str) -> None:
    upgrade_database(database_url)
    upgrade_database(database_url)
    engine = create_engine_for_url(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        foreign_keys = inspect(engine).get_foreign_keys("api_keys")
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert {fk["referred_table"] for fk in foreign_keys} == {"users", "deployments"}
    assert current_revision(database_url) == head_revision()


def test_migrations_match_models_exactly(database_url: str) -> None:
    """No drift: autogenerate against a migrated database finds nothing to change."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade_database(database_url)
    engine = create_engine_for_url(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_are_packaged_with_the_code() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("*.py"))


def test_db_upgrade_command_migrates_and_reports_revision(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    current = CliRunner().invoke(cli, ["db", "current", "--database-url", database_url])
    assert f"current: {head_revision()}" in current.output


def test_db_upgrade_unreachable_database_is_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--database-url", "postgresql://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: migration failed for postgresql://nobody@127.0.0.1:1/x: ")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output
