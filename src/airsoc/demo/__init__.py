"""The demo: its fleet (``fleet``), the support bot (``rag``), and ``airsoc up`` itself.

- :class:`Platform`: the API and console, the gateway, the monitors and the playbook worker in
  one process (``airsoc up``).
- :func:`run_live_demo`: the platform with the demo fleet, traffic and a scheduled fault
  (``airsoc up --demo``); :func:`prepare_demo` writes its configuration and registers the fleet.
- :class:`DemoTelemetry`: what the demo's monitors read (the event log, plus the known-good
  model's scores as the reference); response actions use :func:`airsoc.response.live_control_plane`.

Names load on first use, so importing the fleet or the bot does not start a web stack.

Example:
    >>> from airsoc.demo import DemoOptions
    >>> DemoOptions().fault_after
    60.0
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DemoOptions",
    "DemoTelemetry",
    "Platform",
    "PlatformOptions",
    "prepare_demo",
    "run_live_demo",
]

_WHERE = {
    "DemoOptions": "airsoc.demo.live",
    "DemoTelemetry": "airsoc.demo.monitoring",
    "Platform": "airsoc.demo.platform",
    "PlatformOptions": "airsoc.demo.platform",
    "prepare_demo": "airsoc.demo.setup",
    "run_live_demo": "airsoc.demo.live",
}


def __getattr__(name: str) -> Any:
    """Return the public name ``name`` from the module that defines it."""
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'airsoc.demo' has no attribute {name!r}")
