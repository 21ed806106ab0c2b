"""The store a drill test runs against: a fresh embedded store in the test's own folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airsoc.settings import Settings
from airsoc.store import Store


def drill_store(tmp_path: Path, **settings: Any) -> Store:
    """Open a new store in ``tmp_path / "drill-data"`` (``settings`` as ``Settings.resolve``)."""
    return Store.open(Settings.resolve(data_dir=tmp_path / "drill-data", environ={}, **settings))
