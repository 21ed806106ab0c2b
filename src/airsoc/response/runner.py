"""The durable playbook runner: a worker that advances claimed runs step by step.

A worker claims a runnable run and holds a lease on it (:mod:`airsoc.response.leases`), then walks
its steps: a step's ``when`` and ``foreach``, the approval gate (:mod:`airsoc.response.approvals`),
each unit of work executed durably (:mod:`airsoc.response.execution`: stored before and after,
on the incident's audit timeline), failures (``abort``, ``continue``, ``compensate`` in reverse
order) and the end of the run. The run's status only moves through the transitions table of
:mod:`airsoc.response.lifecycle`.

While a worker advances a run, a heartbeat renews its lease (also during a long step), and every
write it makes, and every store change its actions make, is fenced by the run's token
(:mod:`airsoc.response.leases`): a worker that stalled past its lease and was taken over gets
:class:`~airsoc.response.leases.LeaseLostError` at its next write, logs it and lets the run go.

Resuming after a crash: a worker whose lease expired loses the run; the next worker skips every
step stored as done, and re-runs an interrupted step with the *same* idempotency key. Actions
that change the store record their effect in the same fenced transaction (exactly once);
external systems receive the key and ignore a repeat; and an effect recorded before the crash
is reused.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.response.actions import ResponseServices
    >>> from airsoc.response.playbooks import parse_playbook
    >>> from airsoc.response.runs import get_run, start_run
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="alice", system="fraud",
    ...                            failure_mode="data_poisoning", summary="vendor batch flips")
    ...     run = start_run(s, clock=clock, incident_id=inc.id, started_by="alice",
    ...                     playbook=parse_playbook(
    ...                         "name: p\\nsteps: [{id: contain, action: open_task,"
    ...                         " with: {title: roll back}}]"))
    >>> runner = PlaybookRunner(store=store, clock=clock, worker_id="w1",
    ...     services=ResponseServices(store=store, settings=store.settings))
    >>> runner.run_until_idle()
    [1]
    >>> with store.read() as s:
    ...     r = get_run(s, run_id=run.id)
    >>> r.status, [(st.step_id, st.status) for st in r.steps]
    ('succeeded', [('contain', 'succeeded')])
    >>> store.close()
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import AirsocError, NotFoundError
from airsoc.incidents.service import get_incident
from airsoc.response.actions import (
    Action,
    ActionContext,
    ActionRegistry,
    ActionResult,
    ResponseServices,
)
from airsoc.response.approvals import approval_gate
from airsoc.response.execution import execute_unit
from airsoc.response.governance import GovernanceConfig, approval_requirement, system_criticality
from airsoc.response.leases import HeldRun, LeaseLostError, RunLease
from airsoc.response.lifecycle import (
    DONE_STEP_STATUSES,
    FINAL_RUN_STATUSES,
    RunStatus,
    StepStatus,
    move_run,
)
from airsoc.response.models import PlaybookRunRow, StepStateRow
from airsoc.response.playbooks import Playbook, Step
from airsoc.response.registry import default_registry
from airsoc.response.runs import WHOLE_STEP, StepView, audit_run, step_state
from airsoc.response.steps import StepFailedError, condition_holds, foreach_items, render_params
from airsoc.store import Store

__all__ = ["PlaybookRunner"]

log = logging.getLogger(__name__)


class _StopRunError(Exception):
    """The run stops here for now (waiting for approval, or it ended in a final status)."""


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
        governance: GovernanceConfig | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.services = services
        self.worker_id = worker_id
        self.registry = registry or default_registry()
        self.lease = lease
        #: The rules per criticality that add approvals and four-eyes (``airsoc.yaml``).
        self.governance = governance or GovernanceConfig()
        self._lease = RunLease(worker_id=worker_id, clock=clock, duration=lease)
        #: How many times this worker found a run taken from it and stopped acting on it.
        self.leases_lost = 0
        # Runs this worker still holds after an unexpected error (e.g. the store was locked while
        # a step's result was written): resumed first, under the same token, instead of waiting
        # for the lease to run out.
        self._interrupted: dict[int, HeldRun] = {}

    # --- claiming ------------------------------------------------------------------------------

    def claim(self) -> HeldRun | None:
        """Claim one runnable run (row-locked, skipping runs other workers hold); return the
        fenced hold on it, or None."""
        return self._lease.claim(self.store)

    def run_once(self) -> int | None:
        """Claim and advance one run; return its id, or None when nothing is runnable.

        A run this worker was advancing when an unexpected error stopped it comes first: it is
        still this worker's (same token, lease renewed), so it resumes at once rather than
        after its lease runs out, and the step that was interrupted runs again under its
        idempotency key.
        """
        held = self._resume() or self.claim()
        if held is None:
            return None
        try:
            self.advance(held)
        except Exception:
            self._interrupted[held.run_id] = held
            raise
        return held.run_id

    def _resume(self) -> HeldRun | None:
        while self._interrupted:
            run_id, held = next(iter(self._interrupted.items()))
            try:
                if held.renew():
                    del self._interrupted[run_id]
                    log.info(
                        "worker %s resumes run %s (token %s)", self.worker_id, run_id, held.token
                    )
                    return held
            except LeaseLostError as exc:
                log.info("worker %s no longer holds run %s: %s", self.worker_id, run_id, exc)
            del self._interrupted[run_id]  # taken over, or ended: nothing to resume
        return None

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

    def advance(self, held: HeldRun) -> str:
        """Carry a claimed run as far as it goes, its lease renewed by a heartbeat meanwhile;
        return its status afterwards. A lost lease stops the worker's part in the run."""
        run_id = held.run_id
        with self.store.read() as s:
            row = s.get(PlaybookRunRow, run_id)
            if row is None:
                raise NotFoundError(f"playbook run {run_id} not found")
            playbook = Playbook.model_validate(row.definition)
            started_by = row.started_by
            incident_id = row.incident_id
        with held.heartbeat():
            try:
                for position, step in enumerate(playbook.steps):
                    self._step(held, incident_id, started_by, position, step)
            except _StopRunError:
                return self._status(run_id)
            except LeaseLostError as exc:
                self.leases_lost += 1
                log.warning("worker %s stopped on run %s: %s", self.worker_id, run_id, exc)
                return self._status(run_id)
            except StepFailedError as exc:
                return self._finish(held, incident_id, RunStatus.FAILED, exc.message)
            return self._finish(held, incident_id, RunStatus.SUCCEEDED, None)

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

    def _audit(
        self, s: Session, incident_id: int, action: str, reason: str, data: dict[str, Any]
    ) -> None:
        audit_run(
            s, clock=self.clock, incident_id=incident_id, action=action, reason=reason, data=data
        )

    def _step(
        self, held: HeldRun, incident_id: int, started_by: str, position: int, step: Step
    ) -> None:
        run_id = held.run_id
        with self.store.read() as s:
            existing = s.execute(
                select(StepStateRow.status).where(
                    StepStateRow.run_id == run_id,
                    StepStateRow.step_id == step.id,
                    StepStateRow.item_index == WHOLE_STEP,
                )
            ).scalar_one_or_none()
        if existing in DONE_STEP_STATUSES:
            return
        ctx = self._context(run_id, incident_id, started_by)
        if step.when and not step.foreach and not condition_holds(step.when, ctx, step):
            self._close_step(
                held,
                incident_id,
                step,
                position,
                StepStatus.SKIPPED,
                {},
                None,
                f"condition false: {step.when}",
            )
            return
        if not self._approved(held, incident_id, step, position, ctx):
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
                        self._unit(held, incident_id, step, position, index, action, item_ctx)
                    )
                except StepFailedError as exc:
                    failures.append(exc.message)
                    if step.on_failure.then != "continue":
                        break
            output: dict[str, Any] = {"items": outputs, "count": len(outputs)}
            if failures:
                self._failed(held, incident_id, step, position, failures[0], output)
                return
        else:
            try:
                output = self._unit(held, incident_id, step, position, WHOLE_STEP, action, ctx)
            except StepFailedError as exc:
                self._failed(held, incident_id, step, position, exc.message, {})
                return
        self._close_step(
            held,
            incident_id,
            step,
            position,
            StepStatus.SUCCEEDED,
            output,
            None,
            f"{step.id} done",
        )

    def _action(self, step: Step) -> Action:
        try:
            return self.registry.get(step.action)
        except AirsocError as exc:
            raise StepFailedError(f"step {step.id}: {exc.message}") from None

    def _unit(
        self,
        held: HeldRun,
        incident_id: int,
        step: Step,
        position: int,
        item: int,
        action: Action,
        ctx: dict[str, Any],
    ) -> dict[str, Any]:
        return execute_unit(
            self.store,
            held=held,
            services=self.services,
            run_id=held.run_id,
            incident_id=incident_id,
            step=step,
            position=position,
            item=item,
            action=action,
            ctx=ctx,
        )

    def _close_step(
        self,
        held: HeldRun,
        incident_id: int,
        step: Step,
        position: int,
        status: StepStatus,
        output: dict[str, Any],
        error: str | None,
        reason: str,
    ) -> None:
        run_id = held.run_id
        with self.store.transaction() as s:
            run = held.hold(s)
            state = step_state(s, run_id=run_id, step=step, position=position, item=WHOLE_STEP)
            state.status = status.value
            state.output = output
            state.error = error
            state.finished_at = self.clock.now()
            if status is StepStatus.SUCCEEDED:
                run.outputs = {**run.outputs, step.id: output}
            if status is not StepStatus.SUCCEEDED or step.foreach:
                self._audit(
                    s,
                    incident_id,
                    f"playbook.step_{status.value}",
                    reason,
                    {"run": run_id, "step": step.id},
                )

    # --- failure and compensation --------------------------------------------------------------

    def _failed(
        self,
        held: HeldRun,
        incident_id: int,
        step: Step,
        position: int,
        message: str,
        output: dict[str, Any],
    ) -> None:
        then = step.on_failure.then
        self._close_step(
            held, incident_id, step, position, StepStatus.FAILED, output, message, message
        )
        if then == "continue":
            return
        if then == "compensate":
            self._compensate(held, incident_id, message)
            raise _StopRunError()
        raise StepFailedError(message)

    def _compensate(self, held: HeldRun, incident_id: int, message: str) -> None:
        run_id = held.run_id
        with self.store.read() as s:
            row = s.get(PlaybookRunRow, run_id)
            assert row is not None
            playbook = Playbook.model_validate(row.definition)
            done = [
                StepView.model_validate(r)
                for r in s.execute(
                    select(StepStateRow)
                    .where(
                        StepStateRow.run_id == run_id, StepStateRow.status == StepStatus.SUCCEEDED
                    )
                    .order_by(StepStateRow.position.desc(), StepStateRow.item_index.desc())
                ).scalars()
            ]
            started_by = row.started_by
        ctx = self._context(run_id, incident_id, started_by)
        undone: list[str] = []
        for state in done:
            if state.item_index == WHOLE_STEP and playbook.step(state.step_id).foreach:
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
                guard=held.guard(),
            )
            result = action.compensate(context, ActionResult(output=state.output))
            with self.store.transaction() as s:
                held.hold(s)
                row_state = s.get(StepStateRow, state.id)
                assert row_state is not None
                if result is not None:
                    row_state.status = StepStatus.COMPENSATED.value
                    undone.append(state.step_id)
                self._audit(
                    s,
                    incident_id,
                    "playbook.step_compensated" if result else "playbook.step_not_undoable",
                    result.summary if result else f"{action.name} cannot be undone",
                    {"run": run_id, "step": state.step_id, "item": state.item_index},
                )
        self._finish(held, incident_id, RunStatus.COMPENSATED, f"{message}; undid {undone}")

    # --- approvals -----------------------------------------------------------------------------

    def _approved(
        self, held: HeldRun, incident_id: int, step: Step, position: int, ctx: dict[str, Any]
    ) -> bool:
        run_id = held.run_id
        action = self.registry.get(step.action) if step.action in self.registry.actions else None
        destructive = bool(action and action.destructive)
        if step.approval is None and not destructive:
            return True
        with self.store.transaction() as s:
            need = approval_requirement(
                step,
                destructive=destructive,
                criticality=system_criticality(s, system=str(ctx["incident"]["system"])),
                rules=self.governance,
            )
            if need.spec is None:
                return True
            run = held.hold(s)
            decision = approval_gate(
                s,
                clock=self.clock,
                run=run,
                step=step,
                destructive=destructive,
                summary=lambda: self._summary(step, action, ctx),
                spec=need.spec,
                four_eyes=need.four_eyes,
                why=need.reason,
            )
            now = self.clock.now()
            if decision.outcome == "wait":
                move_run(run, RunStatus.WAITING_APPROVAL, at=now)
                run.wake_at = decision.wake_at
            elif decision.outcome == "reject":
                state = step_state(s, run_id=run_id, step=step, position=position, item=WHOLE_STEP)
                state.status = StepStatus.REJECTED.value
                state.error = decision.reason
                move_run(run, RunStatus.REJECTED, at=now, error=decision.reason)
                self._audit(
                    s,
                    incident_id,
                    "playbook.rejected",
                    decision.reason,
                    {"run": run_id, "step": step.id},
                )
            elif decision.outcome == "abort":
                move_run(run, RunStatus.ABORTED, at=now, error=decision.reason)
                self._audit(
                    s,
                    incident_id,
                    "playbook.aborted",
                    decision.reason,
                    {"run": run_id, "step": step.id},
                )
        # Decided outside the transaction, so what it wrote is committed first.
        if decision.outcome == "proceed":
            return True
        if decision.outcome != "skip":
            raise _StopRunError()
        self._close_step(
            held,
            incident_id,
            step,
            position,
            StepStatus.SKIPPED,
            {},
            None,
            "approval timed out; step skipped",
        )
        return False

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

    # --- the end of a run ----------------------------------------------------------------------

    def _finish(self, held: HeldRun, incident_id: int, status: RunStatus, error: str | None) -> str:
        run_id = held.run_id
        with self.store.transaction() as s:
            row = s.get(PlaybookRunRow, run_id, with_for_update=True)
            assert row is not None
            if row.status in FINAL_RUN_STATUSES:
                return row.status
            if row.claimed_by != self.worker_id or row.fence != held.token:
                self.leases_lost += 1
                log.warning(
                    "worker %s stopped on run %s: held by %s with token %s, not %s",
                    self.worker_id,
                    run_id,
                    row.claimed_by,
                    row.fence,
                    held.token,
                )
                return row.status
            move_run(row, status, at=self.clock.now())
            row.error = error
            self._audit(
                s,
                incident_id,
                f"playbook.{status.value}",
                error or f"run {run_id} finished",
                {"run": run_id, "playbook": row.playbook},
            )
            return status.value
