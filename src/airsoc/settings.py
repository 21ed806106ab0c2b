"""Where airsoc keeps its state: the data dir and the database URL.

Resolution order, for each: the explicit argument, then the environment
(``AIRSOC_DATA_DIR``, ``AIRSOC_DATABASE_URL``), then the embedded default
(``./airsoc-data`` and SQLite at ``<data-dir>/airsoc.db``).

``store_busy_timeout`` (environment ``AIRSOC_STORE_BUSY_TIMEOUT``, seconds, default 60) is how
long a write waits for the embedded database's lock before it fails (a drill that locks the
database uses a short one).

``otlp_system_attribute`` (environment ``AIRSOC_OTLP_SYSTEM_ATTRIBUTE``) names the span or
resource attribute that says which system an OTLP trace belongs to; unset, it is the resource's
``service.name``.

Example:
    >>> s = Settings.resolve(data_dir="/srv/airsoc", environ={})
    >>> s.database_url
    'sqlite:////srv/airsoc/airsoc.db'
    >>> Settings.resolve(environ={"AIRSOC_DATABASE_URL": "postgresql://db/airsoc"}).database_url
    'postgresql+psycopg://db/airsoc'
    >>> Settings.resolve(environ={"AIRSOC_OTLP_SYSTEM_ATTRIBUTE": "app.name"}).otlp_system_attribute
    'app.name'
    >>> Settings.resolve(environ={"AIRSOC_STORE_BUSY_TIMEOUT": "0.5"}).store_busy_timeout
    0.5
    >>> Settings.resolve(environ={"AIRSOC_STORE_BUSY_TIMEOUT": "soon"})
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: AIRSOC_STORE_BUSY_TIMEOUT: ... must be a number of seconds, got 'soon'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airsoc.errors import InputError

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_DATA_DIR",
    "MAX_BUSY_TIMEOUT",
    "Settings",
    "normalize_database_url",
]

DEFAULT_DATA_DIR = "airsoc-data"
#: Wall seconds a write waits for SQLite's lock by default, and at most.
DEFAULT_BUSY_TIMEOUT = 60.0
MAX_BUSY_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Settings:
    """The resolved data dir and database URL."""

    data_dir: Path
    database_url: str
    otlp_system_attribute: str | None = None
    #: Wall seconds a write waits for the embedded database's lock before it fails.
    store_busy_timeout: float = DEFAULT_BUSY_TIMEOUT

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | Path | None = None,
        database_url: str | None = None,
        otlp_system_attribute: str | None = None,
        store_busy_timeout: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Return settings from arguments, then the environment, then the defaults."""
        env = os.environ if environ is None else environ
        chosen_dir = Path(data_dir or env.get("AIRSOC_DATA_DIR") or DEFAULT_DATA_DIR)
        url = database_url or env.get("AIRSOC_DATABASE_URL")
        if not url:
            url = f"sqlite:///{chosen_dir / 'airsoc.db'}"
        attribute = otlp_system_attribute or env.get("AIRSOC_OTLP_SYSTEM_ATTRIBUTE") or None
        busy = store_busy_timeout
        if busy is None:
            raw = env.get("AIRSOC_STORE_BUSY_TIMEOUT", "").strip()
            try:
                busy = float(raw) if raw else DEFAULT_BUSY_TIMEOUT
            except ValueError:
                raise InputError(
                    f"AIRSOC_STORE_BUSY_TIMEOUT must be a number of seconds, got {raw!r}",
                    loc="AIRSOC_STORE_BUSY_TIMEOUT",
                ) from None
        if not 0 < busy <= MAX_BUSY_TIMEOUT:
            raise InputError(
                f"the store's busy timeout must be more than 0 and at most {MAX_BUSY_TIMEOUT:g} "
                f"seconds, got {busy:g}",
                loc="store_busy_timeout",
            )
        return cls(
            data_dir=chosen_dir,
            database_url=normalize_database_url(url),
            otlp_system_attribute=attribute,
            store_busy_timeout=busy,
        )

    @property
    def is_sqlite(self) -> bool:
        """Return whether the state lives in the embedded SQLite database."""
        return self.database_url.startswith("sqlite")

    @property
    def evidence_dir(self) -> Path:
        """Return the folder of content-addressed evidence blobs."""
        return self.data_dir / "evidence"

    @property
    def telemetry_dir(self) -> Path:
        """Return the folder of the telemetry event log."""
        return self.data_dir / "telemetry"


def normalize_database_url(url: str) -> str:
    """Return ``url`` with PostgreSQL URLs pointed at the psycopg 3 driver.

    >>> normalize_database_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
