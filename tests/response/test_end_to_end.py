"""From drifted telemetry to a rollback, on real components: store, HTTP and SMTP servers.

1. Drifted telemetry produces a monitor verdict (stored as a signal).
2. The alert reaches a Slack-format webhook server and an SMTP server.
3. An incident is declared: sev2, data_drift, with its ATLAS tags.
4. The playbook runs and waits for approval; the requester cannot approve, a second user does.
5. The control plane rolls back to the last known-good version.
6. The timeline shows every step in order with its actor, and the audit chain verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from airsoc.alerting.monitors import EVALUATORS, InMemoryTelemetry, WindowData, register_evaluator
from airsoc.alerting.service import list_deliveries, list_signals
from airsoc.alerting.testing import http_sink, smtp_server
from airsoc.audit import verify_chains
from airsoc.clock import SimulatedClock
from airsoc.config import parse_config
from airsoc.config.schema import MonitorConfig
from airsoc.detection.verdict import Verdict
from airsoc.errors import PermissionDeniedError
from airsoc.incidents.service import assign_role, get_incident, list_incidents
from airsoc.response.approvals import decide_approval, list_approvals
from airsoc.response.controlplane import RecordingControlPlane
from airsoc.response.escalation import list_communications
from airsoc.response.runner import list_runs
from airsoc.response.setup import ResponseLoop, check_config
from airsoc.store import Store


def ks_drift(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """A two-sample KS test per numeric feature: the shape of the detection engine's detectors."""
    out = []
    for feature in ("amount",):
        ref = [r[feature] for r in window.reference]
        cur = [r[feature] for r in window.current]
        result = stats.ks_2samp(ref, cur)
        threshold = monitor.thresholds.get("p_value", 0.01)
        out.append(
            Verdict(
                detector="data_drift",
                method="ks",
                subject=feature,
                failure_mode="data_drift",
                statistic=float(result.statistic),
                p_value=float(result.pvalue),
                threshold=threshold,
                threshold_source="fixed",
                decision="drift" if result.pvalue < threshold else "ok",
                n_reference=len(ref),
                n_current=len(cur),
                reason=f"KS {result.statistic:.3f}, p={result.pvalue:.2g}",
            )
        )
    return out


@pytest.fixture
def ks_evaluator() -> Iterator[None]:
    previous = EVALUATORS.get("data_drift")
    register_evaluator("data_drift", ks_drift, replace=True)
    yield
    if previous is None:
        EVALUATORS.pop("data_drift", None)
    else:
        register_evaluator("data_drift", previous, replace=True)


CONFIG = """
systems:
  fraud-detector: {kind: tabular-classifier, owner: risk-ml, criticality: high}
monitors:
  - name: fraud-input-drift
    system: fraud-detector
    detector: data_drift
    window: 1h
    every: 15m
    severity: sev2
    thresholds: {p_value: 0.01}
routes:
  receiver: ml-oncall
  group_by: [system, failure_mode]
  group_wait: 30s
receivers:
  ml-oncall:
    slack: {webhook_url: "SLACK"}
    email:
      to: [oncall@example.com]
      from: airsoc@example.com
      smarthost: "SMTP"
      username: airsoc
      password_env: SMTP_PASSWORD
      ca_file: "CA"
incident_rules:
  - when: 'failure_mode == "data_poisoning" or severity in ["sev1", "sev2"]'
    declare: true
playbooks: [playbooks/*.yaml]
"""

PLAYBOOK = """
name: drift-rollback
on: {failure_mode: data_drift}
steps:
  - id: evidence
    action: capture_evidence
    with: {window: 1d}
  - id: contain
    action: rollback
    with: {system: "{{ incident.system }}", to: last_known_good}
    approval: {role: incident_commander, timeout: 15m, on_timeout: abort}
  - id: tell
    action: notify
    with: {receiver: ml-oncall, template: status_update}
"""


def test_drift_to_rollback(
    store: Store, clock: SimulatedClock, tmp_path: Path, ks_evaluator: None
) -> None:
    rng = np.random.default_rng(7)
    telemetry = InMemoryTelemetry()
    telemetry.references["fraud-detector"] = [
        {"amount": float(x)} for x in rng.normal(100, 15, 2000)
    ]
    cp = RecordingControlPlane(versions={"fraud-detector": ["v6", "v7"]})
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "drift.yaml").write_text(PLAYBOOK)
    with http_sink() as slack, smtp_server(tmp_path, user="airsoc", password="pw") as smtp:
        text = (
            CONFIG.replace('"SLACK"', slack.url + "/services/T0/B0/X")
            .replace('"SMTP"', f"{smtp.host}:{smtp.port}")
            .replace('"CA"', str(smtp.ca_file))
        )
        config = parse_config(text)
        playbooks = check_config(config, base_dir=tmp_path)
        loop = ResponseLoop(
            config=config,
            playbooks=playbooks,
            store=store,
            clock=clock,
            source=telemetry,
            control_plane=cp,
            environ={"SMTP_PASSWORD": "pw"},
        )
        # An hour of normal traffic: the first run judges it and finds nothing.
        start = clock.now() - timedelta(hours=1)
        telemetry.extend(
            {"system": "fraud-detector", "ts": start + timedelta(seconds=i * 3), "amount": x}
            for i, x in enumerate(rng.normal(100, 15, 1200))
        )
        report = loop.tick()
        assert [r.breached for r in report.monitor_runs] == [False]
        # 1. The next hour drifts; the run at the next schedule raises the alarm.
        telemetry.extend(
            {"system": "fraud-detector", "ts": clock.now() + timedelta(seconds=i * 3), "amount": x}
            for i, x in enumerate(rng.normal(130, 15, 1200))
        )
        clock.advance(timedelta(hours=1))
        report = loop.tick()
        assert [r.breached for r in report.monitor_runs] == [True]
        with store.read() as s:
            signals = list_signals(s, monitor="fraud-input-drift")
        assert [sig.decision for sig in signals] == ["ok", "drift"]
        assert signals[-1].p_value is not None
        assert signals[-1].p_value < 1e-6
        # 2. After group_wait the alert goes to Slack and to email.
        clock.advance(timedelta(seconds=30))
        report = loop.tick()
        assert {n.receiver for n in report.notifications} == {"ml-oncall"}
        assert "data_drift on fraud-detector" in slack.requests[0].json()["text"]
        assert "Subject: [FIRING:1] data_drift on fraud-detector" in smtp.messages[0]["data"]
        with store.read() as s:
            assert {d.integration for d in list_deliveries(s)} == {"slack", "email"}
            # 3. An incident was declared from the group.
            (incident,) = list_incidents(s)
        assert (incident.severity, incident.failure_mode) == ("sev2", "data_drift")
        assert [t["id"] for t in incident.atlas_techniques] == ["AML.T0059"]
        # 4. The playbook started, captured evidence, and waits for approval.
        with store.transaction() as s:
            assign_role(
                s,
                clock=clock,
                incident_id=incident.id,
                role="incident_commander",
                person="bob",
                actor="alice",
            )
            (approval,) = list_approvals(s)
        assert approval.requested_by == "system:incident-rules"
        assert cp.calls == []
        with store.transaction() as s, pytest.raises(PermissionDeniedError):
            decide_approval(
                s, clock=clock, approval_id=approval.id, actor="alice", approve=True, reason="ok"
            )
        clock.advance(timedelta(minutes=2))
        with store.transaction() as s:
            decide_approval(
                s,
                clock=clock,
                approval_id=approval.id,
                actor="bob",
                approve=True,
                reason="amount distribution shifted after v7; roll back",
            )
        # 5. The next round rolls back and tells the on-call channel.
        loop.tick()
        assert cp.serving["fraud-detector"] == "v6"
        assert len(slack.requests) == 2
    # 6. The timeline has every step in order, each with its actor; the chains verify.
    with store.read() as s:
        detail = get_incident(s, incident_id=incident.id)
        (run,) = list_runs(s, incident_id=incident.id)
        comms = list_communications(s, incident_id=incident.id)
        assert all(r.ok for r in verify_chains(s))
    assert run.status == "succeeded"
    steps = [
        (e.action, e.actor, e.data.get("step"))
        for e in detail.timeline
        if e.action.startswith(("incident.declared", "incident.role", "playbook."))
    ]
    actor = f"playbook:{run.id}"
    assert steps == [
        ("incident.declared", "system:incident-rules", None),
        ("playbook.started", "system:incident-rules", None),
        ("playbook.step_started", actor, "evidence"),
        ("playbook.step_succeeded", actor, "evidence"),
        ("playbook.approval_requested", actor, "contain"),
        ("incident.role_assigned", "alice", None),
        ("playbook.approval_granted", "bob", "contain"),
        ("playbook.step_started", actor, "contain"),
        ("playbook.step_succeeded", actor, "contain"),
        ("playbook.step_started", actor, "tell"),
        ("playbook.step_succeeded", actor, "tell"),
        ("playbook.succeeded", actor, None),
    ]
    assert detail.evidence[0].name == "response-snapshot.json"
    assert [c.kind for c in comms] == ["status_update", "customer_notice_draft"]
