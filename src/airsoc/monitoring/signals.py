"""Signals: every verdict of every monitor run, kept for history and charts.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.detection.verdict import Verdict
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> v = Verdict(detector="threshold", method="mean", subject="latency_ms", decision="ok",
    ...             reason="mean 80 within thresholds")
    >>> with store.transaction() as s:
    ...     _ = record_signal(s, clock=SimulatedClock(), monitor="m", system="bot", verdict=v)
    >>> with store.read() as s:
    ...     [(x.monitor, x.decision) for x in list_signals(s, system="bot")]
    [('m', 'ok')]
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.detection.verdict import Verdict
from airsoc.monitoring.models import SignalRow

__all__ = ["SignalView", "list_signals", "record_signal"]


class SignalView(BaseModel):
    """A stored verdict of a monitor run."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    monitor: str
    system: str
    detector: str
    subject: str
    decision: str
    statistic: float | None
    p_value: float | None
    threshold: float | None
    source: str
    at: datetime
    window_start: datetime | None
    window_end: datetime | None
    verdict: dict[str, Any]


def record_signal(
    session: Session,
    *,
    clock: Clock,
    monitor: str,
    system: str,
    verdict: Verdict,
    source: str = "monitor",
    window: tuple[datetime, datetime] | None = None,
) -> SignalView:
    """Store one verdict as a signal (the history charts read) and return it."""
    row = SignalRow(
        monitor=monitor,
        system=system,
        detector=verdict.detector,
        subject=verdict.subject,
        decision=verdict.decision,
        statistic=verdict.statistic,
        p_value=verdict.p_value,
        threshold=verdict.threshold,
        source=source,
        at=clock.now(),
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        verdict=verdict.model_dump(mode="json"),
    )
    session.add(row)
    session.flush()
    return SignalView.model_validate(row)


def list_signals(
    session: Session, *, monitor: str | None = None, system: str | None = None, limit: int = 500
) -> list[SignalView]:
    """Return signals, oldest first, optionally of one monitor or system."""
    query = select(SignalRow).order_by(SignalRow.id.desc()).limit(limit)
    if monitor:
        query = query.where(SignalRow.monitor == monitor)
    if system:
        query = query.where(SignalRow.system == system)
    rows = list(session.execute(query).scalars())
    return [SignalView.model_validate(r) for r in reversed(rows)]
