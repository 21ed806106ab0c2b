"""Where airsoc keeps its state: the data dir and the database URL.

Resolution order, for each: the explicit argument, then the environment
(``AIRSOC_DATA_DIR``, ``AIRSOC_DATABASE_URL``), then the embedded default
(``./airsoc-data`` and SQLite at ``<data-dir>/airsoc.db``).

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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_DATA_DIR", "Settings", "normalize_database_url"]

DEFAULT_DATA_DIR = "airsoc-data"


@dataclass(frozen=True)
class Settings:
    """The resolved data dir and database URL."""

    data_dir: Path
    database_url: str
    otlp_system_attribute: str | None = None

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | Path | None = None,
        database_url: str | None = None,
        otlp_system_attribute: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Return settings from arguments, then the environment, then the defaults."""
        env = os.environ if environ is None else environ
        chosen_dir = Path(data_dir or env.get("AIRSOC_DATA_DIR") or DEFAULT_DATA_DIR)
        url = database_url or env.get("AIRSOC_DATABASE_URL")
        if not url:
            url = f"sqlite:///{chosen_dir / 'airsoc.db'}"
        attribute = otlp_system_attribute or env.get("AIRSOC_OTLP_SYSTEM_ATTRIBUTE") or None
        return cls(
            data_dir=chosen_dir,
            database_url=normalize_database_url(url),
            otlp_system_attribute=attribute,
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
