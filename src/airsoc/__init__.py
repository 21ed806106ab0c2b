"""airsoc: incident response for AI systems.

The stable public names are re-exported here; everything else is reachable through its domain
package (``airsoc.incidents``, ``airsoc.audit``, ...). Each name is imported on first use
(PEP 562), so ``import airsoc`` costs nothing until a name is read: the command line starts
without scientific libraries it does not need.

Example:
    >>> import airsoc
    >>> airsoc.failure_mode("prompt_injection").atlas[0].id
    'AML.T0051'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airsoc.clock import Clock, SimulatedClock, SystemClock
    from airsoc.detection import Verdict, check_drift, check_fairness, check_quality, profile
    from airsoc.errors import AirsocError
    from airsoc.incidents import (
        FAILURE_MODES,
        Phase,
        Role,
        Severity,
        add_evidence,
        add_note,
        assign_role,
        declare_incident,
        failure_mode,
        get_incident,
        list_incidents,
        transition_incident,
    )
    from airsoc.runtime.config import AirsocConfig, load_config
    from airsoc.settings import Settings
    from airsoc.store import Store

__version__ = "0.1.0.dev0"

__all__ = [
    "FAILURE_MODES",
    "AirsocConfig",
    "AirsocError",
    "Clock",
    "Phase",
    "Role",
    "Settings",
    "Severity",
    "SimulatedClock",
    "Store",
    "SystemClock",
    "Verdict",
    "__version__",
    "add_evidence",
    "add_note",
    "assign_role",
    "check_drift",
    "check_fairness",
    "check_quality",
    "declare_incident",
    "failure_mode",
    "get_incident",
    "list_incidents",
    "load_config",
    "profile",
    "transition_incident",
]

# Where each re-exported name lives; the ``TYPE_CHECKING`` block above says the same for type
# checkers, and tests/test_package.py keeps the two in step.
_HOMES: dict[str, str] = {
    "AirsocConfig": "airsoc.runtime.config",
    "AirsocError": "airsoc.errors",
    "Clock": "airsoc.clock",
    "FAILURE_MODES": "airsoc.incidents",
    "Phase": "airsoc.incidents",
    "Role": "airsoc.incidents",
    "Settings": "airsoc.settings",
    "Severity": "airsoc.incidents",
    "SimulatedClock": "airsoc.clock",
    "Store": "airsoc.store",
    "SystemClock": "airsoc.clock",
    "Verdict": "airsoc.detection",
    "add_evidence": "airsoc.incidents",
    "add_note": "airsoc.incidents",
    "assign_role": "airsoc.incidents",
    "check_drift": "airsoc.detection",
    "check_fairness": "airsoc.detection",
    "check_quality": "airsoc.detection",
    "declare_incident": "airsoc.incidents",
    "failure_mode": "airsoc.incidents",
    "get_incident": "airsoc.incidents",
    "list_incidents": "airsoc.incidents",
    "load_config": "airsoc.runtime.config",
    "profile": "airsoc.detection",
    "transition_incident": "airsoc.incidents",
}


def __getattr__(name: str) -> Any:
    """Return the public name ``name``, importing its home module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'airsoc' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    """Return the module's names, the lazily imported ones included."""
    return sorted(set(globals()) | set(__all__))
