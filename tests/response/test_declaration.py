"""Incidents from alert groups: rules, later alerts attaching, declare: false, playbook start."""

from __future__ import annotations

from datetime import timedelta

from airsoc.alerting.dispatcher import GroupFlush
from airsoc.clock import SimulatedClock
from airsoc.incidents.service import get_incident, list_incidents, transition_incident
from airsoc.monitoring.alerts import Alert
from airsoc.response.declaration import IncidentDeclarer
from airsoc.response.incident_alerts import incident_alerts
from airsoc.response.playbooks import parse_playbook
from airsoc.response.runs import list_runs
from airsoc.runtime.config import parse_config
from airsoc.store import Store

CONFIG = """
incident_rules:
  - when: 'system == "sandbox"'
    declare: false
  - when: 'failure_mode == "data_poisoning" or severity in ["sev1", "sev2"]'
  - when: 'monitor == "latency" and alerts >= 2'
    failure_mode: harmful_output
    severity: sev3
"""


def flush(clock: SimulatedClock, *labels: dict[str, str]) -> GroupFlush:
    alerts = tuple(
        Alert(
            labels=lab,
            annotations={"summary": f"{lab.get('monitor')} fired"},
            starts_at=clock.now(),
        )
        for lab in labels
    )
    return GroupFlush(
        group_key="0:x",
        receiver="ops",
        group_labels={"system": labels[0]["system"]},
        alerts=alerts,
    )


def declarer(store: Store, clock: SimulatedClock) -> IncidentDeclarer:
    playbook = parse_playbook(
        "name: p\non: {failure_mode: data_poisoning}\nsteps: [{id: a, action: capture_evidence}]"
    )
    return IncidentDeclarer(
        config=parse_config(CONFIG), store=store, clock=clock, playbooks=[playbook]
    )


def test_first_matching_rule_declares_with_taxonomy_tags_and_starts_playbooks(
    store: Store, clock: SimulatedClock
) -> None:
    d = declarer(store, clock)
    inc = d(
        flush(
            clock,
            {
                "system": "fraud",
                "failure_mode": "data_poisoning",
                "monitor": "m1",
                "severity": "sev3",
            },
        )
    )
    assert inc is not None
    assert (inc.failure_mode, inc.severity, inc.created_by) == (
        "data_poisoning",
        "sev3",
        "system:incident-rules",
    )
    assert inc.atlas_techniques[0]["id"] == "AML.T0020"
    assert inc.owasp[0]["id"] == "ML02"
    with store.read() as s:
        assert [r.playbook for r in list_runs(s, incident_id=inc.id)] == ["p"]


def test_later_alerts_attach_to_the_open_incident(store: Store, clock: SimulatedClock) -> None:
    d = declarer(store, clock)
    a = {"system": "fraud", "failure_mode": "data_poisoning", "monitor": "m1"}
    first = d(flush(clock, a))
    clock.advance(timedelta(minutes=5))
    second = d(flush(clock, a, {**a, "monitor": "m2"}))
    assert first is not None
    assert second is not None
    assert first.id == second.id
    with store.read() as s:
        assert len(list_incidents(s)) == 1
        attached = incident_alerts(s, incident_id=first.id)
        notes = [e.reason for e in get_incident(s, incident_id=first.id).notes]
    assert [x.labels["monitor"] for x in attached] == ["m1", "m2"]
    assert any("m2 fired" in n for n in notes)
    # Once the incident is closed, the same group opens a new one.
    with store.transaction() as s:
        transition_incident(
            s,
            clock=clock,
            incident_id=first.id,
            to="false_positive",
            actor="bob",
            reason="test traffic",
        )
    third = d(flush(clock, a))
    assert third is not None
    assert third.id != first.id


def test_declare_false_and_no_matching_rule_declare_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    d = declarer(store, clock)
    assert d(flush(clock, {"system": "sandbox", "failure_mode": "data_poisoning"})) is None
    assert (
        d(flush(clock, {"system": "fraud", "failure_mode": "data_drift", "severity": "sev4"}))
        is None
    )
    one = {"system": "bot", "monitor": "latency"}
    assert d(flush(clock, one)) is None
    inc = d(flush(clock, one, {**one, "region": "eu"}))
    assert inc is not None
    assert (inc.failure_mode, inc.severity) == ("harmful_output", "sev3")
