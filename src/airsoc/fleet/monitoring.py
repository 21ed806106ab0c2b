"""What the demo's monitors read and how they judge it: prediction windows from the event log,
and a score-drift evaluator built on :func:`airsoc.detection.check_drift`.

:class:`DemoTelemetry` is :class:`airsoc.monitoring.sources.EventLogTelemetry` (the gateway's
Parquet event log and lineage) with, for monitors that name no reference, the known-good model's
scores on clean data registered per system.
:func:`score_drift` compares the ``score`` of the window with the reference's.

Example:
    >>> from datetime import datetime, timezone
    >>> import numpy as np
    >>> from airsoc.monitoring import MonitorEvaluator, WindowData
    >>> from airsoc.monitoring.config import MonitorConfig
    >>> m = MonitorConfig(name="m", system="fraud", detector="score_drift", window="1m",
    ...                   every="30s", failure_mode="data_poisoning")
    >>> rng = np.random.default_rng(0)
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> ref = [{"score": float(x)} for x in rng.beta(1, 30, 500)]
    >>> drifted = [{"score": float(x)} for x in rng.beta(1, 3, 200)]
    >>> [v.decision for v in score_drift(m, WindowData(t, t, drifted, ref))]
    ['drift']
    >>> [v.decision for v in score_drift(m, WindowData(t, t, [], ref))]
    ['ok']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from airsoc.detection import check_drift
from airsoc.detection.verdict import Verdict
from airsoc.monitoring import MonitorEvaluator, WindowData
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.store import Store

__all__ = [
    "ALPHA",
    "DEMO_EVALUATORS",
    "MIN_EFFECT",
    "MIN_ROWS",
    "DemoTelemetry",
    "score_drift",
]

MIN_ROWS = 50
"""Fewer scored predictions than this in a window: the monitor says ``ok`` and waits."""
ALPHA = 0.001
MIN_EFFECT = 0.25
"""A window drifts when a quarter of the score mass moved: a swapped model, not sampling noise."""


class DemoTelemetry(EventLogTelemetry):
    """The event-log source, with per-system references held in memory (the known-good model's
    scores on clean data) for monitors that name no reference of their own."""

    def __init__(
        self,
        *,
        store: Store,
        references: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        super().__init__(store=store)
        self.references = {
            k: pd.DataFrame([dict(r) for r in v]) for k, v in (references or {}).items()
        }

    def reference(self, monitor: MonitorConfig) -> Any:
        """Return the registered scores of the monitor's system, or the monitor's own reference."""
        if not monitor.reference and monitor.system in self.references:
            return self.references[monitor.system]
        return super().reference(monitor)


def _scores(data: Any) -> list[float]:
    if isinstance(data, pd.DataFrame):
        return [] if "score" not in data else [float(x) for x in data["score"].dropna()]
    return [float(r["score"]) for r in data if r.get("score") is not None]


def score_drift(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return the verdict on the window's model scores against the reference scores."""
    current = _scores(window.current)
    reference = _scores(window.reference)
    if len(current) < MIN_ROWS or len(reference) < MIN_ROWS:
        return [
            Verdict(
                detector="score_drift",
                method="ks",
                subject="score",
                decision="ok",
                n_current=len(current),
                n_reference=len(reference),
                reason=f"{len(current)} scored predictions in the window; waiting for {MIN_ROWS}",
            )
        ]
    report = check_drift(
        {"score": reference}, {"score": current}, alpha=ALPHA, min_effect=MIN_EFFECT, quality=False
    )
    verdict = report.column("score")
    return [verdict.model_copy(update={"failure_mode": monitor.failure_mode})]


#: The evaluators the demo adds to the built-ins (the runtime of ``airsoc up --demo``
#: registers them; a plain ``airsoc up`` knows none of them).
DEMO_EVALUATORS: Mapping[str, MonitorEvaluator] = {"score_drift": score_drift}
