"""The registries the runtime builds: evaluators, actions and receivers, built-ins first, then
plugins from entry points. Nothing registers itself on import; a broken plugin is loud (a
warning naming it) and disabled, never silently skipped.

The actions are the built-ins of :mod:`airsoc.response`, then one per operation of the table
(:mod:`airsoc.runtime.operations`), then the forensics actions
(:mod:`airsoc.runtime.forensics_actions`), then the reporting actions
(:mod:`airsoc.runtime.reporting_actions`), then the fairness forensics and recovery actions
(:mod:`airsoc.runtime.recovery_actions`), then plugins.

Entry-point groups: ``airsoc.evaluators`` (a callable ``(monitor, window) -> verdicts``, named
by the detector name monitors use), ``airsoc.actions`` (an :class:`~airsoc.response.Action`),
``airsoc.receivers`` (a factory returning a notify target).

Example:
    >>> registries = build_registries(plugins=False)
    >>> "data_drift" in registries.evaluators, "rollback" in registries.actions.names()
    (True, True)
    >>> "score_drift" in registries.evaluators
    False
    >>> BUILTIN_RECEIVER_KINDS[-3:]
    ('ocsf_webhook', 'splunk_hec', 'thehive')
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from airsoc.alerting.config import ReceiverConfig
from airsoc.alerting.dispatcher import NotifyTarget
from airsoc.monitoring import BUILTIN_EVALUATORS, EvaluatorRegistry
from airsoc.response.actions import ActionRegistry
from airsoc.response.registry import default_registry
from airsoc.runtime.forensics_actions import register_forensics_actions
from airsoc.runtime.playbook_actions import register_operation_actions
from airsoc.runtime.recovery_actions import register_recovery_actions
from airsoc.runtime.reporting_actions import register_reporting_actions

__all__ = [
    "BUILTIN_RECEIVER_KINDS",
    "EVALUATOR_GROUP",
    "RECEIVER_GROUP",
    "PluginWarning",
    "Registries",
    "build_action_registry",
    "build_registries",
    "load_plugins",
]

#: The integrations a receiver of ``airsoc.yaml`` may use (``receivers.<name>.<kind>``): Slack,
#: email, webhook and PagerDuty, and the OCSF sinks (signed OCSF webhook, Splunk HEC, TheHive),
#: built by :func:`airsoc.alerting.build_receivers`; plugins add receivers by entry point.
BUILTIN_RECEIVER_KINDS: tuple[str, ...] = tuple(ReceiverConfig.model_fields)

EVALUATOR_GROUP = "airsoc.evaluators"
RECEIVER_GROUP = "airsoc.receivers"


class PluginWarning(UserWarning):
    """A plugin failed to load and is disabled."""


def load_plugins(
    group: str,
    *,
    register: Callable[[str, Any], None],
    disable: Callable[[str, str], None],
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> None:
    """Load every plugin of entry-point ``group``; one that fails warns and is disabled."""
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=group)
    for ep in entry_points:
        try:
            register(ep.name, ep.load())
        except Exception as exc:
            message = f"plugin {ep.value!r} failed to load: {type(exc).__name__}: {exc}"
            disable(ep.name, message)
            warnings.warn(
                f"airsoc {group} {ep.name!r} is disabled: {message}", PluginWarning, stacklevel=2
            )


@dataclass
class Registries:
    """What monitors, playbooks and routing can name."""

    evaluators: EvaluatorRegistry
    actions: ActionRegistry
    receivers: dict[str, list[NotifyTarget]] = field(default_factory=dict)


def build_action_registry(*, plugins: bool = True) -> ActionRegistry:
    """Return the built-in actions, the actions of the table of operations, then the plugins.

    >>> registry = build_action_registry(plugins=False)
    >>> "notify" in registry.names(), "disable_retrieval" in registry.names()
    (True, True)
    """
    actions = default_registry(plugins=False)
    register_operation_actions(actions)
    register_forensics_actions(actions)
    register_reporting_actions(actions)
    register_recovery_actions(actions)
    if plugins:
        actions.load_entry_points()
    return actions


def build_registries(*, plugins: bool = True) -> Registries:
    """Return the built-in evaluators, actions and receivers, then (by default) the plugins."""
    evaluators = EvaluatorRegistry(BUILTIN_EVALUATORS)
    actions = build_action_registry(plugins=plugins)
    receivers: dict[str, list[NotifyTarget]] = {}
    if plugins:

        def add_evaluator(name: str, loaded: Any) -> None:
            if not callable(loaded):
                raise TypeError("not a callable (monitor, window) -> verdicts")
            evaluators.register(name, loaded)

        def add_receiver(name: str, loaded: Any) -> None:
            target = loaded() if isinstance(loaded, type) else loaded
            if not callable(getattr(target, "send", None)):
                raise TypeError("not a receiver (it has no send method)")
            receivers.setdefault(name, []).append(target)

        load_plugins(EVALUATOR_GROUP, register=add_evaluator, disable=evaluators.disable)

        def drop_receiver(name: str, message: str) -> None:
            receivers.pop(name, None)

        load_plugins(RECEIVER_GROUP, register=add_receiver, disable=drop_receiver)
    return Registries(evaluators=evaluators, actions=actions, receivers=receivers)
