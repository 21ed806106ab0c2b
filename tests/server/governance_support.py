"""A configuration for charter tests: systems of every criticality, a routing tree, an escalation
policy, a monitor, SLAs and a playbook; and an incident with measured detection and containment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airsoc.clock import SimulatedClock
from airsoc.incidents.service import declare_incident, transition_incident
from airsoc.store import Store

CHARTER_CONFIG = """
systems:
  fraud-detector: {kind: tabular-classifier, owner: risk-ml, criticality: critical}
  support-bot: {kind: rag-app, owner: cx-ai, criticality: low}
monitors:
  - name: fraud-input-drift
    system: fraud-detector
    detector: data_drift
    window: 1h
    every: 15m
    reference: {model_version: production}
routes:
  receiver: ml-oncall
  group_by: [system, failure_mode]
  routes:
    - matchers: ['severity =~ "sev1|sev2"']
      receiver: pager
receivers:
  ml-oncall: {webhook: {url: "https://chat.example.com/hook"}}
  pager: {webhook: {url: "https://pager.example.com/hook"}}
escalation:
  default_policy: standard
  policies:
    standard:
      levels:
        - {after: 15m, receiver: ml-oncall}
        - {after: 45m, receiver: pager}
incident_rules:
  - when: 'severity in ["sev1", "sev2"]'
governance:
  slas:
    detection: {sev2: 20m}
playbooks: [playbooks/*.yaml]
"""

PLAYBOOK = """
name: drift-rollback
on: {failure_mode: data_drift}
steps:
  - id: evidence
    action: capture_evidence
  - id: contain
    action: rollback
    with: {system: "{{ incident.system }}", to: last_known_good}
    approval: {role: deputy, timeout: 15m, on_timeout: abort}
"""


def write_charter_config(folder: Path) -> Path:
    """Write the configuration and its playbook under ``folder``; return the file."""
    (folder / "playbooks").mkdir(parents=True, exist_ok=True)
    (folder / "playbooks" / "drift.yaml").write_text(PLAYBOOK, encoding="utf-8")
    path = folder / "airsoc.yaml"
    path.write_text(CHARTER_CONFIG, encoding="utf-8")
    return path


def measured_incident(store: Store, clock: SimulatedClock) -> None:
    """A SEV2 incident detected 10 minutes after it started and contained 30 minutes later."""
    start = clock.now()
    clock.advance(timedelta(minutes=10))
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="system:monitor/fraud-input-drift",
            system="fraud-detector",
            failure_mode="data_poisoning",
            summary="labels flipped",
            started_at=start,
        )
    clock.advance(timedelta(minutes=30))
    with store.transaction() as s:
        transition_incident(
            s, clock=clock, incident_id=inc.id, to="contained", actor="dana", reason="rolled back"
        )
