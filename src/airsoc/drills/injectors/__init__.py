"""The fault and change injectors a scenario's ``injects`` name by ``kind``, by family:

- :mod:`~airsoc.drills.injectors.players`: ``message`` (a note to the players, no fault);
- :mod:`~airsoc.drills.injectors.data`: covariate shift, concept drift, traffic mix changes,
  releases (a clean retrain promoted);
- :mod:`~airsoc.drills.injectors.pipeline`: nulls, a unit change, dropped events, a click
  logger that loses clicks;
- :mod:`~airsoc.drills.injectors.attacks`: adversarial evasion and model-extraction clients;
- :mod:`~airsoc.drills.injectors.fairness`: a disparate impact shift in one group;
- :mod:`~airsoc.drills.injectors.platform`: a locked database, telemetry write errors, a
  worker killed mid-step;
- :mod:`~airsoc.drills.injectors.poisoning`, :mod:`~airsoc.drills.injectors.llm`: poisoned
  vendor batches; prompt injection and RAG faults.

The list is explicit: nothing registers itself on import.

Example:
    >>> registry = builtin_injectors()
    >>> "message" in registry and "covariate_shift" in registry
    True
    >>> get_injector("no-such-fault")
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: kind: unknown inject kind 'no-such-fault'; choose from ...
"""

from __future__ import annotations

from airsoc.drills.injectors import (
    attacks,
    data,
    fairness,
    llm,
    pipeline,
    platform,
    players,
    poisoning,
)
from airsoc.drills.injectors.base import Injector
from airsoc.errors import InputError

__all__ = ["FAMILIES", "Injector", "builtin_injectors", "get_injector"]

#: The built-in families, in the order their injectors are listed.
FAMILIES = (players, data, pipeline, attacks, fairness, platform, poisoning, llm)


def builtin_injectors() -> dict[str, Injector]:
    """Return every built-in injector by its ``kind`` name."""
    out: dict[str, Injector] = {}
    for family in FAMILIES:
        for cls in family.INJECTORS:
            if cls.name in out:
                raise InputError(f"two injectors are named {cls.name!r}", loc=family.__name__)
            out[cls.name] = cls()
    return out


def get_injector(kind: str) -> Injector:
    """Return the built-in injector named ``kind``."""
    registry = builtin_injectors()
    try:
        return registry[kind]
    except KeyError:
        raise InputError(
            f"unknown inject kind {kind!r}; choose from {', '.join(sorted(registry))}",
            loc="kind",
        ) from None
