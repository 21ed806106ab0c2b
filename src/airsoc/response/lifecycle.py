"""The playbook run lifecycle as data: run statuses and the one transitions table.

A run is queued ``pending``; a worker claims it (``running``); a step that needs approval parks
it (``waiting_approval``) until a decision makes it ``pending`` again, or its timeout comes due and
a worker claims it back. A run ends ``succeeded``, ``failed``, ``compensated``, ``rejected`` or
``aborted``. Every legal move is a row of :data:`TRANSITIONS`; :func:`move_run` is the one place
that changes a run's status, and it refuses any other move, naming the legal ones.

Example:
    >>> legal_targets(RunStatus.RUNNING)
    ['waiting_approval', 'succeeded', 'failed', 'compensated', 'rejected', 'aborted']
    >>> check_run_transition(RunStatus.SUCCEEDED, RunStatus.RUNNING)
    Traceback (most recent call last):
    ...
    airsoc.errors.IllegalTransitionError: cannot move a run from succeeded to running; legal ...
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from airsoc.errors import IllegalTransitionError
from airsoc.response.models import PlaybookRunRow

__all__ = [
    "CLAIMABLE_RUN_STATUSES",
    "DONE_STEP_STATUSES",
    "FINAL_RUN_STATUSES",
    "TRANSITIONS",
    "RunStatus",
    "StepStatus",
    "check_run_transition",
    "legal_targets",
    "move_run",
]


class RunStatus(StrEnum):
    """Where a playbook run stands."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COMPENSATED = "compensated"
    REJECTED = "rejected"
    ABORTED = "aborted"


class StepStatus(StrEnum):
    """Where one step (or one ``foreach`` item) of a run stands."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: The last attempt timed out and was cancelled; a retry (or the step's failure) follows.
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    COMPENSATED = "compensated"
    REJECTED = "rejected"


#: Step statuses a resumed run does not run again.
DONE_STEP_STATUSES = frozenset(
    {
        StepStatus.SUCCEEDED,
        StepStatus.SKIPPED,
        StepStatus.FAILED,
        StepStatus.COMPENSATED,
        StepStatus.REJECTED,
    }
)

#: (from, to): why the move exists. The only source of truth for what is legal.
TRANSITIONS: dict[tuple[RunStatus, RunStatus], str] = {
    (RunStatus.PENDING, RunStatus.RUNNING): "a worker claimed the run",
    (RunStatus.WAITING_APPROVAL, RunStatus.RUNNING): "the approval's timeout came due",
    (RunStatus.WAITING_APPROVAL, RunStatus.PENDING): "the approval was decided",
    (RunStatus.RUNNING, RunStatus.WAITING_APPROVAL): "a step waits for approval",
    (RunStatus.RUNNING, RunStatus.SUCCEEDED): "every step is done",
    (RunStatus.RUNNING, RunStatus.FAILED): "a step failed and the playbook stops",
    (RunStatus.RUNNING, RunStatus.COMPENSATED): "a step failed; the completed steps were undone",
    (RunStatus.RUNNING, RunStatus.REJECTED): "an approver rejected a step",
    (RunStatus.RUNNING, RunStatus.ABORTED): "an approval timed out with on_timeout: abort",
}

#: Statuses a run never leaves.
FINAL_RUN_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.ABORTED,
        RunStatus.REJECTED,
        RunStatus.COMPENSATED,
    }
)

#: Statuses a worker may claim a run in (``waiting_approval`` only once its timeout is due).
CLAIMABLE_RUN_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING})


def legal_targets(status: RunStatus) -> list[str]:
    """Return the statuses a run in ``status`` may move to, in table order.

    >>> legal_targets(RunStatus.FAILED)
    []
    """
    return [dst.value for (src, dst) in TRANSITIONS if src == status]


def check_run_transition(src: RunStatus, dst: RunStatus) -> str:
    """Return why ``src -> dst`` is legal, or raise naming the legal moves.

    >>> check_run_transition(RunStatus.PENDING, RunStatus.RUNNING)
    'a worker claimed the run'
    """
    why = TRANSITIONS.get((src, dst))
    if why is None:
        legal = ", ".join(legal_targets(src)) or "none (final status)"
        raise IllegalTransitionError(
            f"cannot move a run from {src.value} to {dst.value}; "
            f"legal moves from {src.value}: {legal}"
        )
    return why


def move_run(run: PlaybookRunRow, to: RunStatus, *, at: datetime, error: str | None = None) -> str:
    """Move ``run`` to ``to`` at ``at`` and return why the move is legal; raise if it is not.

    Any status but ``running`` releases the worker's claim and lease. ``error`` is stored when
    given (why the run failed, was rejected or aborted).

    >>> from airsoc.clock import SimulatedClock
    >>> run = PlaybookRunRow(status="running", claimed_by="w1")
    >>> move_run(run, RunStatus.WAITING_APPROVAL, at=SimulatedClock().now())
    'a step waits for approval'
    >>> run.status, run.claimed_by
    ('waiting_approval', None)
    >>> move_run(run, RunStatus.SUCCEEDED, at=SimulatedClock().now())
    Traceback (most recent call last):
    ...
    airsoc.errors.IllegalTransitionError: cannot move a run from waiting_approval to succeeded; ...
    """
    why = check_run_transition(RunStatus(run.status), to)
    run.status = to.value
    run.updated_at = at
    if error is not None:
        run.error = error
    if to is not RunStatus.RUNNING:
        run.claimed_by = None
        run.lease_until = None
    return why
