"""Claiming runs: one worker per run, a run waiting on a due approval is taken back, a lost
lease stops the worker that lost it; fencing tokens, the heartbeat, cooperative timeouts."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock, SystemClock
from airsoc.incidents.service import incident_chain
from airsoc.response.actions import Action, ActionContext, ActionResult, ResponseServices
from airsoc.response.leases import LeaseLostError, RunLease, StepCancelledError
from airsoc.response.models import CommunicationRow
from airsoc.response.runner import PlaybookRunner
from airsoc.store import Store
from tests.response.support import CountingAction, incident, registry, run_view, runner, start

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
    assert held is not None
    assert held.run_id == run_id
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
    assert held is not None
    assert held.run_id == run_id
    assert second.claim(sqlite_store) is None
    clock.advance(timedelta(minutes=6))
    taken = second.claim(sqlite_store)
    assert taken is not None
    assert (taken.run_id, taken.token) == (run_id, held.token + 1)
    with sqlite_store.transaction() as s, pytest.raises(LeaseLostError, match="held by w2"):
        held.hold(s)


# --- fencing: a worker whose run was taken cannot act -----------------------------------------


class TakenOverMidStep(Action):
    """On its first run another worker takes the run over, then it tries its side effect."""

    name = "taken_over"
    runs: ClassVar[list[str]] = []

    class Params(BaseModel):
        pass

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        self.runs.append(ctx.actor)
        if len(self.runs) == 1:
            clock = ctx.clock
            assert isinstance(clock, SimulatedClock)
            clock.advance(timedelta(minutes=6))  # this worker stalled past its lease
            thief = RunLease(worker_id="w2", clock=clock, duration=timedelta(minutes=5))
            assert thief.claim(ctx.services.store) is not None
            assert ctx.cancelled is False  # nobody told this worker yet ...
        with ctx.transaction() as s:  # ... but the fence refuses its side effect
            s.add(
                CommunicationRow(
                    incident_id=ctx.incident_id,
                    kind="effect",
                    body=ctx.idempotency_key,
                    author=ctx.actor,
                    at=ctx.clock.now(),
                )
            )
            ctx.record_effect(s, ActionResult(output={"done": True}))
        return ActionResult(output={"done": True})

    def describe(self, ctx: ActionContext) -> str:
        return "act after a takeover"


def _effects(store: Store, incident_id: int) -> list[str]:
    with store.read() as s:
        return list(
            s.execute(
                select(CommunicationRow.body).where(CommunicationRow.incident_id == incident_id)
            ).scalars()
        )


def test_a_worker_whose_run_was_taken_mid_step_is_refused_and_stops(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    reg = registry()
    TakenOverMidStep.runs.clear()
    reg.register(TakenOverMidStep())
    inc = incident(store, clock)
    _, run_id = start(store, clock, "name: t\nsteps: [{id: a, action: taken_over}]", inc.id, reg)
    first = runner(store, clock, reg, worker="w1")
    with caplog.at_level(logging.WARNING, logger="airsoc.response"):
        assert first.run_until_idle() == [run_id]
    assert first.leases_lost == 1
    assert "worker w1 stopped on run" in caplog.text
    assert "held by w2" in caplog.text
    view = run_view(store, run_id)
    assert (view.status, view.claimed_by, view.steps[0].status) == ("running", "w2", "running")
    assert _effects(store, inc.id) == []  # refused: nothing was written
    clock.advance(timedelta(minutes=6))  # w2's claim was made inside the test; it lapses too
    assert runner(store, clock, reg, worker="w3").run_until_idle() == [run_id]
    assert run_view(store, run_id).status == "succeeded"
    assert _effects(store, inc.id) == [f"run-{run_id}/a"]


def test_a_stale_token_is_refused_by_every_check(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    inc = incident(store, clock)
    start(store, clock, "name: c\nsteps: [{id: a, action: count}]", inc.id, reg)
    held = RunLease(worker_id="w1", clock=clock, duration=timedelta(seconds=30)).claim(store)
    assert held is not None
    guard = held.guard()
    guard.check()  # still the run's token
    clock.advance(timedelta(minutes=1))
    taken = RunLease(worker_id="w2", clock=clock, duration=timedelta(seconds=30)).claim(store)
    assert taken is not None
    assert taken.token == held.token + 1
    with pytest.raises(LeaseLostError, match="held by w2 with token 2; w1 holds token 1"):
        guard.check()
    assert held.lost.is_set()
    assert guard.cancelled
    with pytest.raises(LeaseLostError), guard.transaction():
        pass  # pragma: no cover
    with pytest.raises(LeaseLostError):
        held.renew()
    with store.transaction() as s:
        taken.hold(s)  # the new holder acts freely
    assert taken.renew() is True


# --- the heartbeat ------------------------------------------------------------------------------


def test_a_heartbeat_keeps_the_lease_while_a_step_outlasts_it(store: Store) -> None:
    clock = SystemClock()
    reg = registry()
    inc = incident(store, clock)
    text = "name: long\nsteps: [{id: a, action: count, with: {sleep: 5}}]"
    _, run_id = start(store, clock, text, inc.id, reg)
    first = PlaybookRunner(
        store=store,
        clock=clock,
        registry=reg,
        worker_id="w1",
        services=ResponseServices(store=store, settings=store.settings),
        lease=timedelta(seconds=2),
    )
    worker = threading.Thread(target=first.run_until_idle)
    worker.start()
    rival = runner(store, clock, reg, worker="w2")
    claims: list[int | None] = []
    try:
        deadline = time.monotonic() + 60
        while run_view(store, run_id).claimed_by != "w1" and time.monotonic() < deadline:
            worker.join(timeout=0.02)
        while worker.is_alive():  # the rival tries to take the run for the whole long step
            claims.append(rival.run_once())
            worker.join(timeout=0.1)
    finally:
        worker.join(timeout=120)
    assert claims
    assert set(claims) == {None}
    view = run_view(store, run_id)
    assert (view.status, view.steps[0].attempts) == ("succeeded", 1)
    assert CountingAction.calls[f"run-{run_id}/a"] == 1


# --- cooperative step timeouts ------------------------------------------------------------------


class LateWriter(Action):
    """Its first attempt ignores the timeout; the retry wakes it, lets it try its write while
    the run is still held, then writes."""

    name = "late_writer"
    release: ClassVar[threading.Event] = threading.Event()
    late: ClassVar[list[BaseException | None]] = []
    late_done: ClassVar[threading.Event] = threading.Event()
    attempts: ClassVar[int] = 0

    class Params(BaseModel):
        pass

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        LateWriter.attempts += 1
        first = LateWriter.attempts == 1
        if first:
            self.release.wait(60)  # a blocking call that never looks at ctx.cancelled
        else:
            self.release.set()
            self.late_done.wait(60)
        try:
            with ctx.transaction() as s:
                s.add(
                    CommunicationRow(
                        incident_id=ctx.incident_id,
                        kind="effect",
                        body="attempt 1" if first else "attempt 2",
                        author=ctx.actor,
                        at=ctx.clock.now(),
                    )
                )
                ctx.record_effect(s, ActionResult(output={"first": first}))
        except BaseException as exc:
            if first:
                self.late.append(exc)
                self.late_done.set()
            raise
        if first:
            self.late.append(None)
            self.late_done.set()
        return ActionResult(output={"first": first})

    def describe(self, ctx: ActionContext) -> str:
        return "write, maybe late"


def test_a_timed_out_attempt_is_revoked_before_the_retry_and_its_late_write_refused(
    store: Store, clock: SimulatedClock
) -> None:
    reg = registry()
    LateWriter.release.clear()
    LateWriter.late_done.clear()
    LateWriter.late.clear()
    LateWriter.attempts = 0
    reg.register(LateWriter())
    inc = incident(store, clock)
    text = """
name: late
steps:
  - id: a
    action: late_writer
    timeout: 2s
    on_failure: {retry: {attempts: 2, backoff: 1s}}
"""
    _, run_id = start(store, clock, text, inc.id, reg)
    runner(store, clock, reg).run_until_idle()
    view = run_view(store, run_id)
    assert (view.status, view.steps[0].status, view.steps[0].attempts) == (
        "succeeded",
        "succeeded",
        2,
    )
    with store.read() as s:
        timeline = [e.action for e in list_entries(s, chain=incident_chain(inc.id))]
    assert "playbook.step_timed_out" in timeline
    assert LateWriter.late_done.is_set()  # the retry woke the abandoned attempt, which tried
    assert isinstance(LateWriter.late[0], StepCancelledError | LeaseLostError)
    assert _effects(store, inc.id) == ["attempt 2"]


class Cooperative(Action):
    """Waits through the context, so a timeout wakes it at once."""

    name = "cooperative"
    stopped: ClassVar[list[BaseException]] = []
    done: ClassVar[threading.Event] = threading.Event()

    class Params(BaseModel):
        pass

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        try:
            ctx.wait(120)
        except BaseException as exc:
            self.stopped.append(exc)
            raise
        finally:
            self.done.set()
        return ActionResult()

    def describe(self, ctx: ActionContext) -> str:
        return "wait for a long time"


def test_a_cooperative_action_is_woken_by_its_step_timeout(
    store: Store, clock: SimulatedClock
) -> None:
    reg = registry()
    Cooperative.stopped.clear()
    Cooperative.done.clear()
    reg.register(Cooperative())
    inc = incident(store, clock)
    text = "name: coop\nsteps: [{id: a, action: cooperative, timeout: 0.2s}]"
    _, run_id = start(store, clock, text, inc.id, reg)
    runner(store, clock, reg).run_until_idle()
    view = run_view(store, run_id)
    assert view.status == "failed"
    assert "cooperative did not finish within 0:00:00.200000" in (view.error or "")
    assert Cooperative.done.wait(60)  # long before its 120 s wait would have ended
    assert isinstance(Cooperative.stopped[0], StepCancelledError)
    assert "step timed out" in str(Cooperative.stopped[0])


def test_a_run_interrupted_by_a_store_error_resumes_at_the_next_round_under_its_token(
    sqlite_store: Store, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store refuses the step's result (locked past its busy timeout): the worker keeps the
    run and resumes it at once, not after its five-minute lease runs out."""
    from sqlalchemy.exc import OperationalError

    reg = registry()
    inc = incident(sqlite_store, clock)
    _, run_id = start(sqlite_store, clock, "name: c\nsteps: [{id: a, action: count}]", inc.id, reg)
    worker = runner(sqlite_store, clock, reg)
    close_step = PlaybookRunner._close_step
    refused: list[bool] = []

    def locked_once(self: PlaybookRunner, *args: object, **kwargs: object) -> None:
        if not refused:
            refused.append(True)
            raise OperationalError("UPDATE step_states", {}, Exception("database is locked"))
        close_step(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PlaybookRunner, "_close_step", locked_once)
    with pytest.raises(OperationalError):
        worker.run_until_idle()
    view = run_view(sqlite_store, run_id)
    assert (view.status, view.claimed_by) == ("running", "w1")
    # Another worker cannot take it: the lease is live. The same worker resumes it at once.
    other = RunLease(worker_id="w2", clock=clock, duration=timedelta(minutes=5))
    assert other.claim(sqlite_store) is None
    assert worker.run_until_idle() == [run_id]
    assert run_view(sqlite_store, run_id).status == "succeeded"
    # The action's effect was recorded before the refused write: the resumed run does not
    # repeat it.
    assert list(CountingAction.calls.values()) == [1]


def test_an_action_whose_result_the_store_refused_is_recorded_on_resume_not_repeated(
    sqlite_store: Store, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action acted, then the store refused its result: the resumed run stores the result
    this worker kept, and the action does not act a second time."""
    from sqlalchemy.exc import OperationalError

    from airsoc.response import execution

    reg = registry()
    inc = incident(sqlite_store, clock)
    _, run_id = start(sqlite_store, clock, "name: c\nsteps: [{id: a, action: count}]", inc.id, reg)
    worker = runner(sqlite_store, clock, reg)
    audit_run = execution.audit_run  # type: ignore[attr-defined]
    refused: list[bool] = []

    def locked_once(s: object, **kwargs: object) -> None:
        if kwargs.get("action") == "playbook.step_succeeded" and not refused:
            refused.append(True)
            raise OperationalError("INSERT action_effects", {}, Exception("database is locked"))
        audit_run(s, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(execution, "audit_run", locked_once)
    with pytest.raises(OperationalError):
        worker.run_until_idle()
    assert list(CountingAction.calls.values()) == [1]
    assert worker.run_until_idle() == [run_id]
    assert run_view(sqlite_store, run_id).status == "succeeded"
    assert list(CountingAction.calls.values()) == [1]
