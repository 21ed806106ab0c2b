"""Executing one step (or one ``foreach`` item of a step) of a run, durably and at most once.

The unit is written to the store **before** its action runs (``running``, attempt count, rendered
parameters) and **after** (``succeeded`` with its output and the effect under its idempotency key,
or ``failed`` with the error), each time with an entry on the incident's audit timeline. A unit
whose effect is already recorded (a crash after the action, before the step was marked done)
reuses it instead of acting again. Failed attempts are retried with exponential backoff as the
step's ``on_failure.retry`` says; a step ``timeout`` bounds each attempt.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.response.actions import ResponseServices
    >>> from airsoc.response.leases import RunLease
    >>> from airsoc.response.playbooks import parse_playbook
    >>> from airsoc.response.registry import default_registry
    >>> from airsoc.response.runs import WHOLE_STEP, get_run, start_run
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> playbook = parse_playbook(
    ...     "name: p\\nsteps: [{id: task, action: open_task, with: {title: call the vendor}}]")
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="alice", system="fraud",
    ...                            failure_mode="data_poisoning", summary="vendor batch flips")
    ...     run = start_run(s, clock=clock, incident_id=inc.id, started_by="alice",
    ...                     playbook=playbook)
    >>> lease = RunLease(worker_id="w1", clock=clock, duration=timedelta(minutes=5))
    >>> lease.claim(store) == run.id
    True
    >>> execute_unit(store, lease=lease, services=ResponseServices(store=store,
    ...              settings=store.settings), run_id=run.id, incident_id=inc.id,
    ...              step=playbook.steps[0], position=0, item=WHOLE_STEP,
    ...              action=default_registry(plugins=False).get("open_task"),
    ...              ctx={"incident": {"id": inc.id}})
    {'task': 'call the vendor'}
    >>> with store.read() as s:
    ...     [(st.step_id, st.status, st.attempts) for st in get_run(s, run_id=run.id).steps]
    [('task', 'succeeded', 1)]
    >>> store.close()
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from sqlalchemy.orm import Session

from airsoc.errors import ActionError, AirsocError
from airsoc.response.actions import Action, ActionContext, ActionResult, ResponseServices
from airsoc.response.conditions import plain_data
from airsoc.response.leases import RunLease
from airsoc.response.lifecycle import StepStatus
from airsoc.response.models import ActionEffectRow, StepStateRow
from airsoc.response.playbooks import Step
from airsoc.response.runs import audit_run, step_state
from airsoc.response.steps import StepFailedError, render_params
from airsoc.store import Store

__all__ = ["execute_unit", "run_action"]


def execute_unit(
    store: Store,
    *,
    lease: RunLease,
    services: ResponseServices,
    run_id: int,
    incident_id: int,
    step: Step,
    position: int,
    item: int,
    action: Action,
    ctx: dict[str, Any],
) -> dict[str, Any]:
    """Run ``action`` for one unit of ``step`` in the run ``lease`` holds; return its output.

    Raises :class:`StepFailedError` once the last attempt failed, and
    :class:`~airsoc.response.leases.LeaseLostError` when another worker took the run.
    """
    clock = lease.clock
    retry = step.on_failure.retry
    attempts = retry.attempts if retry else 1
    delay = retry.backoff.total_seconds() if retry else 0.0

    def state_of(s: Session) -> StepStateRow:
        return step_state(s, run_id=run_id, step=step, position=position, item=item)

    while True:
        # Before: the step is marked running (and its attempt counted) in the store.
        with store.transaction() as s:
            lease.hold(s, run_id)
            state = state_of(s)
            if state.status == StepStatus.SUCCEEDED:
                return dict(state.output)
            key = state.idempotency_key
            effect = s.get(ActionEffectRow, key)
            if effect is None:
                params = render_params(step, action, ctx)
                state.status = StepStatus.RUNNING.value
                state.attempts += 1
                state.started_at = clock.now()
                state.params = plain_data(params.model_dump(mode="json"))
                attempt = state.attempts
                audit_run(
                    s,
                    clock=clock,
                    incident_id=incident_id,
                    action="playbook.step_started",
                    reason=f"{step.action} (attempt {attempt})",
                    data={"run": run_id, "step": step.id, "item": item, "key": key},
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
                clock=clock,
                services=services,
            )
            try:
                result = run_action(action, context, step)
            except Exception as exc:
                message = exc.message if isinstance(exc, AirsocError) else f"{exc!r}"
                with store.transaction() as s:
                    lease.hold(s, run_id)
                    state = state_of(s)
                    state.status = StepStatus.FAILED.value
                    state.error = message
                    state.finished_at = clock.now()
                    audit_run(
                        s,
                        clock=clock,
                        incident_id=incident_id,
                        action="playbook.step_failed",
                        reason=message,
                        data={"run": run_id, "step": step.id, "item": item, "attempt": attempt},
                    )
                if attempt < attempts:
                    clock.sleep(delay)
                    delay *= 2
                    continue
                raise StepFailedError(f"step {step.id}: {message}") from None
        # After: the output and the effect are stored; later steps can read the output.
        with store.transaction() as s:
            lease.hold(s, run_id)
            state = state_of(s)
            state.status = StepStatus.SUCCEEDED.value
            state.output = plain_data(result.output)
            state.error = None
            state.finished_at = clock.now()
            if s.get(ActionEffectRow, state.idempotency_key) is None:
                s.add(
                    ActionEffectRow(
                        idempotency_key=state.idempotency_key,
                        action=action.name,
                        result=result.model_dump(mode="json"),
                        at=clock.now(),
                    )
                )
            audit_run(
                s,
                clock=clock,
                incident_id=incident_id,
                action="playbook.step_succeeded",
                reason=result.summary or step.action,
                data={
                    "run": run_id,
                    "step": step.id,
                    "item": item,
                    "output": plain_data(result.output),
                },
            )
        return plain_data(result.output)  # type: ignore[no-any-return]


def run_action(action: Action, context: ActionContext, step: Step) -> ActionResult:
    """Return ``action``'s result for ``context``; past the step's ``timeout`` it is a failure.

    The action runs in a worker thread when the step has a timeout; a late action is left to
    finish on its own, and the step fails with an :class:`~airsoc.errors.ActionError`.
    """
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
