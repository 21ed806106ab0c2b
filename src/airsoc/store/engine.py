"""Opening the store: engines, sessions and migrations.

Example:
    >>> import tempfile
    >>> from airsoc.settings import Settings
    >>> tmp = tempfile.mkdtemp()
    >>> store = Store.open(Settings.resolve(data_dir=tmp))
    >>> with store.transaction() as session:
    ...     session.execute(text("select 1")).scalar_one()
    1
    >>> store.close()
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from airsoc.errors import StoreError
from airsoc.settings import Settings

__all__ = ["MODEL_MODULES", "Store", "load_all_models", "text"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: Modules that declare tables; imported by name so the store never depends on a domain.
MODEL_MODULES: tuple[str, ...] = (
    "airsoc.audit.models",
    "airsoc.incidents.models",
    "airsoc.lineage.models",
    "airsoc.serving.models",
    "airsoc.monitoring.models",
    "airsoc.alerting.models",
    "airsoc.response.models",
    "airsoc.server.models",
    "airsoc.reporting.models",
    "airsoc.drills.models",
)


def load_all_models() -> None:
    """Import every module that declares tables, so ``Base.metadata`` is complete."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


class Store:
    """A handle on the state database: ``transaction()`` for writes, ``read()`` for reads."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or _create_engine(settings)
        # Sessions carry the settings they were opened with, so a domain can find what lives
        # outside the database (the audit key in the data dir) without a new argument everywhere.
        info = {"airsoc_settings": settings}
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        readonly = self.engine.execution_options(airsoc_begin="DEFERRED")
        self._read_sessions = sessionmaker(readonly, expire_on_commit=False, info=info)

    @classmethod
    def open(cls, settings: Settings | None = None, *, migrate: bool = True) -> Store:
        """Open (and by default migrate) the store the settings point at."""
        settings = settings or Settings.resolve()
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(settings)
        if migrate:
            store.migrate()
        return store

    @property
    def dialect(self) -> str:
        """Return ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic ``upgrade heads``).

        A schema already at the newest revision is left alone without running the migration
        environment, which imports every domain's tables: a command that reads one table starts
        without loading the others' packages.
        """
        from alembic import command
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        try:
            with self.engine.begin() as connection:
                config = alembic_config(self.settings.database_url)
                if connection.dialect.name == "postgresql":
                    # Two processes starting at once must not both create the tables.
                    connection.execute(text("SELECT pg_advisory_xact_lock(7265372)"))
                current = MigrationContext.configure(connection).get_current_heads()
                if set(current) == set(ScriptDirectory.from_config(config).get_heads()):
                    return
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")
        except OperationalError as exc:
            raise StoreError(f"cannot reach the database at {self.safe_url}: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        """Return the database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session whose work commits at the end, or rolls back on any error.

        On SQLite the transaction takes the write lock at its start (``BEGIN IMMEDIATE``), so two
        writers never deadlock upgrading read locks; on PostgreSQL rows are locked explicitly.
        """
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reading; nothing it does is committed."""
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()


def alembic_config(database_url: str) -> Any:
    """Return the Alembic configuration of airsoc's migrations for ``database_url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _create_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        busy = settings.store_busy_timeout
        engine = create_engine(url, connect_args={"timeout": busy})
        _configure_sqlite(engine, busy_timeout=busy)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
        raise StoreError(
            f"the database driver for {url.split('://')[0]} is not installed "
            "(pip install 'airsoc[postgres]')"
        ) from exc


def _configure_sqlite(engine: Engine, *, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the begin hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={max(1, round(busy_timeout * 1000))}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("airsoc_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")
