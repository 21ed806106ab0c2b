"""airsoc: incident response for AI systems.

The stable public names are re-exported here; everything else is reachable through its domain
package (``airsoc.incidents``, ``airsoc.audit``, ...).

Example:
    >>> import airsoc
    >>> airsoc.failure_mode("prompt_injection").atlas[0].id
    'AML.T0051'
"""

from __future__ import annotations

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
