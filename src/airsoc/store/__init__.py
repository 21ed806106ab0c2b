"""The state store: SQLAlchemy tables, sessions and Alembic migrations.

SQLite (WAL, foreign keys on) is the embedded default; PostgreSQL is used through
``AIRSOC_DATABASE_URL``. Domains declare their tables on :class:`Base` in their own
``models.py`` and talk to each other through service functions, never through tables.
"""

from __future__ import annotations

from airsoc.store.base import Base, UTCDateTime
from airsoc.store.engine import Store

__all__ = ["Base", "Store", "UTCDateTime"]
