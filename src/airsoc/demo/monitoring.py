"""What the demo's monitors read and how they judge it: prediction windows from the event log,
and a score-drift evaluator built on :func:`airsoc.detection.check_drift`.

:class:`EventLogTelemetry` is a :class:`~airsoc.alerting.TelemetrySource` over the Parquet event
log the gateway writes: the window is the system's answered predictions, the reference is a list
of records registered per system (the known-good model's scores on clean data).
:func:`score_drift` compares the ``score`` of the window with the reference's.

Example:
    >>> from datetime import datetime, timezone
    >>> import numpy as np
    >>> from airsoc.alerting import WindowData
    >>> from airsoc.config.schema import MonitorConfig
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
from datetime import datetime
from pathlib import Path
from typing import Any

from airsoc.alerting import WindowData, register_evaluator
from airsoc.alerting.monitors import EVALUATORS
from airsoc.clock import ensure_utc
from airsoc.config.schema import MonitorConfig
from airsoc.detection import check_drift
from airsoc.detection.verdict import Verdict
from airsoc.telemetry import read_frame

__all__ = [
    "ALPHA",
    "MIN_EFFECT",
    "MIN_ROWS",
    "EventLogTelemetry",
    "register_demo_evaluators",
    "score_drift",
]

MIN_ROWS = 50
"""Fewer scored predictions than this in a window: the monitor says ``ok`` and waits."""
ALPHA = 0.001
MIN_EFFECT = 0.25
"""A window drifts when a quarter of the score mass moved: a swapped model, not sampling noise."""


class EventLogTelemetry:
    """Monitors' telemetry: the gateway's prediction events in ``root``, references in memory."""

    def __init__(
        self,
        root: str | Path,
        *,
        references: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.references = {k: [dict(r) for r in v] for k, v in (references or {}).items()}

    def window(self, monitor: MonitorConfig, start: datetime, end: datetime) -> Any:
        """Return the system's answered predictions in ``[start, end)`` as records."""
        frame = read_frame(self.root, "prediction", system=monitor.system, start=start, end=end)
        return frame[frame["status"] == "ok"].to_dict("records")

    def reference(self, monitor: MonitorConfig) -> Any:
        """Return the records of a time range (``reference: {start, end}``) or, otherwise, the
        records registered for the monitor's system."""
        ref = monitor.reference
        if "start" in ref and "end" in ref:
            start = ensure_utc(datetime.fromisoformat(str(ref["start"])))
            end = ensure_utc(datetime.fromisoformat(str(ref["end"])))
            return self.window(monitor, start, end)
        return self.references.get(monitor.system, [])


def score_drift(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return the verdict on the window's model scores against the reference scores."""
    current = [float(r["score"]) for r in window.current if r.get("score") is not None]
    reference = [float(r["score"]) for r in window.reference if r.get("score") is not None]
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


def register_demo_evaluators() -> None:
    """Register :func:`score_drift` as ``score_drift`` unless an evaluator has that name."""
    if "score_drift" not in EVALUATORS:
        register_evaluator("score_drift", score_drift)
