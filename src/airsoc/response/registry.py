"""The default action registry: the built-in actions, then (by default) the installed plugins.

The runtime builds its registries from here, adding one action per operation of its table
(rollback, isolate, quarantine, ...); the runner, playbook checks and dry runs fall back to this
one when no registry is passed in.

Example:
    >>> registry = default_registry(plugins=False)
    >>> "notify" in registry.names(), "rollback" in registry.names(), registry.disabled
    (True, False, {})
"""

from __future__ import annotations

from airsoc.response.actions import ActionRegistry
from airsoc.response.builtin_actions import BUILTIN_ACTIONS

__all__ = ["default_registry"]


def default_registry(*, plugins: bool = True) -> ActionRegistry:
    """Return the built-in actions plus (by default) every plugin of ``airsoc.actions``."""
    registry = ActionRegistry()
    for action_cls in BUILTIN_ACTIONS:
        registry.register(action_cls())
    if plugins:
        registry.load_entry_points()
    return registry
