"""Claiming runs: one worker per run, a run waiting on a due approval is taken back, a lost
lease stops the worker that lost it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc.clock import SimulatedClock
from airsoc.response.leases import LeaseLostError, RunLease
from airsoc.store import Store
from tests.response.support import incident, registry, run_view, runner, start

WAITS = """
name: w
steps:
  - id: contain
    action: rollback
    approval: {role: incident_commander, timeout: 15m, on_timeout: proceed}
"""


def test_a_run_waiting_on_a_due_approval_is_claimed_back_as_running(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    reg = registry()
    inc = incident(sqlite_store, clock)
    _, run_id = start(sqlite_store, clock, WAITS, inc.id, reg)
    runner(sqlite_store, clock, reg).run_until_idle()
    assert run_view(sqlite_store, run_id).status == "waiting_approval"
    lease = RunLease(worker_id="w2", clock=clock, duration=timedelta(minutes=5))
    assert lease.claim(sqlite_store) is None  # the approval is not due yet
    clock.advance(timedelta(minutes=15))
    held = lease.claim(sqlite_store)
    assert held is not None and held.run_id == run_id
    view = run_view(sqlite_store, run_id)
    assert (view.status, view.claimed_by) == ("running", "w2")


def test_a_worker_whose_lease_was_taken_over_cannot_hold_the_run(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    reg = registry()
    inc = incident(sqlite_store, clock)
    _, run_id = start(sqlite_store, clock, "name: c\nsteps: [{id: a, action: count}]", inc.id, reg)
    first = RunLease(worker_id="w1", clock=clock, duration=timedelta(minutes=5))
    second = RunLease(worker_id="w2", clock=clock, duration=timedelta(minutes=5))
    held = first.claim(sqlite_store)
    assert held is not None and held.run_id == run_id
    assert second.claim(sqlite_store) is None
    clock.advance(timedelta(minutes=6))
    taken = second.claim(sqlite_store)
    assert taken is not None and (taken.run_id, taken.token) == (run_id, held.token + 1)
    with sqlite_store.transaction() as s, pytest.raises(LeaseLostError, match="held by w2"):
        held.hold(s)
