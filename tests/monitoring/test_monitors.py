"""Monitor scheduling (every / cron), windows, signals, and alerts fired then resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airsoc.alerting.service import save_alert
from airsoc.clock import SimulatedClock
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.builtin import BUILTIN_EVALUATORS
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import (
    InMemoryTelemetry,
    MonitorScheduler,
    monitor_status,
    window_bounds,
)
from airsoc.monitoring.signals import list_signals
from airsoc.store import Store


def monitor(**kw: object) -> MonitorConfig:
    base: dict[str, object] = {
        "name": "lat",
        "system": "bot",
        "detector": "threshold",
        "metric": "latency_ms",
        "thresholds": {"max": 500, "warn_max": 300},
        "window": "1h",
        "window_kind": "sliding",
        "every": "15m",
    }
    return MonitorConfig.model_validate({**base, **kw})


def scheduler(
    store: Store, clock: SimulatedClock, m: MonitorConfig, tel: InMemoryTelemetry
) -> tuple[MonitorScheduler, list[Alert]]:
    fired: list[Alert] = []

    def sink(alert: Alert) -> None:
        fired.append(alert)
        with store.transaction() as s:
            save_alert(s, clock=clock, alert=alert, source="monitor")

    return MonitorScheduler(
        evaluators=BUILTIN_EVALUATORS, monitors=[m], store=store, clock=clock, source=tel, sink=sink
    ), fired


def test_every_schedule_signals_and_alert_lifecycle(store: Store, clock: SimulatedClock) -> None:
    tel = InMemoryTelemetry()
    m = monitor(labels={"team": "llm"}, severity="sev2", failure_mode="harmful_output")
    sched, fired = scheduler(store, clock, m, tel)
    tel.extend([{"system": "bot", "ts": clock.now() - timedelta(minutes=5), "latency_ms": 900}])
    (run,) = sched.run_due()
    assert run.breached
    assert fired[0].labels == {
        "alertname": "lat",
        "system": "bot",
        "monitor": "lat",
        "failure_mode": "harmful_output",
        "severity": "sev2",
        "team": "llm",
    }
    assert sched.run_due() == []  # not due again for 15 minutes
    clock.advance(timedelta(minutes=15))
    (again,) = sched.run_due()
    assert again.alert is not None
    assert again.alert.starts_at == fired[0].starts_at
    clock.advance(timedelta(hours=1, minutes=15))  # the slow requests left the window
    tel.append({"system": "bot", "ts": clock.now() - timedelta(minutes=1), "latency_ms": 350})
    (clean,) = sched.run_due()
    assert clean.resolved
    assert not clean.breached
    assert fired[-1].is_resolved(clock.now())
    with store.read() as s:
        assert [x.decision for x in list_signals(s, monitor="lat")] == ["drift", "drift", "warn"]
        status = monitor_status(s)["lat"]
    assert status.next_run_at == clock.now() + timedelta(minutes=15)


def test_an_alarm_fires_only_once_confirmed_by_runs_in_a_row(
    store: Store, clock: SimulatedClock
) -> None:
    """``confirm_runs: 2``: one alarming run (a chance p-value on a sliding window) is pending
    and raises nothing; an alarm that holds for a second run fires, and resolves as usual."""
    tel = InMemoryTelemetry()
    m = monitor(window="10m", every="10m", confirm_runs=2)
    sched, fired = scheduler(store, clock, m, tel)
    slow = {"system": "bot", "latency_ms": 900}
    tel.append({**slow, "ts": clock.now() - timedelta(minutes=1)})
    (once,) = sched.run_due()
    assert once.breached
    assert once.pending
    assert once.alert is None
    assert fired == []
    clock.advance(timedelta(minutes=10))
    tel.append({"system": "bot", "latency_ms": 100, "ts": clock.now() - timedelta(minutes=1)})
    (quiet,) = sched.run_due()  # the streak is broken: the next alarm starts over
    assert not quiet.breached
    assert not quiet.resolved
    assert fired == []
    for minutes in (10, 10):
        clock.advance(timedelta(minutes=minutes))
        tel.append({**slow, "ts": clock.now() - timedelta(minutes=1)})
        (run,) = sched.run_due()
    assert run.alert is not None
    assert not run.pending
    assert [a.labels["monitor"] for a in fired] == ["lat"]
    clock.advance(timedelta(minutes=10))
    tel.append({"system": "bot", "latency_ms": 100, "ts": clock.now() - timedelta(minutes=1)})
    (clean,) = sched.run_due()
    assert clean.resolved
    assert fired[-1].is_resolved(clock.now())
    with pytest.raises(ValueError, match="confirm_runs"):
        monitor(confirm_runs=0)


def test_cron_schedule_and_tumbling_window(store: Store) -> None:
    clock = SimulatedClock(datetime(2026, 3, 1, 9, 10, tzinfo=UTC))
    m = monitor(every=None, cron="0 * * * *", window_kind="tumbling")
    sched, _ = scheduler(store, clock, m, InMemoryTelemetry())
    (run,) = sched.run_due()
    assert run.window == (datetime(2026, 3, 1, 8, tzinfo=UTC), datetime(2026, 3, 1, 9, tzinfo=UTC))
    clock.advance(timedelta(minutes=49))
    assert sched.run_due() == []
    clock.advance(timedelta(minutes=1))
    assert len(sched.run_due()) == 1


def test_unknown_detector_and_bad_data_are_recorded_errors(
    store: Store, clock: SimulatedClock
) -> None:
    tel = InMemoryTelemetry()
    sched, fired = scheduler(store, clock, monitor(detector="nope"), tel)
    (run,) = sched.run_due()
    assert run.error is not None
    assert "no detector named 'nope'" in run.error
    tel.append({"system": "bot", "ts": clock.now() - timedelta(minutes=1), "latency_ms": "slow"})
    sched2, _ = scheduler(store, clock, monitor(name="lat2"), tel)
    (bad,) = sched2.run_due()
    assert bad.error is not None
    assert "non-numeric 'latency_ms'" in bad.error
    assert fired == []
    with store.read() as s:
        assert monitor_status(s)["lat2"].last_decision == "error"


def test_schedule_must_be_every_or_cron() -> None:
    with pytest.raises(ValueError, match="exactly one schedule"):
        monitor(cron="0 * * * *")
    with pytest.raises(ValueError, match="invalid cron"):
        monitor(every=None, cron="every hour")


def test_tumbling_window_is_the_last_full_window() -> None:
    m = monitor(window="15m", window_kind="tumbling")
    start, end = window_bounds(m, datetime(2026, 1, 1, 10, 7, tzinfo=UTC))
    assert (start.minute, end.minute) == (45, 0)


def test_reference_can_be_a_time_range_of_telemetry(clock: SimulatedClock) -> None:
    tel = InMemoryTelemetry()
    day = datetime(2026, 2, 1, tzinfo=UTC)
    tel.extend(
        {"system": "bot", "ts": day + timedelta(hours=h), "latency_ms": h} for h in range(48)
    )
    m = monitor(reference={"start": "2026-02-01T00:00:00+00:00", "end": "2026-02-02T00:00:00Z"})
    assert [r["latency_ms"] for r in tel.reference(m)] == list(range(24))
    assert tel.reference(monitor()) == []


def test_a_window_without_data_is_skipped_never_ok(store: Store, clock: SimulatedClock) -> None:
    tel = InMemoryTelemetry()
    sched, fired = scheduler(store, clock, monitor(), tel)
    (run,) = sched.run_due()
    assert run.status == "skipped"
    assert [(v.status, v.reason[:18]) for v in run.verdicts] == [("skipped", "no data in the win")]
    assert run.duration_ms >= 0
    assert fired == []  # an idle system's monitor is not a fault
    with store.read() as s:
        assert monitor_status(s)["lat"].last_decision == "skipped"
        assert [x.verdict["status"] for x in list_signals(s, monitor="lat")] == ["skipped"]


def test_a_monitor_that_goes_blind_raises_a_platform_fault(
    store: Store, clock: SimulatedClock
) -> None:
    tel = InMemoryTelemetry()
    sched, fired = scheduler(store, clock, monitor(), tel)
    tel.append({"system": "bot", "ts": clock.now() - timedelta(minutes=5), "latency_ms": 90})
    (seen,) = sched.run_due()
    assert (seen.status, fired) == ("ran", [])
    clock.advance(timedelta(hours=2))  # the traffic stops
    (blind,) = sched.run_due()
    assert blind.status == "skipped"
    assert blind.blind is not None
    assert fired[-1].labels["failure_mode"] == "platform_fault"
    assert fired[-1].labels["part"] == "monitor/lat"
    assert not fired[-1].is_resolved(clock.now())
    tel.append({"system": "bot", "ts": clock.now() + timedelta(minutes=10), "latency_ms": 90})
    clock.advance(timedelta(minutes=15))
    (back,) = sched.run_due()
    assert back.status == "ran"
    assert fired[-1].labels["alertname"] == "MonitorBlind"
    assert fired[-1].is_resolved(clock.now())


def test_a_monitor_expecting_data_is_blind_from_its_first_run(
    store: Store, clock: SimulatedClock
) -> None:
    sched, fired = scheduler(store, clock, monitor(expects_data=True), InMemoryTelemetry())
    (run,) = sched.run_due()
    assert run.blind is not None
    assert fired == [run.blind]


def test_a_monitor_that_keeps_failing_raises_a_platform_fault(
    store: Store, clock: SimulatedClock
) -> None:
    tel = InMemoryTelemetry()
    sched, fired = scheduler(store, clock, monitor(detector="nope"), tel)
    tel.append({"system": "bot", "ts": clock.now() - timedelta(minutes=1), "latency_ms": 1})
    runs = []
    for _ in range(3):
        runs.extend(sched.run_due())
        clock.advance(timedelta(minutes=15))
    assert [r.status for r in runs] == ["failed"] * 3
    assert [r.blind is not None for r in runs] == [False, False, True]
    assert "failed 3 runs in a row" in fired[-1].annotations["description"]
