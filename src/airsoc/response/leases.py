"""Claiming playbook runs and holding them under a lease, so workers never share a run.

A worker claims a runnable run with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (several
workers share one database without taking the same run; SQLite's write lock serialises claims)
and holds a lease on it. Every write the worker makes to the run renews the lease first, and
stops with :class:`LeaseLostError` when another worker took the run after the lease expired.

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

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.response.lifecycle import CLAIMABLE_RUN_STATUSES, RunStatus, move_run
from airsoc.response.models import PlaybookRunRow
from airsoc.store import Store

__all__ = ["LeaseLostError", "RunLease", "claim_run", "hold_run"]


class LeaseLostError(Exception):
    """The worker's lease on a run expired and another worker claimed it."""


def claim_run(store: Store, *, clock: Clock, worker_id: str, lease: timedelta) -> int | None:
    """Claim one runnable run for ``worker_id`` and return its id, or None when none is free.

    Runnable: pending or running (an interrupted run) with no live lease, or waiting for an
    approval whose timeout is due. A claimed run is ``running``.
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
        row.claimed_by = worker_id
        row.lease_until = now + lease
        row.updated_at = now
        return row.id


def hold_run(
    session: Session, *, run_id: int, worker_id: str, clock: Clock, lease: timedelta
) -> PlaybookRunRow:
    """Lock the run ``worker_id`` holds, renew its lease and return it.

    Raises :class:`LeaseLostError` when another worker holds the run now.
    """
    row = session.execute(
        select(PlaybookRunRow).where(PlaybookRunRow.id == run_id).with_for_update()
    ).scalar_one()
    if row.claimed_by != worker_id:
        raise LeaseLostError(f"run {run_id} is held by {row.claimed_by}")
    row.lease_until = clock.now() + lease
    row.updated_at = clock.now()
    return row


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

    def claim(self, store: Store) -> int | None:
        """Claim one runnable run (see :func:`claim_run`); return its id or None."""
        return claim_run(store, clock=self.clock, worker_id=self.worker_id, lease=self.duration)

    def hold(self, session: Session, run_id: int) -> PlaybookRunRow:
        """Lock the run, renew the lease and return it (see :func:`hold_run`)."""
        return hold_run(
            session, run_id=run_id, worker_id=self.worker_id, clock=self.clock, lease=self.duration
        )
