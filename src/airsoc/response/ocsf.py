"""Return an incident's updates as OCSF Detection Findings, with the playbook's remediation.

One finding per state change on the incident's timeline: its declaration (activity Create,
status New), each phase change (Update, In Progress) and its end (Close: Resolved for
``closed``, Suppressed for ``false_positive``, Archived for ``merged``). All share
``finding_info.uid`` ``incident-<id>``, so a SIEM correlates them and TheHive keeps one alert
for the incident. Each carries:

- the incident's severity, failure mode (ATLAS techniques in ``attacks[]``, OWASP ids with
  their list versions), system and model version (``ai_model``);
- the sha256 of every evidence item held at that time;
- the alerts attached to the incident as related events;
- ``remediation``: the playbook that responds to it, its description, and for each step the
  action and how far it got (from the incident's playbook runs), or, before any run, the
  playbook that applies and the failure mode's default containment.

The record builder itself is :func:`airsoc.alerting.ocsf.incident_finding`; this module reads
the incident, its runs and its playbooks to feed it.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident, transition_incident
    >>> from airsoc.response.playbooks import parse_playbook
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> pb = parse_playbook("name: injection\\ndescription: Keep the transcripts.\\n"
    ...     "on: {failure_mode: prompt_injection}\\n"
    ...     "steps: [{id: evidence, action: capture_evidence}]")
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, title="Injected prompts", system="bot",
    ...                            failure_mode="prompt_injection", actor="airsoc",
    ...                            summary="4% of turns")
    ...     _ = transition_incident(s, clock=clock, incident_id=inc.id, to="triaged",
    ...                             actor="dana", reason="confirmed in the transcripts")
    >>> with store.read() as s:
    ...     records = incident_findings(s, incident_id=inc.id, playbooks=[pb])
    >>> [(r["activity_name"], r["status"], r["unmapped"]["phase"]) for r in records]
    [('Create', 'New', 'detected'), ('Update', 'In Progress', 'triaged')]
    >>> records[0]["remediation"]["desc"]
    'Playbook injection (no run yet): Keep the transcripts. Steps: evidence (capture_evidence).'
    >>> store.close()
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.alerting.engine import AlertingEngine
from airsoc.alerting.notification import Delivery
from airsoc.alerting.ocsf import incident_finding
from airsoc.alerting.service import record_delivery
from airsoc.clock import Clock
from airsoc.errors import InputError, UnknownFailureModeError
from airsoc.incidents.models import IncidentRow
from airsoc.incidents.service import IncidentDetail, get_incident
from airsoc.incidents.taxonomy import failure_mode
from airsoc.response.incident_alerts import incident_alerts
from airsoc.response.playbooks import Playbook
from airsoc.response.runs import RunView, list_runs
from airsoc.store import Store

__all__ = [
    "IncidentFindingsPublisher",
    "export_incident_findings",
    "incident_findings",
    "playbook_remediation",
]

_PHASE_OF_ACTION = {"incident.declared": "detected"}


def playbook_remediation(
    incident: IncidentDetail, runs: Sequence[RunView], playbooks: Sequence[Playbook]
) -> str:
    """Return the remediation text of ``incident``: its playbook and how far each step got.

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=SimulatedClock(), title="Drift", system="fraud",
    ...                            failure_mode="data_drift", actor="airsoc", summary="PSI 0.4")
    ...     detail = get_incident(s, incident_id=inc.id)
    >>> playbook_remediation(detail, [], [])
    'No playbook applies; default containment: alert, investigate; retrain.'
    >>> store.close()
    """
    by_name = {p.name: p for p in playbooks}
    parts: list[str] = []
    for run in sorted(runs, key=lambda r: r.id):
        playbook = by_name.get(run.playbook)
        head = f"Playbook {run.playbook} ({run.status})"
        if playbook is not None and playbook.description:
            head += f": {playbook.description.rstrip('.')}."
        steps = {}
        for step in run.steps:  # a foreach step has one row per item: keep the last state
            steps[step.step_id] = f"{step.step_id} ({step.action}): {step.status}"
        if steps:
            head += " Steps: " + "; ".join(steps.values()) + "."
        parts.append(head)
    if parts:
        return " ".join(parts)
    matching = [
        p
        for p in playbooks
        if p.applies_to(
            {
                "failure_mode": incident.failure_mode,
                "severity": incident.severity,
                "system": incident.system,
                "labels": incident.labels,
            }
        )
    ]
    for playbook in matching[:1]:
        text = f"Playbook {playbook.name} (no run yet)"
        if playbook.description:
            text += f": {playbook.description.rstrip('.')}."
        listed = ", ".join(f"{s.id} ({s.action})" for s in playbook.steps)
        return f"{text} Steps: {listed}."
    try:
        containment = failure_mode(incident.failure_mode).default_containment
    except UnknownFailureModeError:
        return "No playbook applies; respond by hand."
    return f"No playbook applies; default containment: {containment}."


def incident_findings(
    session: Session, *, incident_id: int, playbooks: Sequence[Playbook]
) -> list[dict[str, Any]]:
    """Return one OCSF Detection Finding per state change of the incident, oldest first.

    ``playbooks`` are the configured playbooks, read for their descriptions (and, before any
    run, for the one that applies); the steps' progress comes from the incident's stored
    playbook runs.
    """
    incident = get_incident(session, incident_id=incident_id)
    runs = list_runs(session, incident_id=incident_id)
    remediation = playbook_remediation(incident, runs, playbooks)
    fingerprints = sorted(
        {a.fingerprint for a in incident_alerts(session, incident_id=incident_id)}
    )
    records = []
    for entry in incident.timeline:
        if entry.action in _PHASE_OF_ACTION:
            phase = _PHASE_OF_ACTION[entry.action]
        elif entry.action == "incident.transitioned":
            phase = str(entry.data["to"])
        else:
            continue
        evidence = [e.sha256 for e in incident.evidence if e.added_at <= entry.at]
        records.append(
            incident_finding(
                incident_id=str(incident.id),
                phase=phase,
                severity=incident.severity,
                failure_mode=incident.failure_mode,
                title=incident.title,
                now=entry.at,
                system=incident.system,
                model_version=incident.model_versions[-1] if incident.model_versions else None,
                remediation=remediation,
                summary=f"{incident.summary} ({entry.actor}: {entry.reason})".strip()
                if entry.reason
                else incident.summary or None,
                declared_at=incident.detected_at,
                evidence=evidence,
                alert_fingerprints=fingerprints,
            )
        )
    return records


def export_incident_findings(
    session: Session,
    *,
    incident_id: int,
    playbooks: Sequence[Playbook],
    path: str | Path | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Return the incident's findings and their JSON text; write it to ``path`` when given.

    The file is a JSON array of OCSF records (``.json``), or one record per line for a
    ``.jsonl`` / ``.ndjson`` path (what SIEM file inputs read).
    """
    records = incident_findings(session, incident_id=incident_id, playbooks=playbooks)
    lines = Path(path).suffix.lower() in (".jsonl", ".ndjson") if path is not None else False
    if lines:
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    else:
        text = json.dumps(records, indent=2, sort_keys=True) + "\n"
    if path is not None:
        target = Path(path)
        if target.is_dir():
            raise InputError(f"{target} is a folder; give a file to write the records to")
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return records, text


@runtime_checkable
class FindingsSink(Protocol):
    """A receiver integration that takes OCSF findings built elsewhere (the OCSF sinks)."""

    def send_findings(self, findings: Sequence[Mapping[str, Any]], *, key: str) -> Delivery:
        """Deliver ``findings`` and return what happened."""
        ...


#: How far back each round looks for changed incidents, past the previous round's start (a
#: change committed while the previous round read is still seen).
_OVERLAP = timedelta(minutes=1)


class IncidentFindingsPublisher:
    """Sends each incident's new OCSF findings to the OCSF sinks its labels route to.

    Every :meth:`publish` looks at the incidents changed since the previous round, builds their
    findings and delivers the ones not yet delivered to every OCSF sink (Splunk HEC, TheHive,
    OCSF webhook) of the receivers the routing tree gives for the incident's ``system``,
    ``failure_mode`` and ``severity``. Deliveries are recorded like alert notifications, under
    the key ``incident-<id>``. What was delivered is remembered in memory: after a restart the
    findings of incidents changed since are sent again (at least once; each record's
    ``metadata.uid`` is stable, and TheHive updates its one alert).
    """

    def __init__(self, *, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._sent: dict[int, int] = {}
        self._since: datetime | None = None

    def publish(self, engine: AlertingEngine, playbooks: Sequence[Playbook]) -> list[Delivery]:
        """Deliver the findings of changed incidents not delivered yet; return the deliveries."""
        started = self.clock.now()
        deliveries: list[Delivery] = []
        if not any(isinstance(t, FindingsSink) for ts in engine.receivers.values() for t in ts):
            self._since = started  # no OCSF sink configured: nothing to build
            return deliveries
        with self.store.read() as s:
            query = select(IncidentRow.id).order_by(IncidentRow.id)
            if self._since is not None:
                query = query.where(IncidentRow.updated_at >= self._since - _OVERLAP)
            changed = list(s.execute(query).scalars())
            pending: list[tuple[int, list[dict[str, Any]], int, dict[str, str]]] = []
            for incident_id in changed:
                records = incident_findings(s, incident_id=incident_id, playbooks=playbooks)
                done = self._sent.get(incident_id, 0)
                if len(records) > done:
                    labels = records[-1]["unmapped"]["labels"]
                    pending.append((incident_id, records[done:], len(records), labels))
        for incident_id, new, total, labels in pending:
            targets = [
                target
                for name in engine.receivers_for(labels)
                for target in engine.receivers.get(name, ())
                if isinstance(target, FindingsSink)
            ]
            results = [t.send_findings(new, key=f"incident-{incident_id}") for t in targets]
            with self.store.transaction() as s:
                for delivery in results:
                    record_delivery(s, delivery=delivery)
            deliveries += results
            if all(d.status == "delivered" for d in results):
                self._sent[incident_id] = total
        self._since = started
        return deliveries
