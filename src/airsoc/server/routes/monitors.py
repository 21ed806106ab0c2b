"""``/api/v1/monitors`` and ``/api/v1/signals``: the monitors that ran and every verdict they
stored, which is what the console's charts draw.

A monitor is listed once it has stored a signal (monitors live in ``airsoc.yaml``; the store
knows those that ran, Alertmanager alerts included). Everything here is read-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from airsoc.errors import NotFoundError
from airsoc.monitoring.signals import SignalView, list_signals
from airsoc.server.deps import Ctx, CurrentUser
from airsoc.server.errors import error_responses
from airsoc.types import Text as PlainText

__all__ = ["MonitorSummary", "monitor_summaries", "router"]

router = APIRouter(tags=["monitors"])

#: How many recent signals the monitor summaries look at.
SUMMARY_WINDOW = 5000
MonitorName = Annotated[
    PlainText,
    Path(
        min_length=1,
        max_length=200,
        description="The monitor's name (alertname for ones from Alertmanager)",
    ),
]


class MonitorSummary(BaseModel):
    """A monitor as its stored signals show it: what it checks and its latest verdict."""

    monitor: str
    system: str
    detector: str
    source: str
    signals: int = Field(description="Signals among the recent ones looked at")
    breaches: int = Field(description="Of those, verdicts that raised the alarm (drift)")
    last_at: datetime
    last_decision: str = Field(
        description="ok, warn or drift; skipped or failed when the last check did not run"
    )
    last_statistic: float | None
    threshold: float | None
    last_reason: str | None = Field(
        None, description="Why the last check was skipped or failed (e.g. content not captured)"
    )


def monitor_summaries(session: Session, *, system: str | None = None) -> list[MonitorSummary]:
    """Return one summary per monitor with recent signals (of one system), by system and name."""
    found: dict[tuple[str, str], MonitorSummary] = {}
    for sig in list_signals(session, system=system, limit=SUMMARY_WINDOW):
        key = (sig.system, sig.monitor)
        bad = int(sig.decision == "drift")
        status = str(sig.verdict.get("status", "ran"))  # a skipped check is never shown as ok
        ran = status == "ran"
        old = found.get(key)
        found[key] = MonitorSummary(
            monitor=sig.monitor,
            system=sig.system,
            detector=sig.detector,
            source=sig.source,
            signals=(old.signals if old else 0) + 1,
            breaches=(old.breaches if old else 0) + bad,
            last_at=sig.at,
            last_decision=sig.decision if ran else status,
            last_statistic=sig.statistic,
            threshold=sig.threshold,
            last_reason=None if ran else str(sig.verdict.get("reason", "")),
        )
    return [found[k] for k in sorted(found)]


@router.get("/monitors", response_model=list[MonitorSummary], responses=error_responses(422))
def monitors(
    ctx: Ctx,
    _user: CurrentUser,
    system: Annotated[PlainText | None, Query(max_length=200)] = None,
) -> list[MonitorSummary]:
    """List the monitors that stored signals, with their latest verdict."""
    with ctx.store.read() as s:
        return monitor_summaries(s, system=system)


@router.get(
    "/monitors/{monitor}/signals",
    response_model=list[SignalView],
    responses=error_responses(404, 422),
)
def monitor_signals(
    monitor: MonitorName,
    ctx: Ctx,
    _user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[SignalView]:
    """Return a monitor's signal history, oldest first (its statistic and threshold over time)."""
    with ctx.store.read() as s:
        found = list_signals(s, monitor=monitor, limit=limit)
    if not found:
        raise NotFoundError(f"monitor {monitor!r} has stored no signal")
    return found


@router.get("/signals", response_model=list[SignalView], responses=error_responses(422))
def signals(
    ctx: Ctx,
    _user: CurrentUser,
    system: Annotated[PlainText | None, Query(max_length=200)] = None,
    monitor: Annotated[PlainText | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[SignalView]:
    """Return stored signals, oldest first, of one system or monitor."""
    with ctx.store.read() as s:
        return list_signals(s, system=system, monitor=monitor, limit=limit)
