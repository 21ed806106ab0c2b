"""A fairness shift: outcomes diverge for one protected group.

Example:
    >>> isinstance(INJECTORS, tuple)
    True
"""

from __future__ import annotations

from airsoc.drills.injectors.base import Injector

__all__ = ["INJECTORS"]

INJECTORS: tuple[type[Injector], ...] = ()
