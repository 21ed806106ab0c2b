"""The self-monitor: a store that refuses writes fails readiness, and an alert the store could
not accept is still notified firing before it is notified resolved."""

from __future__ import annotations

from airsoc.clock import SimulatedClock
from airsoc.runtime.health import SelfMonitor


def test_a_store_that_refuses_writes_fails_readiness_until_a_round_succeeds() -> None:
    monitor = SelfMonitor(clock=SimulatedClock(), stall_after=60.0)
    monitor.beat()
    monitor.worker_failed(RuntimeError("database is locked"))
    monitor.store_failed(RuntimeError("database is locked"))
    store = {p.part: p for p in monitor.parts()}["store"]
    assert (store.status, store.ok) == ("failing", False)
    assert "database is locked" in store.detail
    assert not monitor.ready()
    monitor.beat()
    assert monitor.ready()


def test_a_part_that_recovers_before_its_alert_is_accepted_is_notified_firing_first() -> None:
    monitor = SelfMonitor(clock=SimulatedClock(), stall_after=60.0)
    monitor.beat()
    monitor.store_failed(RuntimeError("database is locked"))
    first = monitor.alerts()
    monitor.undelivered(first)  # the store refused the alert
    second = monitor.alerts()
    monitor.undelivered(second)  # and again: the same alert is not queued twice
    monitor.beat()  # the store is back
    third = monitor.alerts()
    assert [(a.labels["part"], a.is_resolved(a.starts_at)) for a in third] == [("store", False)]
    fourth = monitor.alerts()
    assert [a.labels["part"] for a in fourth] == ["store"]
    assert fourth[0].ends_at is not None
    assert monitor.alerts() == []
