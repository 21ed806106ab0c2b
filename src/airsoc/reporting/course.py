"""The course of an incident measured from the record: when impact began and from which evidence,
when the first alarm came, when the incident was declared and contained, what it cost in served
requests, and what was decided (rollback or patch) and done to recover.

Every moment names the evidence it came from; a moment the record cannot give stays unknown, with
the reason, and never reads as zero.

- **Start of impact**, in order of preference: the routing change that made the bad version named
  on the incident serve (``routing.*`` on the system's timeline); the arrival of the first suspect
  batch (lineage); for LLM systems the first turn the gateway guard flagged (event log); the
  start of the window forensics bounded the cause to; the start a person recorded on the incident.
- **First alarm**: the incident's ``detected_at`` (the first alert of the group it came from).
- **Declared**: the incident's declaration (``reported_at``).
- **Contained**: the first routing change after the start that stopped the bad version serving
  (or, without a bad version, the first routing change after the alarm), or the incident's move
  to ``contained``, whichever came first.
- **Impact counts**: requests, predictions, clients, LLM turns, sessions and users served between
  the start of impact and containment (or now), from the event log; by the bad version only
  when one is named.
- **Decision**: the containing step that ran (``rollback`` to known-good, ``fallback``,
  ``isolate``, ...) or a patch (``retrain``); **recovery**: the retrain, shadow and canary
  steps that ran after it.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident, get_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> began = clock.now()
    >>> clock.advance(timedelta(minutes=20))
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="dana", system="fraud",
    ...         failure_mode="data_drift", summary="psi 0.4", started_at=began)
    >>> with store.read() as s:
    ...     course = incident_course(s, get_incident(s, incident_id=inc.id), now=clock.now())
    >>> course.impact_start.evidence, course.ttd_seconds
    ('the start recorded on the incident', 1200.0)
    >>> course.contained.at is None, course.contained.reason
    (True, 'not contained yet')
    >>> store.close()
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView
from airsoc.errors import AirsocError
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import IncidentDetail, IncidentView
from airsoc.lineage import get_batch, system_timeline
from airsoc.reporting.root_cause import root_cause_section
from airsoc.response import RunView, list_runs
from airsoc.response.runs import StepView
from airsoc.settings import Settings
from airsoc.telemetry import read_events

__all__ = [
    "CONTAINING_ACTIONS",
    "FLAGGED_TURN_LOOKBACK",
    "RECOVERY_ACTIONS",
    "ImpactCounts",
    "IncidentCourse",
    "Moment",
    "acted_steps",
    "flagged_turns",
    "impact_start",
    "incident_course",
    "routing_changes",
    "served_by",
]

#: Playbook actions that contain an incident (the rollback-or-patch decision's first half).
CONTAINING_ACTIONS = (
    "rollback",
    "fallback",
    "isolate",
    "block_client",
    "rate_limit_client",
    "disable_retrieval",
    "remove_document",
    "hold_promotion",
)
#: Playbook actions that recover from one: a patched model and the checks before it serves.
RECOVERY_ACTIONS = ("retrain", "set_shadow", "shadow_compare", "set_canary", "canary_analysis")
#: How far before the first alarm the event log is searched for the first flagged LLM turn.
FLAGGED_TURN_LOOKBACK = timedelta(days=7)
#: A guard decision that flags a turn names one of these values (see ``_flagged``): a cheap
#: test on the stored JSON that leaves only the few turns worth parsing.
_FLAG_VALUES = r'"(drift|block|redact|handoff)"'


class Moment(BaseModel):
    """A moment of the incident's course: when, from which evidence, or why it is unknown."""

    at: datetime | None = None
    evidence: str = ""
    reason: str = ""

    def describe(self) -> str:
        """Return the moment as a phrase ("2026-03-01 09:06 UTC (from ...)" or "unknown: ...").

        >>> from datetime import datetime, timezone
        >>> Moment(at=datetime(2026, 3, 1, 9, 6, tzinfo=timezone.utc), evidence="x").describe()
        '2026-03-01 09:06 UTC (x)'
        >>> Moment(reason="nothing named").describe()
        'unknown (nothing named)'
        """
        if self.at is None:
            return f"unknown ({self.reason})" if self.reason else "unknown"
        return f"{self.at:%Y-%m-%d %H:%M} UTC ({self.evidence})"


class ImpactCounts(BaseModel):
    """What was served between the start of impact and containment, counted in the event log;
    ``None`` where it could not be counted (``reason`` says why)."""

    version: str | None = Field(None, description="The bad version counted; None: all versions")
    start: datetime | None = None
    end: datetime | None = None
    requests: int | None = None
    predictions: int | None = None
    clients: int | None = None
    turns: int | None = None
    sessions: int | None = None
    users: int | None = None
    reason: str = ""


class IncidentCourse(BaseModel):
    """The incident's course, measured: moments, the times between them, counts and decisions."""

    bad_version: str | None
    impact_start: Moment
    first_alarm: Moment
    declared: Moment
    contained: Moment
    ttd_seconds: float | None = Field(description="start of impact to the first alarm")
    time_to_declare_seconds: float | None = Field(description="start of impact to declaration")
    ttc_seconds: float | None = Field(description="start of impact to containment")
    counts: ImpactCounts
    decision: str | None = Field(description="rollback or patch: what contained it, in words")
    decision_kind: str | None = Field(description="rollback, fallback, ..., patch, or None")
    containment_steps: list[str]
    recovery: list[str]
    recommendation: str | None


def _seconds(start: Moment, end: Moment) -> float | None:
    if start.at is None or end.at is None:
        return None
    return (end.at - start.at).total_seconds()


def _version_of(name: str) -> str:
    # Incidents name versions as "v3" or "fraud-detector:v3".
    return name.rsplit(":", 1)[-1].strip()


def served_by(entry: AuditEntryView, version: str) -> bool:
    """Return whether routing change ``entry`` left ``version`` answering requests.

    >>> from datetime import datetime, timezone
    >>> def change(**data: object) -> AuditEntryView:
    ...     return AuditEntryView(chain="system/x", seq=1, at=datetime(2026, 1, 1,
    ...         tzinfo=timezone.utc), actor="a", action="routing.promote", reason="",
    ...         data=data, prev_hash="", hash="")
    >>> served_by(change(mode="primary", primary="v3"), "v3")
    True
    >>> served_by(change(mode="fallback", primary="v3"), "v3")
    False
    >>> served_by(change(mode="canary", primary="v2", candidate="v3", share=0.1), "v3")
    True
    """
    mode = str(entry.data.get("mode") or "primary")
    if mode in ("fallback", "isolated"):
        return False
    if entry.data.get("primary") == version:
        return True
    share = entry.data.get("share") or 0.0
    return mode == "canary" and entry.data.get("candidate") == version and float(share) > 0


def routing_changes(session: Session, system: str) -> list[AuditEntryView]:
    """Return the routing changes (``routing.*``) on the timeline of ``system``, oldest first;
    none for a system the lineage does not know.

    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.read() as s:
    ...     routing_changes(s, "nobody")
    []
    >>> store.close()
    """
    try:
        entries = system_timeline(session, name=system)
    except AirsocError:
        return []
    return [e for e in entries if e.action.startswith("routing.")]


def _versions(incident: IncidentView) -> list[str]:
    return [_version_of(v) for v in incident.model_versions if v.strip()]


def _bad_version_span(
    routing: Sequence[AuditEntryView], versions: Sequence[str], alarm: datetime
) -> tuple[str, AuditEntryView, AuditEntryView | None] | None:
    """Return (version, the change that made it serve, the change that stopped it) for the
    named version whose serving spell covers (or, failing that, first follows) the alarm."""
    spells: list[tuple[str, AuditEntryView, AuditEntryView | None]] = []
    for version in versions:
        began: AuditEntryView | None = None
        for e in routing:
            serving = served_by(e, version)
            if serving and began is None:
                began = e
            elif not serving and began is not None:
                spells.append((version, began, e))
                began = None
        if began is not None:
            spells.append((version, began, None))
    if not spells:
        return None
    before = [s for s in spells if s[1].at <= alarm]
    if before:
        return max(before, key=lambda s: s[1].at)
    return min(spells, key=lambda s: s[1].at)


def _telemetry_dir(session: Session) -> Path | None:
    settings = session.info.get("airsoc_settings")
    return settings.telemetry_dir if isinstance(settings, Settings) else None


def _flagged(guard: Any) -> bool:
    try:
        decisions = json.loads(guard) if isinstance(guard, str) else guard
    except ValueError:
        return False
    if not isinstance(decisions, list):
        return False
    return any(
        isinstance(d, dict)
        and (d.get("decision") == "drift" or d.get("action") in ("block", "redact", "handoff"))
        for d in decisions
    )


def _flagged_turns(
    root: Path | None, system: str, start: datetime, end: datetime
) -> list[datetime]:
    if root is None:
        return []
    # ``end`` is exclusive in the event log: read to one microsecond after it.
    turns = read_events(
        root, "llm_turn", system=system, start=start, end=end + timedelta(microseconds=1)
    )
    if not len(turns):
        return []
    maybe = pc.fill_null(pc.match_substring_regex(turns.column("guard"), _FLAG_VALUES), False)
    turns = turns.filter(maybe)
    return sorted(
        ts
        for ts, guard in zip(
            turns.column("ts").to_pylist(), turns.column("guard").to_pylist(), strict=True
        )
        if start <= ts <= end and _flagged(guard)
    )


def flagged_turns(
    session: Session, system: str, *, start: datetime, end: datetime
) -> list[datetime]:
    """Return when the gateway guard flagged a turn of ``system`` (blocked, redacted, handed
    off or saw drift), from ``start`` to ``end`` inclusive, oldest first, from the event log;
    none when the store does not say where the event log is. Read once, it serves
    :func:`impact_start` for every incident of the system whose alarm falls in the span.

    >>> from datetime import datetime, timezone
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> with store.read() as s:
    ...     flagged_turns(s, "support-bot", start=at, end=at)
    []
    >>> store.close()
    """
    return _flagged_turns(_telemetry_dir(session), system, start, end)


def _impact_start(
    session: Session,
    detail: IncidentView,
    span: tuple[str, AuditEntryView, AuditEntryView | None] | None,
    root: Path | None,
    flagged_times: Sequence[datetime] | None = None,
) -> Moment:
    if span is not None:
        version, began, _ = span
        verb = began.action.removeprefix("routing.").replace("_", " ")
        return Moment(
            at=began.at,
            evidence=(
                f"the {verb} of {detail.system} {version} on the system's timeline, "
                f"by {began.actor}"
            ),
        )
    arrivals = []
    for batch_id in detail.data_batches:
        try:
            arrivals.append((get_batch(session, batch_id=batch_id).ingested_at, batch_id))
        except AirsocError:
            continue
    if arrivals:
        at, batch_id = min(arrivals)
        return Moment(at=at, evidence=f"the arrival of suspect batch {batch_id} (lineage)")
    alarm = detail.detected_at
    if flagged_times is None:
        flagged_times = _flagged_turns(root, detail.system, alarm - FLAGGED_TURN_LOOKBACK, alarm)
    flagged = next((t for t in flagged_times if alarm - FLAGGED_TURN_LOOKBACK <= t <= alarm), None)
    if flagged is not None:
        return Moment(at=flagged, evidence="the first turn the gateway guard flagged (event log)")
    windows = [
        w.start for w in root_cause_section(list_findings(session, incident_id=detail.id)).windows
    ]
    starts = [w for w in windows if w is not None]
    if starts:
        return Moment(at=min(starts), evidence="the start of the window forensics bounded")
    if detail.started_at is not None:
        return Moment(at=detail.started_at, evidence="the start recorded on the incident")
    return Moment(
        reason=(
            "no bad version was promoted on the record, no suspect batch, flagged turn or "
            "forensic window is named, and no start was recorded on the incident"
        )
    )


def impact_start(
    session: Session,
    incident: IncidentView,
    *,
    routing: Sequence[AuditEntryView] | None = None,
    flagged: Sequence[datetime] | None = None,
) -> Moment:
    """Return the start of impact of ``incident`` (see the module docstring) and nothing else
    of its course: no counts, runs or decisions, so it is cheap enough to ask for every incident.
    Many incidents of one system share what it reads: ``routing`` is the system's routing
    changes (:func:`routing_changes`) and ``flagged`` its flagged turns (:func:`flagged_turns`,
    oldest first, covering at least :data:`FLAGGED_TURN_LOOKBACK` before the incident's alarm),
    if the caller already read them.

    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="dana", system="fraud",
    ...         failure_mode="data_drift", summary="psi 0.4")
    >>> with store.read() as s:
    ...     impact_start(s, inc).reason[:30]
    'no bad version was promoted on'
    >>> store.close()
    """
    if routing is None:
        routing = routing_changes(session, incident.system)
    span = _bad_version_span(routing, _versions(incident), incident.detected_at)
    return _impact_start(session, incident, span, _telemetry_dir(session), flagged)


def _contained(
    detail: IncidentDetail,
    routing: Sequence[AuditEntryView],
    span: tuple[str, AuditEntryView, AuditEntryView | None] | None,
) -> Moment:
    change: AuditEntryView | None = None
    if span is not None:
        change = span[2]
    else:
        change = next((e for e in routing if e.at >= detail.detected_at), None)
    candidates = []
    if change is not None:
        verb = change.action.removeprefix("routing.").replace("_", " ")
        served = change.data.get("primary")
        to = f" to {served}" if served and change.data.get("mode") == "primary" else ""
        candidates.append(
            Moment(at=change.at, evidence=f"the {verb}{to} of {detail.system} by {change.actor}")
        )
    if detail.contained_at is not None:
        mover = next(
            (
                e.actor
                for e in detail.timeline
                if e.action == "incident.transitioned" and e.data.get("to") == "contained"
            ),
            None,
        )
        by = f" by {mover}" if mover else ""
        candidates.append(
            Moment(at=detail.contained_at, evidence=f"the incident's move to contained{by}")
        )
    if not candidates:
        return Moment(reason="not contained yet")
    # The routing change is listed first: on a tie it is the moment traffic stopped.
    return min(candidates, key=lambda m: m.at or detail.detected_at)


def _distinct(table: pa.Table, column: str) -> int:
    values = {v for v in table.column(column).to_pylist() if v not in (None, "")}
    return len(values)


def _counts(
    root: Path | None, system: str, version: str | None, start: Moment, end: datetime | None
) -> ImpactCounts:
    counts = ImpactCounts(version=version, start=start.at, end=end)
    if start.at is None:
        counts.reason = "the start of impact is unknown"
        return counts
    if root is None:
        counts.reason = "this store does not say where the event log is"
        return counts
    if not root.exists():
        counts.reason = "the event log has no data"
        return counts
    for kind in ("prediction", "llm_turn"):
        table = read_events(root, kind, system=system, start=start.at, end=end)
        ok = [
            status == "ok" and role != "shadow" and (version is None or served == version)
            for status, role, served in zip(
                table.column("status").to_pylist(),
                table.column("role").to_pylist(),
                table.column("version").to_pylist(),
                strict=True,
            )
        ]
        served_rows = table.filter(pa.array(ok, type=pa.bool_())) if len(table) else table
        if kind == "prediction":
            counts.predictions = len(served_rows)
            counts.requests = _distinct(served_rows, "request_id")
            counts.clients = _distinct(served_rows, "client_id")
        else:
            counts.turns = len(served_rows)
            counts.sessions = _distinct(served_rows, "session_id")
            users = {
                u or c
                for u, c in zip(
                    served_rows.column("user_id").to_pylist(),
                    served_rows.column("client_id").to_pylist(),
                    strict=True,
                )
            }
            counts.users = len(users)
    return counts


def acted_steps(run: RunView) -> list[StepView]:
    """Return the steps of ``run`` that acted and succeeded: each item of a ``foreach`` step,
    not the row that sums the items up.

    >>> acted_steps(RunView(id=1, playbook="p", incident_id=1, status="succeeded",
    ...     started_by="x", created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1),
    ...     claimed_by=None, error=None, outputs={}, steps=[]))
    []
    """
    itemised = {s.step_id for s in run.steps if s.item_index >= 0}
    return [
        s
        for s in run.steps
        if s.status == "succeeded" and not (s.item_index < 0 and s.step_id in itemised)
    ]


def _step_words(run: RunView, step_id: str, timeline: Iterable[AuditEntryView]) -> str:
    """Return how the step's approval went, if it had one."""
    for e in timeline:
        if e.data.get("run") != run.id or e.data.get("step") != step_id:
            continue
        if e.action == "playbook.approval_granted":
            return f", approved by {e.actor}"
        if e.action == "playbook.approval_timed_out":
            return ", after its approval timed out (the playbook proceeds on timeout)"
    return ""


def _describe_step(run: RunView, step: StepView, timeline: Sequence[AuditEntryView]) -> str:
    out = step.output or {}
    when = f"{step.finished_at:%H:%M} UTC" if step.finished_at else "at an unknown time"
    what = step.action.replace("_", " ")
    if step.action == "rollback" and out.get("to"):
        what = f"rolled {out.get('system', 'the system')} back from {out.get('from')} to " + str(
            out["to"]
        )
        if step.params.get("to", "last_known_good") == "last_known_good":
            what += " (the last known-good version)"
    elif step.action == "quarantine_batch" and out.get("batch_id"):
        what = f"quarantined batch {out['batch_id']}"
    elif step.action == "retrain" and out.get("version"):
        what = f"retrained as {out['version']}"
    return (
        f"{what}: playbook {run.playbook} run {run.id}, step {step.step_id}, at {when}"
        f"{_step_words(run, step.step_id, timeline)}"
    )


def _decisions(
    detail: IncidentDetail, runs: Sequence[RunView], routing: Sequence[AuditEntryView]
) -> tuple[str | None, str | None, list[str], list[str]]:
    decision: str | None = None
    kind: str | None = None
    containment: list[str] = []
    recovery: list[str] = []
    for run in sorted(runs, key=lambda r: r.id):
        for step in acted_steps(run):
            if step.action in CONTAINING_ACTIONS or step.action == "quarantine_batch":
                line = _describe_step(run, step, detail.timeline)
                containment.append(line)
                if decision is None and step.action in CONTAINING_ACTIONS:
                    decision, kind = line, step.action
            elif step.action in RECOVERY_ACTIONS:
                recovery.append(_describe_step(run, step, detail.timeline))
                if decision is None and step.action == "retrain":
                    decision, kind = recovery[-1], "patch"
    if decision is None:
        # A person may have rolled back by hand: the system's timeline says so.
        by_hand = next(
            (
                e
                for e in routing
                if e.at >= detail.detected_at
                and e.action in ("routing.rollback", "routing.fallback", "routing.isolate")
                and not e.actor.startswith("playbook:")
            ),
            None,
        )
        if by_hand is not None:
            kind = by_hand.action.removeprefix("routing.")
            decision = (
                f"{kind} of {detail.system} to {by_hand.data.get('primary')} by {by_hand.actor} "
                f"at {by_hand.at:%H:%M} UTC: {by_hand.reason}"
            )
    for e in routing:
        if e.at >= detail.detected_at and e.action in ("routing.shadow", "routing.canary"):
            recovery.append(
                f"{e.action.removeprefix('routing.')} of {detail.system} "
                f"{e.data.get('candidate')} by {e.actor} at {e.at:%H:%M} UTC"
            )
    return decision, kind, containment, recovery


def incident_course(session: Session, detail: IncidentDetail, *, now: datetime) -> IncidentCourse:
    """Return the course of incident ``detail`` measured from the record (see the module
    docstring); counts run to containment, or to ``now`` while it is not contained."""
    routing = routing_changes(session, detail.system)
    span = _bad_version_span(routing, _versions(detail), detail.detected_at)
    root = _telemetry_dir(session)
    start = _impact_start(session, detail, span, root)
    alarm_monitor = detail.labels.get("monitor")
    first_alarm = Moment(
        at=detail.detected_at,
        evidence=(
            f"the first alert of the monitor {alarm_monitor}"
            if alarm_monitor
            else f"the detection recorded by {detail.created_by}"
        ),
    )
    declared = Moment(at=detail.reported_at, evidence=f"the declaration by {detail.created_by}")
    contained = _contained(detail, routing, span)
    bad = span[0] if span is not None else None
    counts = _counts(root, detail.system, bad, start, contained.at or now)
    findings = list_findings(session, incident_id=detail.id)
    recommendation = root_cause_section(findings).recommendation
    decision, kind, containment, recovery = _decisions(
        detail, list_runs(session, incident_id=detail.id), routing
    )
    return IncidentCourse(
        bad_version=bad,
        impact_start=start,
        first_alarm=first_alarm,
        declared=declared,
        contained=contained,
        ttd_seconds=_seconds(start, first_alarm),
        time_to_declare_seconds=_seconds(start, declared),
        ttc_seconds=_seconds(start, contained),
        counts=counts,
        decision=decision,
        decision_kind=kind,
        containment_steps=containment,
        recovery=recovery,
        # The numbers behind it stay in the root-cause section: each is written once.
        recommendation=recommendation.label if recommendation else None,
    )
