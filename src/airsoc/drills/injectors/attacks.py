"""Attacks: adversarial evasion traffic from one client, model-extraction probing.

Example:
    >>> isinstance(INJECTORS, tuple)
    True
"""

from __future__ import annotations

from airsoc.drills.injectors.base import Injector

__all__ = ["INJECTORS"]

INJECTORS: tuple[type[Injector], ...] = ()
