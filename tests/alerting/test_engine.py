"""The alerting engine persists alerts and deliveries; Alertmanager payloads flow in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc.alerting.engine import AlertingEngine, ingest_alertmanager
from airsoc.alerting.receivers import RecordingReceiver
from airsoc.alerting.service import add_silence, list_alerts, list_deliveries
from airsoc.clock import SimulatedClock
from airsoc.errors import ConfigError, InputError
from airsoc.monitoring.signals import list_signals
from airsoc.runtime.config import parse_config
from airsoc.store import Store

CONFIG = """
routes: {receiver: ops, group_by: [alertname], group_wait: 10s}
receivers: {ops: {}}
silences:
  - matchers: [alertname=Noisy]
    ends_at: 2030-01-01T00:00:00Z
    created_by: alice
    comment: known noisy alert
"""

PAYLOAD = {
    "version": "4",
    "status": "firing",
    "receiver": "airsoc",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "system": "bot"},
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": "2026-03-01T08:59:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        },
        {"status": "firing", "labels": {"alertname": "Noisy"}, "startsAt": "2026-03-01T08:00:00Z"},
    ],
}


def test_alertmanager_payload_becomes_signals_alerts_and_notifications(
    store: Store, clock: SimulatedClock
) -> None:
    ops = RecordingReceiver("ops")
    engine = AlertingEngine(
        config=parse_config(CONFIG), store=store, clock=clock, receivers={"ops": [ops]}
    )
    alerts = ingest_alertmanager(PAYLOAD, engine=engine)
    assert [a.ends_at for a in alerts] == [None, None]
    clock.advance(timedelta(seconds=10))
    engine.tick()
    assert [n.group_labels for n in ops.notifications] == [{"alertname": "HighErrorRate"}]
    resolved = {
        "status": "resolved",
        "alerts": [
            {
                "status": "resolved",
                "labels": {"alertname": "HighErrorRate", "system": "bot"},
                "startsAt": "2026-03-01T08:59:00Z",
                "endsAt": "2026-03-01T09:00:05Z",
            }
        ],
    }
    ingest_alertmanager(resolved, engine=engine)
    clock.advance(timedelta(minutes=5))
    engine.tick()
    assert [n.status for n in ops.notifications] == ["firing", "resolved"]
    with store.read() as s:
        assert [sig.decision for sig in list_signals(s, monitor="HighErrorRate")] == ["drift", "ok"]
        assert {a.labels["alertname"]: a.status for a in list_alerts(s)} == {
            "HighErrorRate": "resolved",
            "Noisy": "firing",
        }
        assert [d.status for d in list_deliveries(s)] == ["delivered", "delivered"]


def test_stored_silence_mutes_the_engine(store: Store, clock: SimulatedClock) -> None:
    ops = RecordingReceiver("ops")
    engine = AlertingEngine(
        config=parse_config(CONFIG), store=store, clock=clock, receivers={"ops": [ops]}
    )
    with store.transaction() as s:
        add_silence(
            s,
            clock=clock,
            matchers=["system=bot"],
            created_by="bob",
            comment="deploy",
            duration=timedelta(hours=1),
        )
    ingest_alertmanager(PAYLOAD, engine=engine)
    clock.advance(timedelta(seconds=10))
    assert engine.tick() == []


def test_bad_payload_and_bad_references() -> None:
    with pytest.raises(InputError, match="alerts"):
        ingest_alertmanager({"status": "firing"})
    cfg = parse_config("routes: {receiver: ghost}\nreceivers: {ops: {}}")
    with pytest.raises(ConfigError, match=r"routes\.receiver: unknown receiver"):
        AlertingEngine(config=cfg, store=None, clock=SimulatedClock(), receivers={})  # type: ignore[arg-type]


def test_notification_log_survives_a_restart(store: Store, clock: SimulatedClock) -> None:
    config = parse_config(
        "routes: {receiver: ops, group_wait: 0s, repeat_interval: 1h}\nreceivers: {ops: {}}"
    )
    alert = {
        "version": "4",
        "alerts": [
            {"labels": {"alertname": "Drift", "system": "bot"}, "startsAt": "2026-03-01T08:00:00Z"}
        ],
    }
    before = RecordingReceiver("ops")
    engine = AlertingEngine(config=config, store=store, clock=clock, receivers={"ops": [before]})
    ingest_alertmanager(alert, engine=engine)
    engine.tick()
    assert len(before.notifications) == 1
    # A new process: the same firing alert is not announced again before repeat_interval.
    after = RecordingReceiver("ops")
    restarted = AlertingEngine(config=config, store=store, clock=clock, receivers={"ops": [after]})
    clock.advance(timedelta(minutes=10))
    ingest_alertmanager(alert, engine=restarted)
    restarted.flush_all()
    assert after.notifications == []
    clock.advance(timedelta(hours=1))
    restarted.flush_all()
    assert [n.repeat for n in after.notifications] == [True]
