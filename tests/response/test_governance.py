"""Governance by criticality: the severity floor at declaration, approvals and four-eyes."""

from __future__ import annotations

import pytest

from airsoc.alerting.dispatcher import GroupFlush
from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock
from airsoc.errors import ConfigError, PermissionDeniedError
from airsoc.incidents.service import incident_chain
from airsoc.lineage.systems import register_system
from airsoc.monitoring.alerts import Alert
from airsoc.response.approvals import decide_approval, list_approvals
from airsoc.response.declaration import IncidentDeclarer
from airsoc.response.governance import GovernanceConfig, decide_severity
from airsoc.runtime.config import parse_config
from airsoc.store import Store
from tests.response.support import incident, registry, run_view, runner, start

RULES = """
systems:
  fraud: {kind: tabular-classifier, owner: risk-ml, criticality: critical}
  toy: {kind: other, owner: lab, criticality: low}
incident_rules:
  - when: 'true'
"""

ROLLBACK = """
name: contain
steps:
  - id: contain
    action: rollback
    with: {system: fraud, to: v6}
"""

NOTE = """
name: note
steps:
  - id: note
    action: open_task
    with: {title: check the vendor}
    approval: {role: incident_commander}
"""


def register(store: Store, clock: SimulatedClock, name: str, criticality: str) -> None:
    with store.transaction() as s:
        register_system(
            s,
            clock=clock,
            actor="setup",
            name=name,
            kind="tabular-classifier",
            owner="risk-ml",
            criticality=criticality,
        )


def flush(clock: SimulatedClock, system: str, failure_mode: str) -> GroupFlush:
    alert = Alert(
        labels={"system": system, "failure_mode": failure_mode, "monitor": "m"},
        annotations={"summary": "psi 0.4"},
        starts_at=clock.now(),
    )
    return GroupFlush(
        group_key=f"0:{system}",
        receiver="ops",
        group_labels={"system": system},
        alerts=(alert,),
    )


def test_a_low_default_failure_mode_on_a_critical_system_declares_at_the_floor(
    store: Store, clock: SimulatedClock
) -> None:
    register(store, clock, "fraud", "critical")
    register(store, clock, "toy", "low")
    declarer = IncidentDeclarer(config=parse_config(RULES), store=store, clock=clock)
    # data_drift defaults to SEV4; a critical system's floor is SEV2 by default.
    critical = declarer(flush(clock, "fraud", "data_drift"))
    low = declarer(flush(clock, "toy", "data_drift"))
    assert critical is not None
    assert low is not None
    assert (critical.severity, low.severity) == ("sev2", "sev4")
    with store.read() as s:
        declared = list_entries(s, chain=incident_chain(critical.id))[0]
        untouched = list_entries(s, chain=incident_chain(low.id))[0]
    assert declared.action == "incident.declared"
    assert declared.data["severity"] == "sev2"
    assert declared.data["severity_reason"] == (
        "raised from sev4 to the severity floor sev2 of critical systems (fraud is critical)"
    )
    assert "severity_reason" not in untouched.data


def test_the_floor_comes_from_the_configuration_and_never_lowers(
    store: Store, clock: SimulatedClock
) -> None:
    register(store, clock, "toy", "low")
    config = parse_config(RULES + "governance:\n  criticality:\n    low: {severity_floor: sev3}\n")
    declarer = IncidentDeclarer(config=config, store=store, clock=clock)
    inc = declarer(flush(clock, "toy", "data_drift"))
    assert inc is not None
    assert inc.severity == "sev3"
    # Already above the floor: kept.
    assert decide_severity("sev1", criticality="low", rules=config.governance).severity == "sev1"


def test_a_bad_governance_section_names_its_location() -> None:
    with pytest.raises(ConfigError, match=r"governance\.criticality\.high\.severity_floor"):
        parse_config("governance:\n  criticality:\n    high: {severity_floor: sev9}\n")
    with pytest.raises(ConfigError, match=r"governance\.criticality\.low\.approval_role"):
        parse_config("governance:\n  criticality:\n    low: {approval_role: boss}\n")
    with pytest.raises(ConfigError, match=r"governance\.criticality\.urgent"):
        parse_config("governance:\n  criticality:\n    urgent: {}\n")


def test_a_critical_system_waits_for_approval_of_a_destructive_step_the_playbook_left_open(
    store: Store, clock: SimulatedClock
) -> None:
    reg = registry()
    register(store, clock, "fraud", "critical")
    inc = incident(store, clock, roles={"incident_commander": "sam"})
    _, run_id = start(store, clock, ROLLBACK, inc.id, reg, started_by="dana")
    runner(store, clock, reg).run_until_idle()
    assert run_view(store, run_id).status == "waiting_approval"
    with store.read() as s:
        (approval,) = list_approvals(s)
        requested = [
            e
            for e in list_entries(s, chain=incident_chain(inc.id))
            if e.action == "playbook.approval_requested"
        ]
    assert (approval.role, approval.destructive, approval.four_eyes) == (
        "incident_commander",
        True,
        True,
    )
    assert requested[0].data["rule"] == "critical systems require approval of destructive steps"


def test_without_the_rule_the_destructive_step_runs_as_written(
    store: Store, clock: SimulatedClock
) -> None:
    reg = registry()
    register(store, clock, "fraud", "low")
    inc = incident(store, clock)
    _, run_id = start(store, clock, ROLLBACK, inc.id, reg)
    runner(store, clock, reg).run_until_idle()
    assert run_view(store, run_id).status == "succeeded"
    with store.read() as s:
        assert list_approvals(s, status=None) == []


def test_four_eyes_on_every_step_of_a_critical_system(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    register(store, clock, "fraud", "critical")
    inc = incident(store, clock, roles={"incident_commander": "sam"})
    start(store, clock, NOTE, inc.id, reg, started_by="sam")
    runner(store, clock, reg).run_until_idle()
    with store.read() as s:
        (approval,) = list_approvals(s)
    assert (approval.destructive, approval.four_eyes) == (False, True)
    with store.transaction() as s, pytest.raises(PermissionDeniedError, match="four-eyes"):
        decide_approval(
            s, clock=clock, approval_id=approval.id, actor="sam", approve=True, reason="mine"
        )


def test_a_runner_given_other_rules_follows_them(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    register(store, clock, "fraud", "medium")
    inc = incident(store, clock)
    _, run_id = start(store, clock, ROLLBACK, inc.id, reg)
    rules = GovernanceConfig.model_validate(
        {
            "criticality": {
                "medium": {"destructive_steps": "require_approval", "approval_role": "scribe"}
            }
        }
    )
    worker = runner(store, clock, reg)
    worker.governance = rules
    worker.run_until_idle()
    assert run_view(store, run_id).status == "waiting_approval"
    with store.read() as s:
        (approval,) = list_approvals(s)
    assert approval.role == "scribe"


def test_a_dry_run_shows_the_approvals_governance_adds(store: Store, clock: SimulatedClock) -> None:
    from airsoc.response.actions import ResponseServices
    from airsoc.response.dryrun import dry_run
    from airsoc.response.playbooks import parse_playbook

    reg = registry()
    playbook = parse_playbook(ROLLBACK + NOTE.split("steps:")[1], registry=reg)
    services = ResponseServices(store=store, settings=store.settings)
    incident_data = {"system": "fraud", "failure_mode": "data_drift", "severity": "sev4"}
    plain = dry_run(playbook, incident=incident_data, registry=reg, services=services, clock=clock)
    assert [s.approval for s in plain] == [None, "needs approval by incident_commander"]
    critical = dry_run(
        playbook,
        incident=incident_data,
        registry=reg,
        services=services,
        clock=clock,
        criticality="critical",
    )
    assert [s.approval for s in critical] == [
        "needs approval by incident_commander (four-eyes); "
        "critical systems require approval of destructive steps",
        "needs approval by incident_commander (four-eyes); the playbook asks for it; "
        "four-eyes on every step of critical systems",
    ]
