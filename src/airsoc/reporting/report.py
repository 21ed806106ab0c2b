"""The blameless post-mortem of an incident, assembled from its record, timeline, findings and the
words people wrote, ready to render as Markdown, HTML or PDF.

It speaks of what happened and of roles and systems, not of who is to blame. Where people have not
written a section yet, it drafts one from the record so that reviewers start from facts.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="system:monitor/psi", system="fraud",
    ...                            failure_mode="data_drift", summary="PSI rose to 0.4")
    >>> with store.read() as s:
    ...     report = build_report(s, incident_id=inc.id)
    >>> report.title
    'Post-mortem: data drift on fraud (INC-1)'
    >>> report.detection.splitlines()[0]
    'The monitor psi detected it automatically on 2026-01-01 at 00:00 UTC.'
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView
from airsoc.incidents.findings import FindingKind, FindingView, list_findings
from airsoc.incidents.lifecycle import Phase
from airsoc.incidents.service import IncidentDetail, get_incident
from airsoc.incidents.taxonomy import failure_mode as lookup_failure_mode
from airsoc.reporting.charts import PhaseSpan, Series, bar_chart, chart_from_data, phase_chart
from airsoc.reporting.course import IncidentCourse, incident_course
from airsoc.reporting.postmortems import (
    ActionItemView,
    Narrative,
    PostmortemView,
    due_date_for,
    postmortem_for_incident,
)
from airsoc.reporting.root_cause import RootCauseSection, root_cause_section
from airsoc.reporting.timing import IncidentTimes, format_duration, times_of
from airsoc.reporting.words import markdown_summary, without_json

__all__ = [
    "Chart",
    "PostmortemReport",
    "TimelineLine",
    "build_report",
    "describe_actor",
    "describe_entry",
]


class TimelineLine(BaseModel):
    """One line of the report's timeline: when, who (as a role or component) and what."""

    at: datetime
    actor: str
    text: str


class Chart(BaseModel):
    """A chart of the report: its title, the SVG, and a one-line caption."""

    title: str
    svg: str
    caption: str


class PostmortemReport(BaseModel):
    """Every section of a post-mortem, as text and data the renderers lay out."""

    title: str
    incident_ref: str
    incident_id: int
    postmortem_id: int | None
    status: str
    severity: str
    system: str
    failure_mode: str
    generated_at: datetime
    overview: list[str]
    impact: list[tuple[str, str]]
    timeline: list[TimelineLine]
    #: Computed from the findings forensics recorded; the lists below hold the others.
    root_cause: RootCauseSection
    root_causes: list[FindingView]
    contributing_factors: list[FindingView]
    observations: list[FindingView]
    handler_notes: list[TimelineLine]
    detection: str
    response: list[str]
    #: The rollback-or-patch decision, the containing steps and the recovery, measured.
    course: IncidentCourse
    approvals: list[TimelineLine]
    went_well: list[str]
    went_badly: list[str]
    action_items: list[ActionItemView]
    suggested_due: datetime
    internal_message: str
    external_message: str
    atlas: list[dict[str, Any]]
    owasp: list[dict[str, Any]]
    times: IncidentTimes
    metrics: list[tuple[str, str, str]]
    charts: list[Chart]


def describe_actor(actor: str) -> str:
    """Return how the report names an actor: components by what they are, people by name.

    >>> describe_actor("system:monitor/fraud-input-drift"), describe_actor("playbook:12")
    ('the monitor fraud-input-drift', 'playbook run 12')
    """
    if actor.startswith("system:"):
        kind, _, name = actor.removeprefix("system:").partition("/")
        return f"the {kind} {name}" if name else f"the {kind}"
    if actor.startswith("playbook:"):
        return f"playbook run {actor.removeprefix('playbook:')}"
    return actor


def _role_words(role: str) -> str:
    return role.replace("_", " ")


def describe_entry(entry: AuditEntryView) -> str:
    """Return a timeline entry as a sentence.

    >>> from datetime import datetime, timezone
    >>> e = AuditEntryView(chain="incident/1", seq=2, at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...     actor="dana", action="incident.transitioned", reason="rolled back to v6",
    ...     data={"from": "triaged", "to": "contained"}, prev_hash="", hash="")
    >>> describe_entry(e)
    'Moved from triaged to contained: rolled back to v6.'
    """
    data, reason = entry.data, entry.reason.strip().rstrip(".")
    action = entry.action
    if action == "incident.declared":
        return (
            f"Incident declared ({data.get('severity', '?')}, "
            f"{str(data.get('failure_mode', '')).replace('_', ' ')}): {reason}."
        )
    if action == "incident.transitioned":
        because = f": {reason}" if reason else ""
        return f"Moved from {data.get('from')} to {data.get('to')}{because}."
    if action == "incident.role_assigned":
        return f"{data.get('person')} took the {_role_words(str(data.get('role')))} role."
    if action == "incident.role_handed_off":
        before = ", ".join(data.get("handed_off_from", []))
        return (
            f"{before} handed the {_role_words(str(data.get('role')))} role "
            f"to {data.get('person')}."
        )
    if action == "incident.note":
        # A note may carry a whole Markdown message (a saved status update): one plain line.
        said = markdown_summary(reason).rstrip(".")
        return f"Note: {said}{'' if said.endswith('…') else '.'}"
    if action == "incident.evidence_added":
        digest = str(data.get("sha256", ""))[:12]
        return f"Evidence {data.get('name')} captured from {data.get('source')} (sha256 {digest}…)."
    if action == "incident.updated":
        fields = ", ".join(sorted(data.get("changes", {})))
        because = f" ({reason})" if reason else ""
        return f"Record updated: {fields}{because}."
    if action == "incident.finding_added":
        return f"Finding recorded ({str(data.get('kind', '')).replace('_', ' ')}): {reason}."
    if action == "incident.flagged_serious":
        return (
            f"Flagged as a serious incident ({str(data.get('category', '')).replace('_', ' ')}; "
            f"report due {str(data.get('due_at', '?'))[:16].replace('T', ' ')} UTC): {reason}."
        )
    if action == "regulatory.report_submitted":
        late = " (late)" if data.get("late") else ""
        return f"The {data.get('report')} serious-incident report was sent{late}: {reason}."
    if action == "regulatory.reminder_sent":
        return f"Reminder sent: {reason}."
    if action == "incident.absorbed":
        return f"Incident {data.get('incident')} was merged into this one: {reason}."
    words = action.replace(".", " ").replace("_", " ")
    return f"{words.capitalize()}{': ' + reason if reason else ''}."


def _phase_spans(detail: IncidentDetail, end: datetime) -> list[PhaseSpan]:
    moves = [(detail.detected_at, Phase.DETECTED.value)]
    for e in detail.timeline:
        if e.action == "incident.transitioned":
            moves.append((e.at, str(e.data.get("to"))))
    spans = []
    for (start, phase), (stop, _next) in zip(moves, [*moves[1:], (end, "")], strict=True):
        if phase in ("recovered", "closed", "false_positive", "merged"):
            break  # the incident's course ends where service is back
        spans.append(PhaseSpan(phase=phase, start=start, end=max(stop, start)))
    return spans


def _overview(
    detail: IncidentDetail, course: IncidentCourse, times: IncidentTimes, narrative: Narrative
) -> list[str]:
    mode = lookup_failure_mode(detail.failure_mode)
    first = (
        f"On {detail.detected_at:%Y-%m-%d} at {detail.detected_at:%H:%M} UTC, "
        f"{describe_actor(detail.created_by)} reported {mode.name.replace('_', ' ')} on "
        f"{detail.system}. It was declared as {detail.ref} at "
        f"{detail.severity.upper()}."
    )
    paragraphs = [first]
    what = narrative.what_happened.strip()
    if what and what != detail.summary.strip():
        paragraphs.append(what)
    else:
        paragraphs.append(detail.summary.strip())
    course_words = []
    if course.ttc_seconds is not None and course.impact_start.at is not None:
        course_words.append(
            f"contained {format_duration(course.ttc_seconds)} after its impact began"
        )
    elif times.ttc_seconds is not None:
        course_words.append(f"contained {format_duration(times.ttc_seconds)} after detection")
    if times.ttr_seconds is not None:
        course_words.append(
            f"normal service was back {format_duration(times.ttr_seconds)} after detection"
        )
    if course_words:
        paragraphs.append(f"The incident was {' and '.join(course_words)}.")
    paragraphs.append(f"At the time of writing the incident is {_PHASE_WORDS[detail.phase]}.")
    return paragraphs


_PHASE_WORDS = {
    "detected": "detected but not yet triaged",
    "triaged": "triaged and not yet contained",
    "contained": "contained, with the cause still in place",
    "eradicated": "eradicated, with service not yet verified as recovered",
    "recovered": "recovered",
    "closed": "closed",
    "false_positive": "closed as a false positive",
    "merged": "merged into another incident",
}


def _count(stated: int | None, measured: int | None, reason: str) -> str:
    if stated is not None:
        if measured is not None and measured != stated:
            return f"{stated:,} (as stated; the event log counts {measured:,})"
        return f"{stated:,}"
    if measured is None:
        return f"unknown ({reason})" if reason else "unknown"
    return f"{measured:,}"


def _impact(
    detail: IncidentDetail, course: IncidentCourse, narrative: Narrative
) -> list[tuple[str, str]]:
    counts = course.counts
    served = f"served by {counts.version}" if counts.version else f"served by {detail.system}"
    rows = [("Start of impact", course.impact_start.describe())]
    if course.contained.at is not None:
        rows.append(("Contained", course.contained.describe()))
    if course.impact_start.at is None:
        duration = f"unknown ({course.impact_start.reason})"
    elif course.contained.at is None:
        so_far = ((counts.end or detail.updated_at) - course.impact_start.at).total_seconds()
        duration = f"{format_duration(so_far)} so far (still ongoing: not contained yet)"
    else:
        duration = format_duration(course.ttc_seconds)
    rows.append(("Duration of impact", duration))
    reason = counts.reason
    chat = bool(counts.turns) and not counts.predictions
    if not chat:
        # A chat system's traffic is turns; prediction rows would only say "0".
        rows += [
            (f"Requests {served}", _count(narrative.requests_affected, counts.requests, reason)),
            (
                f"Predictions {served}",
                _count(narrative.bad_predictions_served, counts.predictions, reason),
            ),
            ("Clients affected", _count(None, counts.clients, reason)),
        ]
    if counts.turns:
        rows.append((f"LLM turns {served}", f"{counts.turns:,}"))
    no_turns = reason or "the event log has no chat turns to count them in"
    rows += [
        (
            "Users affected",
            _count(narrative.users_affected, counts.users if counts.turns else None, no_turns),
        ),
        (
            "Sessions affected",
            _count(
                narrative.sessions_affected, counts.sessions if counts.turns else None, no_turns
            ),
        ),
        ("Model versions", ", ".join(detail.model_versions) or "none recorded"),
        ("Data batches", ", ".join(detail.data_batches) or "none recorded"),
    ]
    for key, label in (
        ("functional", "Functional impact"),
        ("information", "Information impact"),
        ("recoverability", "Recoverability"),
    ):
        if detail.impact.get(key):
            rows.append((label, str(detail.impact[key]).replace("_", " ")))
    if detail.impact.get("notes"):
        rows.append(("Impact notes", str(detail.impact["notes"])))
    return rows


def _detection(detail: IncidentDetail, course: IncidentCourse) -> str:
    automatic = detail.created_by.startswith("system:")
    how = "automatically" if automatic else "by hand"
    lines = [
        f"{describe_actor(detail.created_by).capitalize()} detected it {how} on "
        f"{detail.detected_at:%Y-%m-%d} at {detail.detected_at:%H:%M} UTC."
    ]
    start = course.impact_start
    if start.at is not None and course.ttd_seconds is not None:
        if course.ttd_seconds >= 0:
            lines.append(
                f"The impact began at {start.at:%H:%M} UTC, from {start.evidence}, so it went "
                f"unnoticed for {format_duration(course.ttd_seconds)} (time to detect)."
            )
        else:
            lines.append(
                f"The impact began at {start.at:%H:%M} UTC, from {start.evidence}: the first "
                f"alarm came {format_duration(-course.ttd_seconds)} before it."
            )
        if course.time_to_declare_seconds is not None:
            lines.append(
                f"It was declared {format_duration(max(course.time_to_declare_seconds, 0))} "
                "after the impact began."
            )
    else:
        lines.append(
            f"When the impact began is unknown ({start.reason}), so time to detect is unknown."
        )
    if detail.indicators:
        lines.append("Indicators: " + "; ".join(detail.indicators) + ".")
    mode = lookup_failure_mode(detail.failure_mode)
    lines.append(f"{mode.name.replace('_', ' ').capitalize()} typically shows in {mode.signal}.")
    return "\n".join(lines)


def _signed(seconds: float | None) -> str:
    """Return a time to detect; negative when the alarm came before the impact began."""
    if seconds is not None and seconds < 0:
        return f"alarm {format_duration(-seconds)} before impact"
    return format_duration(seconds)


def _line(entry: AuditEntryView) -> TimelineLine:
    # A playbook step's summary carries its output as JSON: the report says it in words.
    text = without_json(describe_entry(entry))
    return TimelineLine(at=entry.at, actor=describe_actor(entry.actor), text=text)


def _timeline_line(
    entry: AuditEntryView, findings: list[FindingView], covered: set[int]
) -> TimelineLine:
    finding_id = entry.data.get("finding_id") if entry.action == "incident.finding_added" else None
    if finding_id not in covered:
        return _line(entry)
    f = next(f for f in findings if f.id == finding_id)
    subject = f.data["subject"]
    text = (
        f"Finding recorded ({f.kind.value.replace('_', ' ')}) by {f.data['method']}: "
        f"{subject.get('type', 'subject')} {subject['name']}; see the root cause."
    )
    return TimelineLine(at=entry.at, actor=describe_actor(entry.actor), text=text)


def _response(detail: IncidentDetail, course: IncidentCourse, times: IncidentTimes) -> list[str]:
    runs = sorted(
        {describe_actor(e.actor) for e in detail.timeline if e.actor.startswith("playbook:")}
    )
    summary = []
    if runs:
        names = " and ".join(runs)
        summary.append(f"{names[0].upper()}{names[1:]} acted on the incident.")
    else:
        summary.append("No playbook acted on this incident; responders worked it by hand.")
    commanders = [r.person for r in detail.role_history if r.role == "incident_commander"]
    if len(commanders) == 1:
        summary.append(f"{commanders[0]} led the response as incident commander.")
    elif commanders:
        summary.append(f"Incident command passed from {' to '.join(commanders)}.")
    contained = (
        f"contained {format_duration(course.ttc_seconds)} after the impact began "
        f"({course.contained.evidence})"
        if course.ttc_seconds is not None
        else f"contained after {format_duration(times.ttc_seconds)}"
        if times.ttc_seconds is not None
        else "not contained yet"
    )
    acknowledged = (
        f"acknowledged after {format_duration(times.tta_seconds)}"
        if times.tta_seconds is not None
        else "not acknowledged by a person"
    )
    summary.append(f"The incident was {acknowledged} and {contained}.")
    return summary


def _drafted_lessons(
    detail: IncidentDetail,
    course: IncidentCourse,
    times: IncidentTimes,
    findings: list[FindingView],
) -> tuple[list[str], list[str]]:
    good, bad = [], []
    if detail.created_by.startswith("system:"):
        good.append("Monitoring caught the problem; no customer had to report it.")
    if times.tta_seconds is not None and times.tta_seconds <= 15 * 60:
        good.append(f"A responder picked it up within {format_duration(times.tta_seconds)}.")
    elif times.tta_seconds is not None:
        bad.append(f"It waited {format_duration(times.tta_seconds)} for a responder.")
    ttc = course.ttc_seconds if course.ttc_seconds is not None else times.ttc_seconds
    if ttc is not None and ttc <= 3600:
        good.append(f"Containment took {format_duration(ttc)}.")
    elif ttc is not None:
        bad.append(f"Containment took {format_duration(ttc)}.")
    if detail.evidence:
        count = len(detail.evidence)
        pieces = "One piece of evidence was" if count == 1 else f"{count} pieces of evidence were"
        good.append(f"{pieces} captured with sha256 hashes and a chain of custody.")
    else:
        bad.append("No evidence was attached to the incident.")
    if course.ttd_seconds is not None and course.ttd_seconds > 3600:
        bad.append(f"The problem went unnoticed for {format_duration(course.ttd_seconds)}.")
    if not any(f.kind == FindingKind.ROOT_CAUSE for f in findings):
        bad.append("No root cause has been recorded yet.")
    handoffs = [e for e in detail.timeline if e.action == "incident.role_handed_off"]
    if handoffs:
        times_word = "once" if len(handoffs) == 1 else f"{len(handoffs)} times"
        good.append(f"Incident command changed hands {times_word}, with the hand-off on record.")
    return good, bad


def _messages(
    detail: IncidentDetail, times: IncidentTimes, narrative: Narrative
) -> tuple[str, str]:
    internal = narrative.internal_message.strip()
    external = narrative.external_message.strip()
    if not internal:
        commander = next(
            (r.person for r in detail.roles if r.role == "incident_commander"), "unassigned"
        )
        contained = (
            f"Contained after {format_duration(times.ttc_seconds)}."
            if times.ttc_seconds is not None
            else "Not contained yet."
        )
        internal = (
            f"{detail.ref} ({detail.severity.upper()}) on {detail.system}: {detail.summary} "
            f"Status: {detail.phase.replace('_', ' ')}. Incident commander: {commander}. "
            f"{contained}"
        )
    if not external:
        service = detail.system.replace("-", " ")
        if detail.recovered_at is not None:
            external = (
                f"Between {detail.detected_at:%Y-%m-%d %H:%M} UTC and "
                f"{detail.recovered_at:%Y-%m-%d %H:%M} UTC, some results from our {service} "
                "service may have been less accurate than usual. We found the cause, took the "
                "affected component out of service and restored normal operation. We are sorry "
                "for the disruption."
            )
        elif detail.contained_at is not None:
            external = (
                f"Since {detail.detected_at:%Y-%m-%d %H:%M} UTC some results from our {service} "
                "service may have been less accurate than usual. We have contained the problem "
                "and are working to restore normal operation; we will post an update when we have."
            )
        else:
            external = (
                f"Since {detail.detected_at:%Y-%m-%d %H:%M} UTC we have been investigating "
                f"unusual results from our {service} service. We will share an update as soon "
                "as we know more."
            )
    return internal, external


def build_report(
    session: Session, *, incident_id: int, now: datetime | None = None
) -> PostmortemReport:
    """Return the post-mortem report of an incident (using its post-mortem if it has one)."""
    detail = get_incident(session, incident_id=incident_id)
    postmortem: PostmortemView | None = postmortem_for_incident(session, incident_id=incident_id)
    narrative = postmortem.narrative if postmortem else Narrative()
    findings = list_findings(session, incident_id=incident_id)
    times = times_of(detail, detail.timeline)
    end = now or detail.closed_at or detail.updated_at
    root_cause = root_cause_section(findings)
    covered = set(root_cause.covered)
    # The root-cause section says what forensics found; the timeline only says when.
    timeline = [_timeline_line(e, findings, covered) for e in detail.timeline]
    people = [f for f in findings if f.id not in covered]
    # Status updates and notice drafts that response saves as notes are messaging, not findings.
    notes = [
        TimelineLine(at=e.at, actor=describe_actor(e.actor), text=e.reason)
        for e in detail.notes
        if not e.actor.startswith("system:")
    ]
    approvals = [_line(e) for e in detail.timeline if "approv" in e.action or "reject" in e.action]
    course = incident_course(session, detail, now=end)
    good, bad = _drafted_lessons(detail, course, times, findings)
    response = _response(detail, course, times)
    internal, external = _messages(detail, times, narrative)
    # Times from the start of impact come from the evidence the course names; without a start
    # they are unknown (with the reason in the Detection section), never zero.
    ttd = course.ttd_seconds if course.impact_start.at is not None else None
    ttc = course.ttc_seconds if course.impact_start.at is not None else times.ttc_seconds
    ttc_what = (
        "start of impact to containment"
        if course.impact_start.at is not None
        else "detection to containment (the start of impact is unknown)"
    )
    metric_rows = [
        ("Time to detect (TTD)", _signed(ttd), "start of impact to the first alarm"),
        (
            "Time to declare",
            format_duration(course.time_to_declare_seconds),
            "start of impact to declaration",
        ),
        (
            "Time to acknowledge (TTA)",
            format_duration(times.tta_seconds),
            "detection to first human action",
        ),
        ("Time to contain (TTC)", format_duration(ttc), ttc_what),
        ("Time to recover (TTR)", format_duration(times.ttr_seconds), "detection to recovery"),
    ]
    charts = []
    spans = _phase_spans(detail, end)
    if spans:
        charts.append(
            Chart(
                title="Time in each phase",
                svg=phase_chart(spans, title="Time in each phase"),
                caption="How long the incident spent in each phase of its lifecycle.",
            )
        )
    known = [
        (
            label.split(" (")[1].rstrip(")") if " (" in label else label.removeprefix("Time to "),
            value / 60,
        )
        for (label, _text, _what), value in zip(
            metric_rows,
            [
                ttd if ttd is None or ttd >= 0 else 0.0,
                course.time_to_declare_seconds,
                times.tta_seconds,
                ttc,
                times.ttr_seconds,
            ],
            strict=True,
        )
        if value is not None
    ]
    if known:
        charts.append(
            Chart(
                title="Response times",
                svg=bar_chart(
                    [k for k, _ in known],
                    [Series("minutes", [v for _, v in known])],
                    title="Response times (minutes)",
                    y_label="minutes",
                ),
                caption="Time to detect, declare, acknowledge, contain and recover, in minutes.",
            )
        )
    for f in findings:
        if f.chart is not None:
            charts.append(
                Chart(title=f.title, svg=chart_from_data(f.chart, title=f.title), caption=f.detail)
            )
    return PostmortemReport(
        title=f"Post-mortem: {detail.title} ({detail.ref})",
        incident_ref=detail.ref,
        incident_id=detail.id,
        postmortem_id=postmortem.id if postmortem else None,
        status=postmortem.status_label if postmortem else "Not started",
        severity=detail.severity,
        system=detail.system,
        failure_mode=detail.failure_mode,
        generated_at=end,
        overview=_overview(detail, course, times, narrative),
        impact=_impact(detail, course, narrative),
        timeline=timeline,
        root_cause=root_cause,
        root_causes=[f for f in people if f.kind == FindingKind.ROOT_CAUSE],
        contributing_factors=[f for f in people if f.kind == FindingKind.CONTRIBUTING_FACTOR],
        observations=[f for f in people if f.kind == FindingKind.OBSERVATION],
        handler_notes=notes,
        detection=_detection(detail, course),
        response=response,
        course=course,
        approvals=approvals,
        went_well=narrative.went_well or good,
        went_badly=narrative.went_badly or bad,
        action_items=postmortem.action_items if postmortem else [],
        suggested_due=due_date_for(detail.severity, start=end),
        internal_message=internal,
        external_message=external,
        atlas=detail.atlas_techniques,
        owasp=detail.owasp,
        times=times,
        metrics=metric_rows,
        charts=charts,
    )
