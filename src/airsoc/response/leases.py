"""Claiming playbook runs and holding them under a fenced lease, so workers never share a run.

A worker claims a runnable run with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (several
workers share one database without taking the same run; SQLite's write lock serialises claims).
Each claim raises the run's **fencing token** and hands it to the worker in a :class:`HeldRun`.
While the worker advances the run:

- a :meth:`HeldRun.heartbeat` thread renews the lease every third of its duration, also while a
  long step runs, so a live worker keeps its run;
- every write the worker makes to the run (a step marked running, its result, a failure, the end
  of the run) locks the run's row and checks that the token is still the run's, in the same
  transaction; so does every store change an action makes through its context
  (:class:`StepGuard`). A worker whose lease expired and was claimed by another worker holds a
  stale token: it gets :class:`LeaseLostError`, acts no more, and logs it;
- a step attempt that timed out is *revoked*: the token is raised again before anything else
  happens, so the abandoned attempt's thread can no longer act, and its guard reads cancelled.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> lease = RunLease(worker_id="w1", clock=SimulatedClock(), duration=timedelta(minutes=5))
    >>> lease.claim(store) is None
    True
    >>> store.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.response.lifecycle import CLAIMABLE_RUN_STATUSES, RunStatus, move_run
from airsoc.response.models import PlaybookRunRow
from airsoc.store import Store

__all__ = [
    "HeldRun",
    "LeaseLostError",
    "RunLease",
    "StepCancelledError",
    "StepGuard",
    "claim_run",
]

log = logging.getLogger(__name__)


class LeaseLostError(Exception):
    """The worker no longer holds the run: its fencing token was superseded.

    Another worker claimed the run after this worker's lease expired, or the attempt that asks
    was revoked after it timed out. The worker must not act on the run any more.
    """


class StepCancelledError(Exception):
    """The step attempt was cancelled (it timed out, or its worker lost the run); stop acting."""


def claim_run(store: Store, *, clock: Clock, worker_id: str, lease: timedelta) -> HeldRun | None:
    """Claim one runnable run for ``worker_id``; return the hold on it, or None when none is free.

    Runnable: pending or running (an interrupted run) with no live lease, or waiting for an
    approval whose timeout is due. A claimed run is ``running`` and its fencing token is raised.
    """
    now = clock.now()
    free = or_(PlaybookRunRow.lease_until.is_(None), PlaybookRunRow.lease_until < now)
    runnable = or_(
        PlaybookRunRow.status.in_([s.value for s in CLAIMABLE_RUN_STATUSES]),
        and_(
            PlaybookRunRow.status == RunStatus.WAITING_APPROVAL.value,
            PlaybookRunRow.wake_at.is_not(None),
            PlaybookRunRow.wake_at <= now,
        ),
    )
    with store.transaction() as s:
        row = s.execute(
            select(PlaybookRunRow)
            .where(runnable, free)
            .order_by(PlaybookRunRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if row is None:
            return None
        if row.status != RunStatus.RUNNING:
            move_run(row, RunStatus.RUNNING, at=now)
        previous = row.claimed_by
        row.claimed_by = worker_id
        row.lease_until = now + lease
        row.updated_at = now
        row.fence = (row.fence or 0) + 1
        token = row.fence
        run_id = row.id
    if previous is not None and previous != worker_id:
        log.info(
            "worker %s took over run %s from %s (token %s)", worker_id, run_id, previous, token
        )
    return HeldRun(
        store=store,
        run_id=run_id,
        worker_id=worker_id,
        token=token,
        clock=clock,
        duration=lease,
    )


class HeldRun:
    """One worker's fenced hold on one claimed run: its token, its heartbeat, its checks.

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.response.playbooks import parse_playbook
    >>> from airsoc.response.runs import start_run
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> playbook = parse_playbook("name: p\\nsteps: [{id: t, action: open_task, with: {title: x}}]")
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="a", system="fraud",
    ...                            failure_mode="data_poisoning", summary="flips")
    ...     run = start_run(s, clock=clock, incident_id=inc.id, started_by="a", playbook=playbook)
    >>> first = RunLease(worker_id="w1", clock=clock, duration=timedelta(seconds=30)).claim(store)
    >>> first.token
    1
    >>> clock.advance(timedelta(minutes=1))  # w1 stalls past its lease; w2 takes the run over
    >>> second = RunLease(worker_id="w2", clock=clock, duration=timedelta(seconds=30)).claim(store)
    >>> second.token
    2
    >>> first.check()
    Traceback (most recent call last):
    ...
    airsoc.response.leases.LeaseLostError: run 1 is held by w2 with token 2; w1 holds token 1
    >>> store.close()
    """

    def __init__(
        self,
        *,
        store: Store,
        run_id: int,
        worker_id: str,
        token: int,
        clock: Clock,
        duration: timedelta,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.worker_id = worker_id
        self.token = token
        self.clock = clock
        self.duration = duration
        #: Set once the worker learns it lost the run (a heartbeat or a check found out).
        self.lost = threading.Event()
        self.lost_reason = ""
        self._lock = threading.Lock()
        self._guards: list[StepGuard] = []
        #: Results of actions that completed while their result could not be stored (the store
        #: refused the write), by idempotency key: a resumed run records them instead of acting
        #: a second time.
        self.unrecorded: dict[str, dict[str, object]] = {}

    # --- checks -----------------------------------------------------------------------------

    def _verify(self, row: PlaybookRunRow, token: int) -> None:
        if row.claimed_by != self.worker_id or row.fence != token:
            if row.claimed_by == self.worker_id and token < row.fence == self.token:
                message = f"run {self.run_id}: the attempt with token {token} was revoked"
            else:
                message = (
                    f"run {self.run_id} is held by {row.claimed_by} with token {row.fence}; "
                    f"{self.worker_id} holds token {token}"
                )
            error = LeaseLostError(message)
            if token == self.token:
                self._lose(str(error))
            raise error

    def lock(self, session: Session, *, token: int | None = None) -> PlaybookRunRow:
        """Lock the run's row in ``session`` and return it, if ``token`` is still the run's.

        ``token`` defaults to the hold's current token. Raises :class:`LeaseLostError` otherwise.
        """
        row = session.execute(
            select(PlaybookRunRow).where(PlaybookRunRow.id == self.run_id).with_for_update()
        ).scalar_one()
        self._verify(row, self.token if token is None else token)
        return row

    def hold(self, session: Session) -> PlaybookRunRow:
        """Lock the run, check the token, renew the lease and return the row.

        Raises :class:`LeaseLostError` when another worker holds the run now.
        """
        row = self.lock(session)
        now = self.clock.now()
        row.lease_until = now + self.duration
        row.updated_at = now
        return row

    def check(self, *, token: int | None = None) -> None:
        """Raise :class:`LeaseLostError` unless ``token`` (default: the current) is the run's."""
        with self.store.read() as s:
            row = s.get(PlaybookRunRow, self.run_id)
            if row is None:
                raise LeaseLostError(f"run {self.run_id} no longer exists")
            self._verify(row, self.token if token is None else token)

    def renew(self) -> bool:
        """Extend the lease by its duration from now; return False when the run has ended.

        Raises :class:`LeaseLostError` when another worker holds the run now.
        """
        with self.store.transaction() as s:
            result = s.execute(
                update(PlaybookRunRow)
                .where(
                    PlaybookRunRow.id == self.run_id,
                    PlaybookRunRow.claimed_by == self.worker_id,
                    PlaybookRunRow.fence == self.token,
                )
                .values(lease_until=self.clock.now() + self.duration)
                .execution_options(synchronize_session=False)
            )
            renewed = int(getattr(result, "rowcount", 0))
        if renewed:
            return True
        with self.store.read() as s:
            row = s.get(PlaybookRunRow, self.run_id)
            if row is not None and row.fence == self.token and row.status != RunStatus.RUNNING:
                return False  # this worker ended the run (or parked it): nothing to renew
        self.check()  # raises, naming who holds the run now
        return True  # the worker raised its own token meanwhile (a revoke); the next beat renews

    def revoke(self, session: Session) -> int:
        """Raise the run's token in ``session`` (the run stays held); return the new token.

        Called when an attempt timed out: whatever its thread still does is refused from now on.
        """
        row = self.lock(session)
        row.fence += 1
        self.token = row.fence
        return self.token

    def _lose(self, reason: str) -> None:
        if self.lost.is_set():
            return
        self.lost_reason = reason
        self.lost.set()
        log.warning("worker %s lost run %s: %s", self.worker_id, self.run_id, reason)
        with self._lock:
            guards = list(self._guards)
        for guard in guards:
            guard.cancel(f"the lease was lost: {reason}")

    # --- step attempts ----------------------------------------------------------------------

    def guard(self) -> StepGuard:
        """Return a guard for one step attempt, bound to the current token."""
        guard = StepGuard(held=self, token=self.token)
        with self._lock:
            self._guards = [g for g in self._guards if not g.cancelled] + [guard]
        if self.lost.is_set():
            guard.cancel("the lease was lost")
        return guard

    # --- heartbeat --------------------------------------------------------------------------

    @contextmanager
    def heartbeat(self, interval: float | None = None) -> Iterator[None]:
        """Renew the lease in a background thread every ``interval`` seconds while inside.

        ``interval`` defaults to a third of the lease, so two beats may be missed before it
        expires. A lost lease stops the heartbeat, cancels the running attempt's guard and is
        logged; a failing renewal (the store busy or away) is logged and tried again.
        """
        every = interval if interval is not None else self.duration.total_seconds() / 3
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                try:
                    if not self.renew():
                        return
                except LeaseLostError as exc:
                    self._lose(str(exc))
                    return
                except Exception:  # the store is busy or away: the next beat tries again
                    log.exception("worker %s could not renew run %s", self.worker_id, self.run_id)

        thread = threading.Thread(
            target=beat, name=f"lease-{self.worker_id}-{self.run_id}", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


class StepGuard:
    """What one step attempt acts under: its run's fencing token and a cancellation flag.

    An action reaches it through its context (``ctx.check()``, ``ctx.cancelled``,
    ``ctx.sleep()`` and the fenced ``ctx.transaction()``).

    >>> guard = StepGuard(held=None, token=0)
    >>> guard.cancelled, guard.wait(0.01)
    (False, False)
    >>> guard.cancel("timed out")
    >>> guard.check()
    Traceback (most recent call last):
    ...
    airsoc.response.leases.StepCancelledError: timed out
    """

    def __init__(self, *, held: HeldRun | None, token: int) -> None:
        self.held = held
        self.token = token
        self.reason = ""
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        """Return True once the attempt was cancelled (timed out, or the lease was lost)."""
        return self._cancelled.is_set()

    def cancel(self, reason: str) -> None:
        """Cancel the attempt; its next check raises :class:`StepCancelledError`."""
        if not self._cancelled.is_set():
            self.reason = reason
            self._cancelled.set()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; return True early when the attempt is cancelled."""
        return self._cancelled.wait(seconds)

    def check(self) -> None:
        """Raise unless the attempt may still act: not cancelled and its token still current."""
        self._refuse_if_stopped()
        if self.held is not None:
            self.held.check(token=self.token)

    def _refuse_if_stopped(self) -> None:
        if self.held is not None and self.held.lost.is_set():
            raise LeaseLostError(self.held.lost_reason)
        if self._cancelled.is_set():
            raise StepCancelledError(self.reason)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a transaction that first locks the run and checks the token, then commits."""
        if self.held is None:
            raise StepCancelledError("this guard holds no run")
        with self.held.store.transaction() as s:
            self._refuse_if_stopped()
            self.held.lock(s, token=self.token)
            yield s


@dataclass(frozen=True)
class RunLease:
    """One worker's lease terms: who holds runs, on which clock, for how long per renewal.

    >>> from airsoc.clock import SimulatedClock
    >>> RunLease(worker_id="w1", clock=SimulatedClock(), duration=timedelta(minutes=5)).worker_id
    'w1'
    """

    worker_id: str
    clock: Clock
    duration: timedelta

    def claim(self, store: Store) -> HeldRun | None:
        """Claim one runnable run (see :func:`claim_run`); return the hold on it, or None."""
        return claim_run(store, clock=self.clock, worker_id=self.worker_id, lease=self.duration)
