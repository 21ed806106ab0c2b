"""How fast incidents were handled: time to detect, acknowledge, contain and recover, one incident
at a time and fleet-wide (means by failure mode or system, per period).

Definitions, all from the incident record and its timeline:

- **TTD** (detect): from the start of impact to ``detected_at``; the start of impact comes from
  the evidence, as the post-mortem measures it (:func:`airsoc.reporting.course.impact_start`: the
  promotion of the bad version, the first suspect batch, the first flagged turn, the forensic
  window, and only then the start recorded on the incident); unknown without any of them;
- **TTA** (acknowledge): from detection to the incident's acknowledgement, or without one to
  the first entry on the timeline by a person (not ``system:`` or ``playbook:``) after the
  declaration;
- **TTC** (contain): ``contained_at - detected_at``;
- **TTR** (recover): ``recovered_at - detected_at``.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident, transition_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="system:monitor", system="fraud",
    ...                            failure_mode="data_drift", summary="psi 0.4")
    >>> clock.advance(timedelta(minutes=5))
    >>> with store.transaction() as s:
    ...     _ = transition_incident(s, clock=clock, incident_id=inc.id, to="contained",
    ...                             actor="dana", reason="fallback on")
    >>> with store.read() as s:
    ...     t = incident_times(s, incident_id=inc.id)
    >>> t.tta_seconds, t.ttc_seconds, t.ttr_seconds
    (300.0, 300.0, None)
    >>> store.close()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from statistics import mean
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView, list_entries
from airsoc.incidents.service import (
    ACKNOWLEDGED,
    IncidentView,
    get_incident,
    incident_chain,
    list_incidents,
)
from airsoc.reporting.course import (
    FLAGGED_TURN_LOOKBACK,
    flagged_turns,
    impact_start,
    routing_changes,
)

__all__ = [
    "MACHINE_ACTOR_PREFIXES",
    "FleetMetric",
    "GroupBy",
    "IncidentTimes",
    "Period",
    "fleet_metrics",
    "format_duration",
    "incident_times",
    "measured_times",
    "times_of",
]

#: Actors whose entries do not count as a person acknowledging an incident.
MACHINE_ACTOR_PREFIXES = ("system:", "playbook:")

GroupBy = Literal["failure_mode", "system"]
Period = Literal["day", "week", "month", "all"]


class IncidentTimes(BaseModel):
    """One incident's TTD/TTA/TTC/TTR in seconds (``None`` where the moment is unknown)."""

    incident_id: int
    system: str
    failure_mode: str
    severity: str
    detected_at: datetime
    acknowledged_at: datetime | None
    ttd_seconds: float | None
    tta_seconds: float | None
    ttc_seconds: float | None
    ttr_seconds: float | None


class FleetMetric(BaseModel):
    """Mean times over the incidents of one group (a failure mode or a system) in one period."""

    group_by: str
    group: str
    period: str
    incidents: int
    mttd_seconds: float | None
    mtta_seconds: float | None
    mttc_seconds: float | None
    mttr_seconds: float | None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def times_of(
    incident: IncidentView,
    timeline: Iterable[AuditEntryView],
    *,
    started_at: datetime | None = None,
) -> IncidentTimes:
    """Return the times of ``incident`` given its timeline entries and its start of impact
    (``started_at``, from :func:`airsoc.reporting.course.impact_start`; without it, the start
    recorded on the incident).
    """
    entries = list(timeline)
    # An explicit acknowledgement is the acknowledgement; before one exists, the first entry
    # by a person stands for it.
    acknowledged = next((e.at for e in entries if e.action == ACKNOWLEDGED), None) or next(
        (
            e.at
            for e in entries
            if e.action != "incident.declared" and not e.actor.startswith(MACHINE_ACTOR_PREFIXES)
        ),
        None,
    )
    return IncidentTimes(
        incident_id=incident.id,
        system=incident.system,
        failure_mode=incident.failure_mode,
        severity=incident.severity,
        detected_at=incident.detected_at,
        acknowledged_at=acknowledged,
        ttd_seconds=_seconds(started_at or incident.started_at, incident.detected_at),
        tta_seconds=_seconds(incident.detected_at, acknowledged),
        ttc_seconds=_seconds(incident.detected_at, incident.contained_at),
        ttr_seconds=_seconds(incident.detected_at, incident.recovered_at),
    )


def incident_times(session: Session, *, incident_id: int) -> IncidentTimes:
    """Return the TTD/TTA/TTC/TTR of one incident."""
    detail = get_incident(session, incident_id=incident_id)
    return times_of(detail, detail.timeline, started_at=impact_start(session, detail).at)


def _period_start(when: datetime, period: Period) -> str:
    if period == "all":
        return "all"
    if period == "day":
        return when.date().isoformat()
    if period == "week":
        return (when.date() - timedelta(days=when.weekday())).isoformat()
    return when.strftime("%Y-%m")


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return mean(known) if known else None


def measured_times(
    session: Session, incidents: Sequence[IncidentView]
) -> list[tuple[IncidentView, IncidentTimes]]:
    """Return each incident with its times, measured from its start of impact
    (:func:`airsoc.reporting.course.impact_start`). What that start comes from is read once per
    system, not once per incident: its routing changes and the turns the guard flagged before
    any of its alarms."""
    alarms: dict[str, list[datetime]] = defaultdict(list)
    for incident in incidents:
        alarms[incident.system].append(incident.detected_at)
    routing = {system: routing_changes(session, system) for system in alarms}
    flagged = {
        system: flagged_turns(session, system, start=min(at) - FLAGGED_TURN_LOOKBACK, end=max(at))
        for system, at in alarms.items()
    }
    measured = []
    for incident in incidents:
        timeline = list_entries(session, chain=incident_chain(incident.id))
        start = impact_start(
            session, incident, routing=routing[incident.system], flagged=flagged[incident.system]
        )
        measured.append((incident, times_of(incident, timeline, started_at=start.at)))
    return measured


def fleet_metrics(
    session: Session,
    *,
    group_by: GroupBy = "failure_mode",
    period: Period = "week",
    since: datetime | None = None,
    include_false_positives: bool = False,
) -> list[FleetMetric]:
    """Return MTTD/MTTA/MTTC/MTTR per group and period (period = the week's Monday, the day or
    the month of detection, or ``all`` for one period), ordered by period then group. False
    positives and merged incidents are left out unless asked for: they were never handled to
    the end.
    """
    incidents = [
        incident
        for incident in list_incidents(session, limit=100_000)
        if (since is None or incident.detected_at >= since)
        and (include_false_positives or incident.phase not in ("false_positive", "merged"))
    ]
    buckets: dict[tuple[str, str], list[IncidentTimes]] = defaultdict(list)
    for incident, times in measured_times(session, incidents):
        group = incident.failure_mode if group_by == "failure_mode" else incident.system
        buckets[(_period_start(incident.detected_at, period), group)].append(times)
    return [
        FleetMetric(
            group_by=group_by,
            group=group,
            period=when,
            incidents=len(items),
            mttd_seconds=_mean(t.ttd_seconds for t in items),
            mtta_seconds=_mean(t.tta_seconds for t in items),
            mttc_seconds=_mean(t.ttc_seconds for t in items),
            mttr_seconds=_mean(t.ttr_seconds for t in items),
        )
        for (when, group), items in sorted(buckets.items())
    ]


def format_duration(seconds: float | None) -> str:
    """Return a duration the way people say it ("2 h 14 min", "45 s", "unknown").

    >>> format_duration(8040), format_duration(45), format_duration(None), format_duration(90000)
    ('2 h 14 min', '45 s', 'unknown', '1 d 1 h')
    """
    if seconds is None:
        return "unknown"
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min" if not secs else f"{minutes} min {secs} s"
    return f"{secs} s"
