"""The store: SQLite pragmas, settings resolution, and migrations that match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from airsoc.errors import StoreError
from airsoc.settings import Settings
from airsoc.store import Base, Store
from airsoc.store.engine import load_all_models


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_store: Store) -> None:
    with sqlite_store.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    assert sqlite_store.settings.database_url.endswith("/data/airsoc.db")
    assert (sqlite_store.settings.data_dir / "airsoc.db").exists()


def test_migrations_match_the_models(store: Store) -> None:
    load_all_models()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    with store.read() as s:
        heads = s.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert heads


def test_migrate_leaves_a_schema_at_the_newest_revision_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def upgrade(*args: object, **kwargs: object) -> None:
        raise AssertionError("the migration environment ran on an up-to-date schema")

    monkeypatch.setattr("alembic.command.upgrade", upgrade)
    store.migrate()
    Store.open(store.settings).close()


def test_foreign_keys_are_enforced(store: Store) -> None:
    with (
        pytest.raises(sqlalchemy.exc.IntegrityError, match=r"(?i)foreign key"),
        store.transaction() as s,
    ):
        s.execute(
            text(
                "INSERT INTO incident_roles (incident_id, role, person, assigned_by, assigned_at) "
                "VALUES (4242, 'scribe', 'x', 'y', '2026-01-01 00:00:00')"
            )
        )


def test_settings_resolution_order(tmp_path: Path) -> None:
    env = {"AIRSOC_DATA_DIR": str(tmp_path / "env-dir")}
    assert Settings.resolve(environ={}).data_dir == Path("airsoc-data")
    assert Settings.resolve(environ=env).data_dir == tmp_path / "env-dir"
    assert Settings.resolve(data_dir=tmp_path / "arg", environ=env).data_dir == tmp_path / "arg"
    pg = Settings.resolve(environ={**env, "AIRSOC_DATABASE_URL": "postgresql://u@h/db"})
    assert pg.database_url == "postgresql+psycopg://u@h/db"
    assert not pg.is_sqlite


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/x")
    with pytest.raises(StoreError, match=r"cannot reach the database at postgresql\+psycopg"):
        Store.open(settings)


def test_migration_history_is_one_line() -> None:
    from alembic.script import ScriptDirectory

    from airsoc.store.engine import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    assert [r.revision for r in script.walk_revisions()][-1] == "0001_foundation"
