"""Platform faults: a database lock beyond the busy timeout, telemetry write errors, a worker
killed mid-step.

Example:
    >>> isinstance(INJECTORS, tuple)
    True
"""

from __future__ import annotations

from airsoc.drills.injectors.base import Injector

__all__ = ["INJECTORS"]

INJECTORS: tuple[type[Injector], ...] = ()
