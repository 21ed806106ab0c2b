"""The durable playbook runner.

A run is stored with its playbook frozen at start. A worker *claims* a runnable run (``SELECT ...
FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share one database without taking the
same run; SQLite's write lock serialises claims) and holds a lease on it. Every step is written to
the store **before** it runs (``running``, attempt count, rendered parameters) and **after**
(``succeeded`` with its output, or ``failed`` with the error), each time with an entry on the
incident's audit timeline.

Resuming after a crash: a worker whose lease expired loses the run; the next worker skips every
step stored as done, and re-runs an interrupted step with the *same* idempotency key. Actions
that change the store record their effect in the same transaction (exactly once); external
systems receive the key and ignore a repeat; and an effect recorded before the crash is reused.

Example:
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.response.actions import ResponseServices
    >>> from airsoc.response.playbooks import parse_playbook
    >>> settings = Settings.resolve(data_dir=tempfile.mkdtemp(), environ={})
    >>> store, clock = Store.open(settings), SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="alice", system="fraud",
    ...                            failure_mode="data_poisoning", summary="vendor batch flips")
    ...     run = start_run(s, clock=clock, incident_id=inc.id, started_by="alice",
    ...                     playbook=parse_playbook(
    ...                         "name: p\\nsteps: [{id: contain, action: open_task,"
    ...                         " with: {title: roll back}}]"))
    >>> runner = PlaybookRunner(store=store, clock=clock, worker_id="w1",
    ...     services=ResponseServices(store=store, settings=settings))
    >>> runner.run_until_idle()
    [1]
    >>> with store.read() as s:
    ...     r = get_run(s, run_id=run.id)
    >>> r.status, [(st.step_id, st.status) for st in r.steps]
    ('succeeded', [('contain', 'succeeded')])
    >>> store.close()
"""

from __future__ import annotations

import concurrent.futures
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ActionError, AirsocError, NotFoundError
from airsoc.incidents.service import get_incident, incident_chain
from airsoc.response.actions import (
    Action,
    ActionContext,
    ActionRegistry,
    ActionResult,
    ResponseServices,
)
from airsoc.response.conditions import plain_data
from airsoc.response.models import ActionEffectRow, ApprovalRow, PlaybookRunRow, StepStateRow
from airsoc.response.playbooks import Playbook, Step
from airsoc.response.steps import StepFailedError, condition_holds, foreach_items, render_params
from airsoc.store import Store

__all__ = [
    "FINAL_RUN_STATUSES",
    "PlaybookRunner",
    "RunView",
    "StepView",
    "get_run",
    "list_runs",
    "start_run",
]

FINAL_RUN_STATUSES = frozenset({"succeeded", "failed", "aborted", "rejected", "compensated"})
_DONE_STEP = frozenset({"succeeded", "skipped", "failed", "compensated", "rejected"})
_STEP = -1  # item_index of the row that stands for the whole step


class StepView(BaseModel):
    """The stored state of one step (or one ``foreach`` item)."""

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
    """A playbook run with its steps."""

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
    """Queue a run of ``playbook`` on the incident; a worker picks it up."""
    get_incident(session, incident_id=incident_id)  # raises NotFoundError for a bad id
    now = clock.now()
    row = PlaybookRunRow(
        playbook=playbook.name,
        definition=playbook.model_dump(mode="json", by_alias=True),
        incident_id=incident_id,
        status="pending",
        started_by=started_by,
        created_at=now,
        updated_at=now,
        outputs={},
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=started_by,
        action="playbook.started",
        reason=reason or f"run {row.id} of playbook {playbook.name}",
        data={"run": row.id, "playbook": playbook.name},
    )
    return _view(session, row)


def get_run(session: Session, *, run_id: int) -> RunView:
    """Return the run with its steps."""
    row = session.get(PlaybookRunRow, run_id)
    if row is None:
        raise NotFoundError(f"playbook run {run_id} not found")
    return _view(session, row)


def list_runs(
    session: Session, *, incident_id: int | None = None, status: str | None = None
) -> list[RunView]:
    """Return runs, newest first."""
    query = select(PlaybookRunRow).order_by(PlaybookRunRow.id.desc())
    if incident_id is not None:
        query = query.where(PlaybookRunRow.incident_id == incident_id)
    if status:
        query = query.where(PlaybookRunRow.status == status)
    return [_view(session, r) for r in session.execute(query).scalars()]


class _StopRunError(Exception):
    """The run stops here for now (waiting for approval, or the lease was lost)."""


class PlaybookRunner:
    """A worker: claims runnable runs and advances them step by step, durably."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        services: ResponseServices,
        worker_id: str,
        registry: ActionRegistry | None = None,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.store = store
        self.clock = clock
        self.services = services
        self.worker_id = worker_id
        self.registry = registry or ActionRegistry.default()
        self.lease = lease

    # --- claiming ------------------------------------------------------------------------------

    def claim(self) -> int | None:
        """Claim one runnable run (row-locked, skipping runs other workers hold); return its id."""
        now = self.clock.now()
        free = or_(PlaybookRunRow.lease_until.is_(None), PlaybookRunRow.lease_until < now)
        runnable = or_(
            PlaybookRunRow.status.in_(["pending", "running"]),
            and_(
                PlaybookRunRow.status == "waiting_approval",
                PlaybookRunRow.wake_at.is_not(None),
                PlaybookRunRow.wake_at <= now,
            ),
        )
        with self.store.transaction() as s:
            row = s.execute(
                select(PlaybookRunRow)
                .where(runnable, free)
                .order_by(PlaybookRunRow.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if row is None:
                return None
            row.claimed_by = self.worker_id
            row.lease_until = now + self.lease
            if row.status == "pending":
                row.status = "running"
            row.updated_at = now
            return row.id

    def run_once(self) -> int | None:
        """Claim and advance one run; return its id, or None when nothing is runnable."""
        run_id = self.claim()
        if run_id is not None:
            self.advance(run_id)
        return run_id

    def run_until_idle(self, *, limit: int = 10_000) -> list[int]:
        """Advance runs until none is runnable; return the ids advanced, in order."""
        done: list[int] = []
        while len(done) < limit:
            run_id = self.run_once()
            if run_id is None:
                break
            done.append(run_id)
        return done

    # --- advancing -----------------------------------------------------------------------------

    def advance(self, run_id: int) -> str:
        """Carry a claimed run as far as it goes; return its status afterwards."""
        with self.store.read() as s:
            row = s.get(PlaybookRunRow, run_id)
            if row is None:
                raise NotFoundError(f"playbook run {run_id} not found")
            playbook = Playbook.model_validate(row.definition)
            started_by = row.started_by
            incident_id = row.incident_id
        try:
            for position, step in enumerate(playbook.steps):
                self._step(run_id, incident_id, started_by, position, step)
        except _StopRunError:
            return self._status(run_id)
        except StepFailedError as exc:
            return self._finish(run_id, incident_id, "failed", exc.message)
        return self._finish(run_id, incident_id, "succeeded", None)

    def _status(self, run_id: int) -> str:
        with self.store.read() as s:
            row = s.get(PlaybookRunRow, run_id)
            assert row is not None
            return row.status

    def _context(self, run_id: int, incident_id: int, started_by: str) -> dict[str, Any]:
        with self.store.read() as s:
            incident = get_incident(s, incident_id=incident_id)
            row = s.get(PlaybookRunRow, run_id)
            assert row is not None
            outputs = dict(row.outputs)
        data = incident.model_dump(mode="json", exclude={"timeline", "notes", "role_history"})
        return {
            "incident": data,
            "steps": outputs,
            "run": {"id": run_id, "started_by": started_by},
        }

    def _locked_run(self, s: Session, run_id: int) -> PlaybookRunRow:
        row = s.execute(
            select(PlaybookRunRow).where(PlaybookRunRow.id == run_id).with_for_update()
        ).scalar_one()
        if row.claimed_by != self.worker_id:
            raise _StopRunError()  # our lease expired and another worker took the run
        row.lease_until = self.clock.now() + self.lease
        row.updated_at = self.clock.now()
        return row

    def _audit(
        self,
        s: Session,
        incident_id: int,
        action: str,
        reason: str,
        data: dict[str, Any],
        actor: str | None = None,
    ) -> None:
        append_entry(
            s,
            clock=self.clock,
            chain=incident_chain(incident_id),
            actor=actor or f"playbook:{data.get('run')}",
            action=action,
            reason=reason,
            data=data,
        )

    def _state(self, s: Session, run_id: int, step: Step, position: int, item: int) -> StepStateRow:
        row = s.execute(
            select(StepStateRow).where(
                StepStateRow.run_id == run_id,
                StepStateRow.step_id == step.id,
                StepStateRow.item_index == item,
            )
        ).scalar_one_or_none()
        if row is None:
            key = f"run-{run_id}/{step.id}" + (f"/{item}" if item != _STEP else "")
            row = StepStateRow(
                run_id=run_id,
                step_id=step.id,
                position=position,
                item_index=item,
                action=step.action,
                status="pending",
                attempts=0,
                idempotency_key=key,
                params={},
                output={},
            )
            s.add(row)
            s.flush()
        return row

    def _step(
        self, run_id: int, incident_id: int, started_by: str, position: int, step: Step
    ) -> None:
        with self.store.read() as s:
            existing = s.execute(
                select(StepStateRow.status).where(
                    StepStateRow.run_id == run_id,
                    StepStateRow.step_id == step.id,
                    StepStateRow.item_index == _STEP,
                )
            ).scalar_one_or_none()
        if existing in _DONE_STEP:
            return
        ctx = self._context(run_id, incident_id, started_by)
        if step.when and not step.foreach and not condition_holds(step.when, ctx, step):
            self._close_step(
                run_id,
                incident_id,
                step,
                position,
                "skipped",
                {},
                None,
                f"condition false: {step.when}",
            )
            return
        if step.approval is not None and not self._approved(
            run_id, incident_id, started_by, step, position, ctx
        ):
            return
        action = self._action(step)
        if step.foreach:
            items = foreach_items(step, ctx)
            outputs: list[dict[str, Any]] = []
            failures: list[str] = []
            for index, item in enumerate(items):
                item_ctx = {**ctx, "item": item, "index": index}
                if step.when and not condition_holds(step.when, item_ctx, step):
                    continue
                try:
                    outputs.append(
                        self._unit(run_id, incident_id, step, position, index, action, item_ctx)
                    )
                except StepFailedError as exc:
                    failures.append(exc.message)
                    if step.on_failure.then != "continue":
                        break
            output: dict[str, Any] = {"items": outputs, "count": len(outputs)}
            if failures:
                self._failed(run_id, incident_id, step, position, failures[0], output)
                return
        else:
            try:
                output = self._unit(run_id, incident_id, step, position, _STEP, action, ctx)
            except StepFailedError as exc:
                self._failed(run_id, incident_id, step, position, exc.message, {})
                return
        self._close_step(
            run_id, incident_id, step, position, "succeeded", output, None, f"{step.id} done"
        )

    def _action(self, step: Step) -> Action:
        try:
            return self.registry.get(step.action)
        except AirsocError as exc:
            raise StepFailedError(f"step {step.id}: {exc.message}") from None

    def _unit(
        self,
        run_id: int,
        incident_id: int,
        step: Step,
        position: int,
        item: int,
        action: Action,
        ctx: dict[str, Any],
    ) -> dict[str, Any]:
        retry = step.on_failure.retry
        attempts = retry.attempts if retry else 1
        delay = retry.backoff.total_seconds() if retry else 0.0
        while True:
            # Before: the step is marked running (and its attempt counted) in the store.
            with self.store.transaction() as s:
                self._locked_run(s, run_id)
                state = self._state(s, run_id, step, position, item)
                if state.status == "succeeded":
                    return dict(state.output)
                key = state.idempotency_key
                effect = s.get(ActionEffectRow, key)
                if effect is None:
                    params = render_params(step, action, ctx)
                    state.status = "running"
                    state.attempts += 1
                    state.started_at = self.clock.now()
                    state.params = plain_data(params.model_dump(mode="json"))
                    attempt = state.attempts
                    self._audit(
                        s,
                        incident_id,
                        "playbook.step_started",
                        f"{step.action} (attempt {attempt})",
                        {"run": run_id, "step": step.id, "item": item, "key": key},
                    )
            if effect is not None:
                result = ActionResult.model_validate(effect.result)
            else:
                context = ActionContext(
                    action=action.name,
                    params=params,
                    incident=ctx["incident"],
                    run_id=run_id,
                    step_id=step.id,
                    idempotency_key=key,
                    actor=f"playbook:{run_id}",
                    clock=self.clock,
                    services=self.services,
                )
                try:
                    result = self._execute(action, context, step)
                except _StopRunError:
                    raise
                except Exception as exc:
                    message = exc.message if isinstance(exc, AirsocError) else f"{exc!r}"
                    with self.store.transaction() as s:
                        self._locked_run(s, run_id)
                        state = self._state(s, run_id, step, position, item)
                        state.status = "failed"
                        state.error = message
                        state.finished_at = self.clock.now()
                        self._audit(
                            s,
                            incident_id,
                            "playbook.step_failed",
                            message,
                            {"run": run_id, "step": step.id, "item": item, "attempt": attempt},
                        )
                    if attempt < attempts:
                        self.clock.sleep(delay)
                        delay *= 2
                        continue
                    raise StepFailedError(f"step {step.id}: {message}") from None
            # After: the output and the effect are stored; later steps can read the output.
            with self.store.transaction() as s:
                self._locked_run(s, run_id)
                state = self._state(s, run_id, step, position, item)
                state.status = "succeeded"
                state.output = plain_data(result.output)
                state.error = None
                state.finished_at = self.clock.now()
                if s.get(ActionEffectRow, state.idempotency_key) is None:
                    s.add(
                        ActionEffectRow(
                            idempotency_key=state.idempotency_key,
                            action=action.name,
                            result=result.model_dump(mode="json"),
                            at=self.clock.now(),
                        )
                    )
                self._audit(
                    s,
                    incident_id,
                    "playbook.step_succeeded",
                    result.summary or step.action,
                    {
                        "run": run_id,
                        "step": step.id,
                        "item": item,
                        "output": plain_data(result.output),
                    },
                )
            return plain_data(result.output)  # type: ignore[no-any-return]

    def _execute(self, action: Action, context: ActionContext, step: Step) -> ActionResult:
        if step.timeout is None:
            return action.execute(context)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = pool.submit(action.execute, context)
        try:
            return future.result(timeout=step.timeout.total_seconds())
        except concurrent.futures.TimeoutError:
            raise ActionError(f"{action.name} did not finish within {step.timeout}") from None
        finally:
            pool.shutdown(wait=False)

    def _close_step(
        self,
        run_id: int,
        incident_id: int,
        step: Step,
        position: int,
        status: str,
        output: dict[str, Any],
        error: str | None,
        reason: str,
    ) -> None:
        with self.store.transaction() as s:
            run = self._locked_run(s, run_id)
            state = self._state(s, run_id, step, position, _STEP)
            state.status = status
            state.output = output
            state.error = error
            state.finished_at = self.clock.now()
            if status == "succeeded":
                run.outputs = {**run.outputs, step.id: output}
            if status != "succeeded" or step.foreach:
                self._audit(
                    s,
                    incident_id,
                    f"playbook.step_{status}",
                    reason,
                    {"run": run_id, "step": step.id},
                )

    def _failed(
        self,
        run_id: int,
        incident_id: int,
        step: Step,
        position: int,
        message: str,
        output: dict[str, Any],
    ) -> None:
        then = step.on_failure.then
        self._close_step(run_id, incident_id, step, position, "failed", output, message, message)
        if then == "continue":
            return
        if then == "compensate":
            self._compensate(run_id, incident_id, message)
            raise _StopRunError()
        raise StepFailedError(message)

    def _compensate(self, run_id: int, incident_id: int, message: str) -> None:
        with self.store.read() as s:
            row = s.get(PlaybookRunRow, run_id)
            assert row is not None
            playbook = Playbook.model_validate(row.definition)
            done = [
                StepView.model_validate(r)
                for r in s.execute(
                    select(StepStateRow)
                    .where(StepStateRow.run_id == run_id, StepStateRow.status == "succeeded")
                    .order_by(StepStateRow.position.desc(), StepStateRow.item_index.desc())
                ).scalars()
            ]
            started_by = row.started_by
        ctx = self._context(run_id, incident_id, started_by)
        undone: list[str] = []
        for state in done:
            if state.item_index == _STEP and playbook.step(state.step_id).foreach:
                continue  # the items are undone one by one
            action = self.registry.get(state.action)
            params = action.params_model.model_validate(state.params)
            context = ActionContext(
                action=action.name,
                params=params,
                incident=ctx["incident"],
                run_id=run_id,
                step_id=state.step_id,
                idempotency_key=state.idempotency_key,
                actor=f"playbook:{run_id}",
                clock=self.clock,
                services=self.services,
            )
            result = action.compensate(context, ActionResult(output=state.output))
            with self.store.transaction() as s:
                self._locked_run(s, run_id)
                row_state = s.get(StepStateRow, state.id)
                assert row_state is not None
                if result is not None:
                    row_state.status = "compensated"
                    undone.append(state.step_id)
                self._audit(
                    s,
                    incident_id,
                    "playbook.step_compensated" if result else "playbook.step_not_undoable",
                    result.summary if result else f"{action.name} cannot be undone",
                    {"run": run_id, "step": state.step_id, "item": state.item_index},
                )
        self._finish(run_id, incident_id, "compensated", f"{message}; undid {undone}")

    def _approved(
        self,
        run_id: int,
        incident_id: int,
        started_by: str,
        step: Step,
        position: int,
        ctx: dict[str, Any],
    ) -> bool:
        spec = step.approval
        assert spec is not None
        now = self.clock.now()
        outcome = "stop"
        with self.store.transaction() as s:
            run = self._locked_run(s, run_id)
            approval = s.execute(
                select(ApprovalRow).where(
                    ApprovalRow.run_id == run_id, ApprovalRow.step_id == step.id
                )
            ).scalar_one_or_none()
            if approval is None:
                action = (
                    self.registry.get(step.action) if step.action in self.registry.actions else None
                )
                timeout_at = now + spec.timeout if spec.timeout is not None else None
                approval = ApprovalRow(
                    run_id=run_id,
                    incident_id=incident_id,
                    step_id=step.id,
                    action=step.action,
                    role=spec.role,
                    destructive=bool(action and action.destructive),
                    summary=self._summary(step, action, ctx),
                    requested_by=started_by,
                    requested_at=now,
                    timeout_at=timeout_at,
                    on_timeout=spec.on_timeout,
                    status="pending",
                )
                s.add(approval)
                s.flush()
                self._wait(run, timeout_at)
                self._audit(
                    s,
                    incident_id,
                    "playbook.approval_requested",
                    approval.summary,
                    {"run": run_id, "step": step.id, "approval": approval.id, "role": spec.role},
                )
            elif approval.status == "approved":
                outcome = "proceed"
            elif approval.status == "rejected":
                state = self._state(s, run_id, step, position, _STEP)
                state.status = "rejected"
                state.error = f"rejected by {approval.decided_by}: {approval.reason}"
                run.status = "rejected"
                run.error = state.error
                run.claimed_by = None
                run.lease_until = None
                self._audit(
                    s,
                    incident_id,
                    "playbook.rejected",
                    state.error,
                    {"run": run_id, "step": step.id},
                )
            elif approval.status == "timed_out" or (
                approval.timeout_at is not None and now >= approval.timeout_at
            ):
                if approval.status == "pending":
                    approval.status = "timed_out"
                    approval.decided_at = now
                    self._audit(
                        s,
                        incident_id,
                        "playbook.approval_timed_out",
                        f"no decision by {approval.timeout_at}; on_timeout: {approval.on_timeout}",
                        {"run": run_id, "step": step.id, "approval": approval.id},
                    )
                outcome = approval.on_timeout
                if outcome == "abort":
                    run.status = "aborted"
                    run.error = f"approval of {step.id} timed out"
                    run.claimed_by = None
                    run.lease_until = None
                    self._audit(
                        s,
                        incident_id,
                        "playbook.aborted",
                        run.error,
                        {"run": run_id, "step": step.id},
                    )
            else:
                self._wait(run, approval.timeout_at)
        # Decided outside the transaction, so what it wrote is committed first.
        if outcome == "proceed":
            return True
        if outcome != "skip":
            raise _StopRunError()
        self._close_step(
            run_id,
            incident_id,
            step,
            position,
            "skipped",
            {},
            None,
            "approval timed out; step skipped",
        )
        return False

    def _wait(self, run: PlaybookRunRow, until: datetime | None) -> None:
        run.status = "waiting_approval"
        run.wake_at = until
        run.claimed_by = None
        run.lease_until = None

    def _summary(self, step: Step, action: Action | None, ctx: dict[str, Any]) -> str:
        if action is None:
            return step.action
        try:
            params = render_params(step, action, ctx)
        except StepFailedError as exc:
            return f"{step.action} ({exc.message})"
        context = ActionContext(
            action=action.name,
            params=params,
            incident=ctx["incident"],
            run_id=int(ctx["run"]["id"]),
            step_id=step.id,
            idempotency_key="",
            actor="",
            clock=self.clock,
            services=self.services,
            dry_run=True,
        )
        try:
            return action.describe(context)
        except AirsocError as exc:
            return f"{step.action} ({exc.message})"

    def _finish(self, run_id: int, incident_id: int, status: str, error: str | None) -> str:
        with self.store.transaction() as s:
            row = s.get(PlaybookRunRow, run_id, with_for_update=True)
            assert row is not None
            if row.status in FINAL_RUN_STATUSES:
                return row.status
            if row.claimed_by != self.worker_id:
                return row.status
            row.status = status
            row.error = error
            row.claimed_by = None
            row.lease_until = None
            row.updated_at = self.clock.now()
            self._audit(
                s,
                incident_id,
                f"playbook.{status}",
                error or f"run {run_id} finished",
                {"run": run_id, "playbook": row.playbook},
            )
            return status
