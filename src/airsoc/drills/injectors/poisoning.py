"""Poisoned vendor batches entering training (label flips on one pattern, a backdoor).

This family is filled in by the scenarios that use it; it lists no injector yet.

Example:
    >>> INJECTORS
    ()
"""

from __future__ import annotations

from airsoc.drills.injectors.base import Injector

__all__ = ["INJECTORS"]

INJECTORS: tuple[type[Injector], ...] = ()
