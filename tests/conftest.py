"""Shared fixtures: stores on SQLite and on a real PostgreSQL, a simulated clock, the CLI.

PostgreSQL: each test session creates its own database on ``AIRSOC_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``, the admin connection) and drops it at the
end, so parallel runs never share tables. ``AIRSOC_SKIP_POSTGRES=1`` skips the PostgreSQL
variants; otherwise an unreachable server is an error, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from airsoc.clock import SimulatedClock
from airsoc.settings import Settings
from airsoc.store import Base, Store
from airsoc.store.engine import load_all_models
from airsoc.testing import CliResult, run_cli

ADMIN_URL = os.environ.get(
    "AIRSOC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SKIP_POSTGRES = os.environ.get("AIRSOC_SKIP_POSTGRES") == "1"
REPO_ROOT = Path(__file__).resolve().parent.parent
ATLAS_PATH = REPO_ROOT.parent / "shared" / "data" / "atlas" / "ATLAS.yaml"


@pytest.fixture(scope="session", autouse=True)
def fleet_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache of the trained demo fleet for the whole run (and the ``airsoc`` processes tests
    start), kept out of the user's home: the fleet trains once, every demo data dir copies it."""
    path = tmp_path_factory.mktemp("fleet-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRSOC_FLEET_CACHE", str(path))
        yield path


@pytest.fixture
def clock() -> SimulatedClock:
    """A simulated clock at 2026-03-01 09:00 UTC."""
    return SimulatedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database for this test session."""
    if SKIP_POSTGRES:
        pytest.skip("AIRSOC_SKIP_POSTGRES=1")
    name = f"airsoc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    store = Store.open(Settings(data_dir=Path("unused"), database_url=url))
    store.close()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(store: Store) -> None:
    load_all_models()
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.transaction() as session:
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for an empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield Settings.resolve(data_dir=tmp_path / "data", environ={})
        return
    url = request.getfixturevalue("postgres_url")
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    store = Store.open(settings)
    _truncate_all(store)
    store.close()
    yield settings


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    """A migrated, empty store: SQLite and PostgreSQL."""
    s = Store.open(store_settings)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty SQLite store, for tests where the backend does not matter."""
    s = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    yield s
    s.close()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``airsoc`` in-process in a temporary working dir with its own data dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIRSOC_DATA_DIR", str(tmp_path / "airsoc-data"))
    monkeypatch.delenv("AIRSOC_DATABASE_URL", raising=False)
    monkeypatch.setenv("AIRSOC_ACTOR", "tester")
    monkeypatch.delenv("AIRSOC_TOKEN", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return run_cli
