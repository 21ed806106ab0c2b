"""Score a drill from the store alone: incidents and their timeline, playbook runs and their
steps, findings, monitor signals and the event log. From the scenario only the inject times and
the expectations' text are read (and which failure modes each fault's kind can cause); what
the injectors did is never consulted.

- *detect*: the first alarm signal (``decision == "drift"``) on the incident's system at or
  after the first fault (for the self-monitor's alerts, which leave no signal, the incident's
  detection time);
- *declare*: the incident's ``reported_at``;
- *contain*: the first expected containment step that succeeded, else the incident's
  ``contained_at``;
- *recover*: the expected recovery action's success, or the incident reaching the phase;
- *escalation*: the incident's escalation pages the routing tree delivered (each expected
  receiver and level, and when);
- *bad predictions served*: rows (and chat turns) the incident's system answered from its model
  between the first fault and containment (only the named client's, where forensics named one);
- *false alarms*: incidents that no fault inject explains: declared before any fault, on a
  system other than the expected incident's, or with a failure mode that is neither the
  expected one nor one the fault's kind can cause (its injector's ``causes``).

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> start = datetime(2026, 1, 1, tzinfo=UTC)
    >>> seconds_after(start, start + timedelta(minutes=3))
    180.0
    >>> seconds_after(start, None) is None
    True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from airsoc.alerting.service import DeliveryView, list_deliveries
from airsoc.clock import ensure_utc
from airsoc.drills.injectors import get_injector
from airsoc.drills.scenario import (
    ExpectedEscalation,
    ExpectedFinding,
    ExpectedIncident,
    ExpectedStep,
    Scenario,
)
from airsoc.drills.scorecard import IncidentSummary, Scorecard, StepResult
from airsoc.incidents.findings import FindingView, list_findings
from airsoc.incidents.lifecycle import parse_severity
from airsoc.incidents.service import IncidentView, list_incidents
from airsoc.monitoring.signals import list_signals
from airsoc.response.runs import RunView, StepView, list_runs
from airsoc.store import Store
from airsoc.telemetry.readers import read_events

__all__ = ["CONTAINMENT_ACTIONS", "score_drill", "seconds_after"]

#: Actions that contain an incident when a scenario names no containment of its own.
CONTAINMENT_ACTIONS = (
    "rollback",
    "fallback",
    "isolate",
    "block_client",
    "rate_limit_client",
    "disable_retrieval",
    "remove_document",
    "quarantine_batch",
    "pause_pipeline",
)
#: Signals read per system when looking for the first alarm.
_SIGNAL_LIMIT = 1_000_000


def seconds_after(origin: datetime, when: datetime | None) -> float | None:
    """Return simulated seconds from ``origin`` to ``when`` (``None`` stays ``None``)."""
    if when is None:
        return None
    return round((ensure_utc(when) - ensure_utc(origin)).total_seconds(), 3)


@dataclass
class _Record:
    incidents: list[IncidentView]
    runs: dict[int, list[RunView]]
    findings: dict[int, list[FindingView]]


def _read(store: Store, started_at: datetime) -> _Record:
    with store.read() as s:
        incidents = [
            i for i in list_incidents(s) if ensure_utc(i.reported_at) >= ensure_utc(started_at)
        ]
        incidents.sort(key=lambda i: i.reported_at)
        runs = {i.id: list_runs(s, incident_id=i.id) for i in incidents}
        findings = {i.id: list_findings(s, incident_id=i.id) for i in incidents}
    return _Record(incidents, runs, findings)


def _steps(runs: Sequence[RunView]) -> list[StepView]:
    return [step for run in reversed(runs) for step in run.steps]


def _matches(step: StepView, expected: ExpectedStep) -> bool:
    if step.action != expected.action or step.status != "succeeded":
        return False
    return all(step.params.get(k) == v for k, v in expected.params.items())


def _first(steps: Sequence[StepView], expected: ExpectedStep) -> StepView | None:
    done = [
        (ensure_utc(st.finished_at), i, st)
        for i, st in enumerate(steps)
        if _matches(st, expected) and st.finished_at is not None
    ]
    return min(done)[2] if done else None


def _finding_text(finding: FindingView) -> str:
    return " ".join((finding.title, finding.detail, json.dumps(finding.data, default=str)))


def score_drill(
    scenario: Scenario,
    *,
    store: Store,
    started_at: datetime,
    ended_at: datetime,
    telemetry_root: str | Path | None = None,
) -> Scorecard:
    """Return the scorecard of ``scenario`` run from ``started_at`` to ``ended_at`` over
    ``store``, computed from what the store and the event log hold."""
    record = _read(store, started_at)
    expect = scenario.expectations
    faults = scenario.faults
    fault_at = started_at + faults[0].at if faults else None
    origin = fault_at or started_at
    reasons: list[str] = []

    # Which inject explains each incident: the latest fault before it on the expected system.
    expected_system = expect.incident.system if expect.incident else None
    summaries: list[IncidentSummary] = []
    explained: list[IncidentView] = []
    expected_modes = {
        i.failure_mode
        for i in (*([expect.incident] if expect.incident else []), *expect.other_incidents)
    }
    for incident in record.incidents:
        cause = None
        for inject in faults:
            if (
                started_at + inject.at <= ensure_utc(incident.reported_at)
                and (expected_system is None or incident.system == expected_system)
                and incident.failure_mode in {*expected_modes, *get_injector(inject.kind).causes}
            ):
                cause = inject.id
        if cause is not None:
            explained.append(incident)
        summaries.append(
            IncidentSummary(
                id=incident.id,
                ref=incident.ref,
                system=incident.system,
                failure_mode=incident.failure_mode,
                severity=incident.severity,
                phase=incident.phase,
                declared_at_s=seconds_after(origin, incident.reported_at) or 0.0,
                explained_by=cause,
            )
        )
    false_alarms = [s for s in summaries if s.explained_by is None]
    if expect.no_incident and record.incidents:
        reasons.append(
            "no incident may be declared, but the platform declared "
            + ", ".join(f"{s.ref} ({s.failure_mode} on {s.system})" for s in summaries)
        )
    elif len(false_alarms) > expect.max_false_alarms:
        reasons.append(
            f"{len(false_alarms)} incident(s) no fault explains (at most "
            f"{expect.max_false_alarms} tolerated): "
            + ", ".join(f"{s.ref} ({s.failure_mode} on {s.system})" for s in false_alarms)
        )

    card = Scorecard(
        scenario=scenario.name,
        passed=False,
        false_alarms=len(false_alarms),
        incidents=summaries,
        simulated_s=seconds_after(started_at, ended_at) or 0.0,
    )
    if expect.incident is None:
        card.reasons = reasons
        card.passed = not reasons
        return card

    want = expect.incident
    matching = [i for i in explained if i.failure_mode == want.failure_mode]
    chosen = next(iter(matching or explained), None)
    if chosen is None:
        reasons.append(
            f"no {want.failure_mode} incident was declared"
            + (f" on {want.system}" if want.system else "")
            + " after the first fault"
        )
        card.failure_mode_correct = False
        card.root_cause_correct = False if expect.root_cause else None
        card.steps = [
            StepResult(expected=_describe(s)) for s in (*expect.containment, *expect.steps)
        ]
        card.reasons = reasons
        return card
    incident = chosen
    card.failure_mode_correct = incident.failure_mode == want.failure_mode
    if not card.failure_mode_correct:
        reasons.append(
            f"{incident.ref} was declared as {incident.failure_mode}, not {want.failure_mode}"
        )
    problem = _severity_problem(incident, want)
    if problem:
        reasons.append(problem)

    # The first alarm signal of a monitor; the self-monitor's alerts leave no signal, so for
    # them the incident's detection time (its first alert's start) stands.
    detected = _first_alarm(store, incident.system, fault_at or started_at) or incident.detected_at
    card.time_to_detect_s = seconds_after(origin, detected)
    card.time_to_declare_s = seconds_after(origin, incident.reported_at)
    if want.within is not None and (
        card.time_to_declare_s is None or card.time_to_declare_s > want.within.total_seconds()
    ):
        reasons.append(
            f"{incident.ref} was declared {card.time_to_declare_s:g}s after the fault; "
            f"expected within {want.within.total_seconds():g}s"
        )

    steps = _steps(record.runs.get(incident.id, []))
    results: list[StepResult] = []
    contained: list[datetime] = []
    for expected in (*expect.containment, *expect.steps):
        found = _first(steps, expected)
        at = seconds_after(origin, found.finished_at) if found else None
        results.append(
            StepResult(expected=_describe(expected), taken=found.action if found else None, at_s=at)
        )
        problem = _step_problem(expected, found, at, steps)
        if problem:
            reasons.append(f"{problem} on {incident.ref}")
        elif expected in expect.containment and found and found.finished_at is not None:
            contained.append(ensure_utc(found.finished_at))
    if not expect.containment:
        contained += [
            ensure_utc(st.finished_at)
            for st in steps
            if st.action in CONTAINMENT_ACTIONS and st.status == "succeeded" and st.finished_at
        ]
    if incident.contained_at is not None:
        contained.append(ensure_utc(incident.contained_at))
    contained_at = min(contained) if contained else None
    card.time_to_contain_s = seconds_after(origin, contained_at)

    if expect.recovery is not None:
        rec = expect.recovery
        recovered: datetime | None = None
        if rec.action is not None:
            found = _first(steps, ExpectedStep(action=rec.action))
            recovered = found.finished_at if found else None
            results.append(
                StepResult(
                    expected=f"recovery: {rec.action}",
                    taken=found.action if found else None,
                    at_s=seconds_after(origin, recovered),
                )
            )
        if rec.phase is not None:
            at_phase = _phase_reached(incident, rec.phase)
            results.append(
                StepResult(
                    expected=f"incident reaches {rec.phase}",
                    taken=rec.phase if at_phase else None,
                    at_s=seconds_after(origin, at_phase),
                )
            )
            recovered = (
                max(filter(None, (recovered, at_phase)), default=None)
                if (rec.action is None or recovered is not None)
                else None
            )
        card.time_to_recover_s = seconds_after(origin, recovered)
        if recovered is None:
            reasons.append(f"recovery ({rec.action or rec.phase}) did not complete")
        elif rec.within is not None and (card.time_to_recover_s or 0) > rec.within.total_seconds():
            reasons.append(
                f"recovery took {card.time_to_recover_s:g}s; "
                f"expected within {rec.within.total_seconds():g}s"
            )

    findings = record.findings.get(incident.id, [])
    if expect.root_cause is not None:
        rc = expect.root_cause
        named = [
            f
            for f in findings
            if rc.subject.lower() in _finding_text(f).lower()
            and (rc.kind is None or f.kind.value == rc.kind)
        ]
        card.root_cause_correct = bool(named)
        results.append(
            StepResult(
                expected=f"root cause names {rc.subject}",
                taken=named[0].title if named else None,
                at_s=seconds_after(origin, named[0].created_at) if named else None,
            )
        )
        if not named:
            titles = "; ".join(f.title for f in findings[:5]) or "no findings"
            reasons.append(f"forensics did not name {rc.subject} ({titles})")
    for escalation in expect.escalation:
        page = _escalation_page(store, incident, escalation)
        at = seconds_after(origin, page.at) if page else None
        results.append(
            StepResult(
                expected=_describe_escalation(escalation),
                taken=f"escalate to {page.receiver}" if page else None,
                at_s=at,
            )
        )
        problem = _escalation_problem(escalation, page, at)
        if problem:
            reasons.append(f"{problem} on {incident.ref}")
    for expected_finding in expect.findings:
        results.append(_covered(expected_finding, findings, origin, reasons))
    for other in expect.other_incidents:
        results.append(_other_incident(other, explained, origin, reasons))
    card.steps = results
    if fault_at is not None:
        client = _named_client(findings, expect.root_cause.subject if expect.root_cause else None)
        card.bad_predictions_served = _served(
            telemetry_root or store.settings.telemetry_dir,
            incident.system,
            fault_at,
            contained_at or ended_at,
            client,
        )
    card.reasons = reasons
    card.passed = not reasons
    return card


def _severity_problem(incident: IncidentView, want: ExpectedIncident) -> str | None:
    """Why ``incident``'s severity does not meet ``want`` (at least, or exactly), or None."""
    if want.severity is None:
        return None
    got, needed = parse_severity(incident.severity), parse_severity(want.severity)
    if got.rank > needed.rank or (want.exactly and got.rank != needed.rank):
        exactly = "exactly " if want.exactly else ""
        return f"{incident.ref} is {incident.severity}; expected {exactly}{want.severity}"
    return None


def _other_incident(
    want: ExpectedIncident,
    explained: Sequence[IncidentView],
    origin: datetime,
    reasons: list[str],
) -> StepResult:
    """Score one of ``other_incidents``: an explained incident of that failure mode (and
    system), at the expected severity, declared in time."""
    label = f"{want.failure_mode} incident" + (
        f" at {'exactly ' if want.exactly else ''}{want.severity}" if want.severity else ""
    )
    found = [
        i
        for i in explained
        if i.failure_mode == want.failure_mode and (want.system is None or i.system == want.system)
    ]
    if not found:
        reasons.append(
            f"no {want.failure_mode} incident was declared"
            + (f" on {want.system}" if want.system else "")
            + " after the first fault"
        )
        return StepResult(expected=label)
    incident = found[0]
    at = seconds_after(origin, incident.reported_at)
    problem = _severity_problem(incident, want)
    if problem:
        reasons.append(problem)
    if want.within is not None and (at is None or at > want.within.total_seconds()):
        reasons.append(
            f"{incident.ref} was declared {at:g}s after the fault; "
            f"expected within {want.within.total_seconds():g}s"
        )
    return StepResult(expected=label, taken=f"{incident.ref} ({incident.severity})", at_s=at)


def _covered(
    expected: ExpectedFinding,
    findings: Sequence[FindingView],
    origin: datetime,
    reasons: list[str],
) -> StepResult:
    """Return how forensics covered ``expected`` (a finding mentioning its text); say why not
    in ``reasons``.

    >>> from datetime import UTC, datetime
    >>> reasons = []
    >>> _covered(ExpectedFinding(mentions="guard"), [], datetime(2026, 1, 1, tzinfo=UTC),
    ...          reasons).taken, reasons
    (None, ['forensics recorded no finding mentioning guard'])
    """
    word = expected.mentions.lower()
    hits = [
        f
        for f in findings
        if word in f"{_finding_text(f)} {f.recommendation}".lower()
        and (expected.kind is None or f.kind.value == expected.kind)
    ]
    if not hits:
        reasons.append(
            f"forensics recorded no {expected.kind or 'finding'} mentioning {expected.mentions}"
            if expected.kind
            else f"forensics recorded no finding mentioning {expected.mentions}"
        )
    return StepResult(
        expected=f"forensics covers {expected.mentions}",
        taken=hits[0].title if hits else None,
        at_s=seconds_after(origin, hits[0].created_at) if hits else None,
    )


def _step_problem(
    expected: ExpectedStep, found: StepView | None, at: float | None, steps: Sequence[StepView]
) -> str | None:
    """Return what is wrong with how the expected step went, or None."""
    if expected.forbidden:
        return f"{expected.action} must not run, but ran at {at:g}s" if found else None
    if found is None:
        ran = [st for st in steps if st.action == expected.action]
        failed = [st for st in ran if st.status != "succeeded"]
        if failed and failed[-1].status == "skipped":
            return f"{expected.action} was skipped (its playbook condition did not hold)"
        if failed:
            return (
                f"{expected.action} did not succeed (it ended {failed[-1].status}: "
                f"{failed[-1].error or 'no error recorded'})"
            )
        if ran:
            return (
                f"{expected.action} ran with {json.dumps(ran[-1].params, sort_keys=True)}, "
                f"not {json.dumps(expected.params, sort_keys=True)}"
            )
        return f"{expected.action} did not run (no playbook step ran it)"
    if expected.within is not None and at is not None and at > expected.within.total_seconds():
        return (
            f"{expected.action} took {at:g}s; expected within {expected.within.total_seconds():g}s"
        )
    if expected.before is not None:
        later = _first(steps, ExpectedStep(action=expected.before))
        if (
            later is not None
            and found.finished_at is not None
            and later.finished_at is not None
            and ensure_utc(later.finished_at) < ensure_utc(found.finished_at)
        ):
            return f"{expected.action} ran after {expected.before}; expected before"
    return None


def _escalation_page(
    store: Store, incident: IncidentView, expected: ExpectedEscalation
) -> DeliveryView | None:
    """Return the first delivered escalation page of ``incident`` that ``expected`` names."""
    prefix = f"escalation/{incident.id}/"
    with store.read() as s:
        pages = [
            d
            for d in list_deliveries(s, receiver=expected.receiver, limit=_SIGNAL_LIMIT)
            if d.group_key.startswith(prefix) and d.status == "delivered"
        ]
    if expected.level is not None:
        pages = [d for d in pages if d.group_key == f"{prefix}{expected.level - 1}"]
    return min(pages, key=lambda d: (ensure_utc(d.at), d.id), default=None)


def _escalation_problem(
    expected: ExpectedEscalation, page: DeliveryView | None, at: float | None
) -> str | None:
    level = f" (level {expected.level})" if expected.level else ""
    if expected.forbidden:
        return (
            f"the incident escalated to {expected.receiver}{level} at {at:g}s; expected no page"
            if page is not None and at is not None
            else None
        )
    if page is None:
        return f"no escalation page reached {expected.receiver}{level}"
    if expected.within is not None and at is not None and at > expected.within.total_seconds():
        return (
            f"the escalation to {expected.receiver}{level} came at {at:g}s; expected within "
            f"{expected.within.total_seconds():g}s"
        )
    return None


def _describe_escalation(expected: ExpectedEscalation) -> str:
    level = f" (level {expected.level})" if expected.level else ""
    return ("no " if expected.forbidden else "") + f"escalate to {expected.receiver}{level}"


def _describe(expected: ExpectedStep) -> str:
    text = ("no " if expected.forbidden else "") + expected.action
    if expected.params:
        text += " " + json.dumps(expected.params, sort_keys=True)
    return text


def _phase_reached(incident: IncidentView, phase: str) -> datetime | None:
    stamps = {
        "contained": incident.contained_at,
        "recovered": incident.recovered_at,
        "resolved": incident.resolved_at,
        "closed": incident.closed_at,
    }
    return stamps.get(phase)


def _first_alarm(store: Store, system: str, since: datetime) -> datetime | None:
    with store.read() as s:
        signals = list_signals(s, system=system, limit=_SIGNAL_LIMIT)
    alarms = [
        ensure_utc(sig.at)
        for sig in signals
        if sig.decision == "drift" and ensure_utc(sig.at) >= ensure_utc(since)
    ]
    return min(alarms, default=None)


def _named_client(findings: Sequence[FindingView], subject: str | None) -> str | None:
    for finding in findings:
        client = finding.data.get("client") if isinstance(finding.data, dict) else None
        if client and (subject is None or subject in str(client)):
            return str(client)
    return None


def _served(
    root: str | Path, system: str, start: datetime, end: datetime, client: str | None
) -> int:
    """Return the rows (and chat turns) ``system`` answered from its model in the span: not
    shadow answers, not errors, not turns a fallback or a person answered."""
    if end <= start:
        return 0
    total = 0
    for kind in ("prediction", "llm_turn"):
        frame: Any = read_events(root, kind, system=system, start=start, end=end).to_pandas()
        if frame.empty:
            continue
        keep = frame["role"].isin(["primary", "canary"]) & (frame["status"] == "ok")
        if kind == "llm_turn":
            keep &= ~frame["mode"].isin(["fallback", "isolated"])
        if client is not None:
            keep &= frame["client_id"] == client
        total += int(keep.sum())
    return total
