"""Incidents from alerts: declaration rules, attaching later alerts, and starting playbooks.

When an alert group is flushed, :class:`IncidentDeclarer` looks for the open incident of that group
(its key is the group's labels): later alerts attach to it instead of opening another. Without
one, the ``incident_rules`` are tried in order; the first whose ``when`` holds decides
(``declare: false`` means "never for these"). A declared incident takes its failure mode and
severity from the rule or the alert labels (raised to the severity floor of the system's
criticality, :mod:`airsoc.response.governance`), its ATLAS/OWASP tags from the taxonomy, starts its
escalation policy and communication cadence, and starts the playbooks whose ``on`` matches.

Rule conditions read the group's common labels by name (``failure_mode``, ``severity``,
``system``, ``monitor``, ``model_version`` are always defined, possibly null), ``labels`` (all
common labels) and ``alerts`` (how many fire).

Example:
    >>> rule_context({"failure_mode": "data_drift", "severity": "sev2"}, alerts=3)["alerts"]
    3
    >>> from airsoc.response.conditions import evaluate
    >>> ctx = rule_context({"severity": "sev2"}, alerts=1)
    >>> evaluate('severity in ["sev1", "sev2"] and monitor == null', ctx)
    True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from airsoc.alerting.dispatcher import GroupFlush
from airsoc.clock import Clock
from airsoc.errors import AirsocError
from airsoc.incidents.lifecycle import parse_severity
from airsoc.incidents.service import (
    IncidentView,
    add_note,
    declare_incident,
    list_incidents,
)
from airsoc.incidents.taxonomy import failure_mode as lookup_failure_mode
from airsoc.monitoring.alerts import STANDARD_LABELS
from airsoc.response.conditions import evaluate
from airsoc.response.config import IncidentRuleConfig, ResponseSection
from airsoc.response.governance import declaration_severity
from airsoc.response.incident_alerts import incident_alerts, incident_group_key
from airsoc.response.models import IncidentAlertRow
from airsoc.response.playbooks import Playbook
from airsoc.response.runs import start_run
from airsoc.store import Store

__all__ = [
    "DECLARER_ACTOR",
    "IncidentDeclarer",
    "rule_context",
]

DECLARER_ACTOR = "system:incident-rules"
_log = logging.getLogger(__name__)


def rule_context(labels: Mapping[str, str], *, alerts: int) -> dict[str, Any]:
    """Return what an incident rule's condition reads for a group with these common labels."""
    ctx: dict[str, Any] = dict.fromkeys(STANDARD_LABELS)
    ctx.update(labels)
    ctx["labels"] = dict(labels)
    ctx["alerts"] = alerts
    return ctx


def _common_labels(flush: GroupFlush) -> dict[str, str]:
    labels = [a.labels for a in flush.alerts]
    common = {k: v for k, v in labels[0].items() if all(x.get(k) == v for x in labels[1:])}
    severities = []
    for item in labels:
        try:
            severities.append(parse_severity(item.get("severity", "")))
        except AirsocError:
            continue
    if "severity" not in common and severities:
        common["severity"] = min(severities, key=lambda s: s.rank).value
    return {**common, **flush.group_labels}


class IncidentDeclarer:
    """Turns flushed alert groups into incidents (or attaches them) and starts playbooks."""

    def __init__(
        self,
        *,
        config: ResponseSection,
        store: Store,
        clock: Clock,
        playbooks: Sequence[Playbook] = (),
        actor: str = DECLARER_ACTOR,
    ) -> None:
        self.rules = list(config.incident_rules)
        self.escalation = config.escalation
        self.governance = config.governance
        self.store = store
        self.clock = clock
        self.playbooks = list(playbooks)
        self.actor = actor

    def __call__(self, flush: GroupFlush) -> IncidentView | None:
        """Handle one flush; return the incident the group belongs to, if any."""
        return self.handle(flush)

    def handle(self, flush: GroupFlush) -> IncidentView | None:
        """Attach the group's alerts to its open incident, or declare one if a rule says so."""
        if not flush.alerts:
            return None
        key = incident_group_key(flush.group_labels)
        labels = _common_labels(flush)
        with self.store.transaction() as s:
            incident = self._open_incident(s, key, labels.get("system"))
            if incident is not None:
                self._attach(s, incident, key, flush)
                return incident
            rule = self._first_rule(labels, len(flush.alerts))
            if rule is None or not rule.declare:
                return None
            incident = self._declare(s, rule, key, labels, flush)
            if incident is None:
                return None
            self._attach(s, incident, key, flush, note=False)
            from airsoc.response.escalation import start_escalation

            start_escalation(
                s,
                clock=self.clock,
                incident=incident,
                policy=rule.escalation or self.escalation.default_policy,
                config=self.escalation,
            )
            for playbook in self.playbooks:
                if playbook.applies_to(incident.model_dump(mode="json")):
                    start_run(
                        s,
                        clock=self.clock,
                        playbook=playbook,
                        incident_id=incident.id,
                        started_by=self.actor,
                        reason=f"playbook {playbook.name} matches {incident.ref}",
                    )
            return incident

    def _open_incident(self, s: Session, key: str, system: str | None) -> IncidentView | None:
        for incident in list_incidents(s, open_only=True, system=system or None):
            if incident.group_key == key:
                return incident
        return None

    def _first_rule(self, labels: Mapping[str, str], alerts: int) -> IncidentRuleConfig | None:
        ctx = rule_context(labels, alerts=alerts)
        for rule in self.rules:
            if evaluate(rule.when, ctx):
                return rule
        return None

    def _declare(
        self,
        s: Session,
        rule: IncidentRuleConfig,
        key: str,
        labels: Mapping[str, str],
        flush: GroupFlush,
    ) -> IncidentView | None:
        mode_name = rule.failure_mode or labels.get("failure_mode")
        if not mode_name:
            _log.warning(
                "alert group %s matches a rule but names no failure mode; "
                "no incident declared (give the rule a failure_mode)",
                key,
            )
            return None
        try:
            mode = lookup_failure_mode(mode_name)
        except AirsocError as exc:
            _log.warning("alert group %s: %s; no incident declared", key, exc.message)
            return None
        severity = rule.severity
        if severity is None:
            try:
                severity = parse_severity(labels.get("severity", "")).value
            except AirsocError:
                severity = None
        system = labels.get("system") or "unknown"
        decision = declaration_severity(
            s, system=system, failure_mode=mode.name, severity=severity, rules=self.governance
        )
        summaries = sorted({a.annotations.get("summary", "") for a in flush.alerts} - {""})
        summary = f"{len(flush.alerts)} alert(s) on {labels.get('system', 'unknown system')}"
        if summaries:
            summary += ": " + "; ".join(summaries)[:500]
        return declare_incident(
            s,
            clock=self.clock,
            actor=self.actor,
            system=system,
            failure_mode=mode.name,
            summary=summary,
            severity=decision.severity,
            severity_reason=decision.reason,
            model_versions=[labels["model_version"]] if labels.get("model_version") else (),
            data_batches=[b for b in labels.get("data_batches", "").split(",") if b],
            labels={k: str(v) for k, v in labels.items()},
            detected_at=min(a.starts_at for a in flush.alerts),
            group_key=key,
        )

    def _attach(
        self, s: Session, incident: IncidentView, key: str, flush: GroupFlush, note: bool = True
    ) -> None:
        known = {a.fingerprint for a in incident_alerts(s, incident_id=incident.id)}
        for alert in flush.alerts:
            if alert.fingerprint in known:
                continue
            s.add(
                IncidentAlertRow(
                    incident_id=incident.id,
                    group_key=key,
                    fingerprint=alert.fingerprint,
                    labels=dict(alert.labels),
                    attached_at=self.clock.now(),
                )
            )
            known.add(alert.fingerprint)
            if note:
                add_note(
                    s,
                    clock=self.clock,
                    incident_id=incident.id,
                    actor=self.actor,
                    text=f"alert {alert.labels.get('alertname', alert.fingerprint)} "
                    f"({alert.fingerprint}) attached: "
                    + alert.annotations.get("summary", "no summary"),
                )
        s.flush()
