"""Escalation pages the next receiver while nobody acknowledges; status updates keep cadence."""

from __future__ import annotations

from datetime import timedelta

from airsoc.alerting.dispatcher import GroupFlush
from airsoc.alerting.receivers import RecordingReceiver
from airsoc.clock import SimulatedClock
from airsoc.incidents.service import assign_role
from airsoc.monitoring.alerts import Alert
from airsoc.response.declaration import IncidentDeclarer
from airsoc.response.escalation import (
    list_communications,
    run_escalations,
    send_due_status_updates,
)
from airsoc.runtime.config import parse_config
from airsoc.store import Store

CONFIG = """
receivers: {primary: {}, secondary: {}, status: {}}
incident_rules:
  - when: "true"
    escalation: oncall
escalation:
  default_policy: oncall
  status_receiver: status
  policies:
    oncall:
      levels:
        - {after: 5m, receiver: primary}
        - {after: 15m, receiver: secondary}
"""


def declare(store: Store, clock: SimulatedClock, severity: str) -> int:
    cfg = parse_config(CONFIG)
    d = IncidentDeclarer(config=cfg, store=store, clock=clock)
    labels = {"system": "bot", "failure_mode": "prompt_injection", "severity": severity}
    inc = d(
        GroupFlush(
            "k", "primary", {"system": "bot"}, (Alert(labels=labels, starts_at=clock.now()),)
        )
    )
    assert inc is not None
    return inc.id


def test_pages_each_level_in_turn_until_acknowledged(store: Store, clock: SimulatedClock) -> None:
    cfg = parse_config(CONFIG)
    receivers = {n: RecordingReceiver(n) for n in ("primary", "secondary", "status")}
    targets = {k: [v] for k, v in receivers.items()}
    inc_id = declare(store, clock, "sev2")

    def escalate() -> list[tuple[int, str]]:
        pages = run_escalations(store=store, clock=clock, config=cfg.escalation, receivers=targets)
        return [(p.level, p.receiver) for p in pages]

    clock.advance(timedelta(minutes=4))
    assert escalate() == []
    clock.advance(timedelta(minutes=1))
    assert escalate() == [(1, "primary")]
    assert escalate() == []
    clock.advance(timedelta(minutes=10))
    assert escalate() == [(2, "secondary")]
    text = receivers["secondary"].notifications[0].alerts[0].annotations["summary"]
    assert text.startswith(f"Escalation level 2: INC-{inc_id} (SEV2)")


def test_acknowledging_stops_escalation(store: Store, clock: SimulatedClock) -> None:
    cfg = parse_config(CONFIG)
    primary = RecordingReceiver("primary")
    inc_id = declare(store, clock, "sev2")
    with store.transaction() as s:
        assign_role(s, clock=clock, incident_id=inc_id, role="ic", person="bob", actor="bob")
    clock.advance(timedelta(hours=1))
    pages = run_escalations(
        store=store, clock=clock, config=cfg.escalation, receivers={"primary": [primary]}
    )
    assert pages == []
    assert primary.notifications == []


def test_sev1_status_updates_every_30_minutes(store: Store, clock: SimulatedClock) -> None:
    cfg = parse_config(CONFIG)
    status = RecordingReceiver("status")
    inc_id = declare(store, clock, "sev1")
    with store.read() as s:
        comms = list_communications(s, incident_id=inc_id)
    assert [c.kind for c in comms] == ["status_update", "customer_notice_draft"]
    assert comms[0].next_due_at == clock.now() + timedelta(minutes=30)
    assert "Subject: Service notice: bot" in comms[1].body

    def due() -> int:
        return len(
            send_due_status_updates(
                store=store, clock=clock, config=cfg.escalation, receivers={"status": [status]}
            )
        )

    clock.advance(timedelta(minutes=29))
    assert due() == 0
    clock.advance(timedelta(minutes=1))
    assert due() == 1
    clock.advance(timedelta(minutes=30))
    assert due() == 1
    assert len(status.notifications) == 2
    summary = status.notifications[0].alerts[0].annotations["summary"]
    assert f"INC-{inc_id} status update** (SEV1, detected)" in summary
