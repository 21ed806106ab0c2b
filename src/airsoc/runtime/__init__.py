"""The runtime: the platform's engine. The supervised worker loop (monitors, alerting,
declaration, playbook runs), the ASGI apps it is given to serve, config composition and
reload, the table of operations, and the registries of evaluators, actions and receivers.

Names load on first use, so ``import airsoc.runtime`` does not start a web stack.

Example:
    >>> from airsoc.runtime import build_registries
    >>> "threshold" in build_registries(plugins=False).evaluators
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "OPERATIONS",
    "LiveControlPlane",
    "LoopReport",
    "Operation",
    "Platform",
    "PlatformOptions",
    "Registries",
    "ResponseLoop",
    "build_action_registry",
    "build_registries",
    "check_config",
    "get_operation",
    "live_control_plane",
    "load_checked_config",
]

_WHERE = {
    "LiveControlPlane": "airsoc.runtime.control",
    "LoopReport": "airsoc.runtime.loop",
    "Platform": "airsoc.runtime.platform",
    "PlatformOptions": "airsoc.runtime.platform",
    "Registries": "airsoc.runtime.registries",
    "ResponseLoop": "airsoc.runtime.loop",
    "OPERATIONS": "airsoc.runtime.operations",
    "Operation": "airsoc.runtime.operations",
    "build_action_registry": "airsoc.runtime.registries",
    "build_registries": "airsoc.runtime.registries",
    "get_operation": "airsoc.runtime.operations",
    "check_config": "airsoc.runtime.config",
    "live_control_plane": "airsoc.runtime.control",
    "load_checked_config": "airsoc.runtime.config",
}


def __getattr__(name: str) -> Any:
    """Return the public name ``name`` from the module that defines it."""
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'airsoc.runtime' has no attribute {name!r}")
