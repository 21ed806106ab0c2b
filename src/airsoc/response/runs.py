"""The playbook run record: queue a run, read runs and their steps, and the stored step states.

A run is stored with its playbook frozen at start; a worker (:mod:`airsoc.response.runner`)
advances it. Each step (and each ``foreach`` item of a step) has one stored state with its
idempotency key, so a resumed run never repeats a side effect.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.response.playbooks import parse_playbook
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="alice", system="fraud",
    ...                            failure_mode="data_poisoning", summary="vendor batch flips")
    ...     run = start_run(s, clock=clock, incident_id=inc.id, started_by="alice",
    ...                     playbook=parse_playbook(
    ...                         "name: p\\nsteps: [{id: contain, action: open_task,"
    ...                         " with: {title: roll back}}]"))
    >>> with store.read() as s:
    ...     [(r.playbook, r.status) for r in list_runs(s, incident_id=inc.id)]
    [('p', 'pending')]
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import NotFoundError
from airsoc.incidents.service import get_incident, incident_chain
from airsoc.response.lifecycle import RunStatus, StepStatus
from airsoc.response.models import PlaybookRunRow, StepStateRow
from airsoc.response.playbooks import Playbook, Step

__all__ = [
    "WHOLE_STEP",
    "RunView",
    "StepView",
    "audit_run",
    "get_run",
    "list_runs",
    "start_run",
    "step_state",
]

#: The ``item_index`` of the state that stands for a whole step (``foreach`` items count from 0).
WHOLE_STEP = -1


class StepView(BaseModel):
    """The stored state of one step (or one ``foreach`` item).

    >>> sorted(StepView.model_fields)[:3]
    ['action', 'attempts', 'error']
    """

    model_config = ConfigDict(from_attributes=True)

    id: int
    step_id: str
    position: int
    item_index: int
    action: str
    status: str
    attempts: int
    idempotency_key: str
    params: dict[str, Any]
    output: dict[str, Any]
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RunView(BaseModel):
    """A playbook run with its steps.

    >>> "status" in RunView.model_fields
    True
    """

    id: int
    playbook: str
    incident_id: int
    status: str
    started_by: str
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    error: str | None
    outputs: dict[str, Any]
    steps: list[StepView]


def _view(session: Session, row: PlaybookRunRow) -> RunView:
    steps = session.execute(
        select(StepStateRow)
        .where(StepStateRow.run_id == row.id)
        .order_by(StepStateRow.position, StepStateRow.item_index)
    ).scalars()
    return RunView(
        id=row.id,
        playbook=row.playbook,
        incident_id=row.incident_id,
        status=row.status,
        started_by=row.started_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        claimed_by=row.claimed_by,
        error=row.error,
        outputs=dict(row.outputs),
        steps=[StepView.model_validate(s) for s in steps],
    )


def start_run(
    session: Session,
    *,
    clock: Clock,
    playbook: Playbook,
    incident_id: int,
    started_by: str,
    reason: str = "",
) -> RunView:
    """Queue a run of ``playbook`` on the incident and return it; a worker picks it up."""
    get_incident(session, incident_id=incident_id)  # raises NotFoundError for a bad id
    now = clock.now()
    row = PlaybookRunRow(
        playbook=playbook.name,
        definition=playbook.model_dump(mode="json", by_alias=True),
        incident_id=incident_id,
        status=RunStatus.PENDING.value,
        started_by=started_by,
        created_at=now,
        updated_at=now,
        outputs={},
    )
    session.add(row)
    session.flush()
    audit_run(
        session,
        clock=clock,
        incident_id=incident_id,
        action="playbook.started",
        reason=reason or f"run {row.id} of playbook {playbook.name}",
        data={"run": row.id, "playbook": playbook.name},
        actor=started_by,
    )
    return _view(session, row)


def get_run(session: Session, *, run_id: int) -> RunView:
    """Return the run with its steps; raise :class:`NotFoundError` for an unknown id."""
    row = session.get(PlaybookRunRow, run_id)
    if row is None:
        raise NotFoundError(f"playbook run {run_id} not found")
    return _view(session, row)


def list_runs(
    session: Session, *, incident_id: int | None = None, status: str | None = None
) -> list[RunView]:
    """Return runs, newest first, of one incident and in one status when given."""
    query = select(PlaybookRunRow).order_by(PlaybookRunRow.id.desc())
    if incident_id is not None:
        query = query.where(PlaybookRunRow.incident_id == incident_id)
    if status:
        query = query.where(PlaybookRunRow.status == status)
    return [_view(session, r) for r in session.execute(query).scalars()]


def step_state(
    session: Session, *, run_id: int, step: Step, position: int, item: int
) -> StepStateRow:
    """Return the stored state of a step (or of one of its items), created ``pending`` if new.

    The idempotency key is fixed when the state is created: ``run-<id>/<step>[/<item>]``.
    """
    row = session.execute(
        select(StepStateRow).where(
            StepStateRow.run_id == run_id,
            StepStateRow.step_id == step.id,
            StepStateRow.item_index == item,
        )
    ).scalar_one_or_none()
    if row is None:
        key = f"run-{run_id}/{step.id}" + (f"/{item}" if item != WHOLE_STEP else "")
        row = StepStateRow(
            run_id=run_id,
            step_id=step.id,
            position=position,
            item_index=item,
            action=step.action,
            status=StepStatus.PENDING.value,
            attempts=0,
            idempotency_key=key,
            params={},
            output={},
        )
        session.add(row)
        session.flush()
    return row


def audit_run(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    action: str,
    reason: str,
    data: dict[str, Any],
    actor: str | None = None,
) -> None:
    """Write a run's event on its incident's timeline; the actor defaults to the run itself."""
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor or f"playbook:{data.get('run')}",
        action=action,
        reason=reason,
        data=data,
    )
