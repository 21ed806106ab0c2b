"""What every command shares: resolved settings, the store (opened on first use) and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from airsoc.clock import Clock, SystemClock
from airsoc.settings import Settings

if TYPE_CHECKING:
    from airsoc.store import Store

__all__ = ["CliState", "state"]


@dataclass
class CliState:
    """Per-invocation state, reset by the top-level callback."""

    data_dir: Path | None = None
    database_url: str | None = None
    clock: Clock = field(default_factory=SystemClock)
    _store: Store | None = None

    @property
    def settings(self) -> Settings:
        """Return the settings from the global options, the environment and the defaults."""
        return Settings.resolve(data_dir=self.data_dir, database_url=self.database_url)

    def store(self) -> Store:
        """Return the store, opening and migrating it on first use."""
        if self._store is None:
            from airsoc.store import Store  # SQLAlchemy: only for commands that need state

            self._store = Store.open(self.settings)
        return self._store

    def reset(self, *, data_dir: Path | None, database_url: str | None) -> None:
        """Forget the previous invocation (in-process callers run many)."""
        self.close()
        self.data_dir = data_dir
        self.database_url = database_url
        self.clock = SystemClock()

    def close(self) -> None:
        """Release the store, if it was opened."""
        if self._store is not None:
            self._store.close()
            self._store = None


state = CliState()
