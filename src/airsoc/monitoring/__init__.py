"""Monitoring: monitors (detector + window + reference + schedule), telemetry sources, the
evaluators that run every detector on windows, and the signals they produce.

Nothing registers itself on import: :class:`EvaluatorRegistry` is built by the runtime from the
built-in evaluators (:data:`BUILTIN_EVALUATORS`), then entry points.

Example:
    >>> from airsoc.monitoring import EvaluatorRegistry
    >>> registry = EvaluatorRegistry(BUILTIN_EVALUATORS)
    >>> "data_drift" in registry and "prompt_injection" in registry
    True
"""

from __future__ import annotations

from airsoc.monitoring.builtin import BUILTIN_EVALUATORS
from airsoc.monitoring.monitors import (
    EvaluatorRegistry,
    InMemoryTelemetry,
    MonitorEvaluator,
    MonitorRun,
    MonitorScheduler,
    MonitorStatus,
    TelemetrySource,
    WindowData,
    monitor_status,
    window_bounds,
)
from airsoc.monitoring.sources import EventLogTelemetry

__all__ = [
    "BUILTIN_EVALUATORS",
    "EvaluatorRegistry",
    "EventLogTelemetry",
    "InMemoryTelemetry",
    "MonitorEvaluator",
    "MonitorRun",
    "MonitorScheduler",
    "MonitorStatus",
    "TelemetrySource",
    "WindowData",
    "monitor_status",
    "window_bounds",
]
