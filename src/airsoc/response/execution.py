"""Executing one step (or one ``foreach`` item of a step) of a run, durably and at most once.

The unit is written to the store **before** its action runs (``running``, attempt count, rendered
parameters) and **after** (``succeeded`` with its output and the effect under its idempotency key,
or ``failed`` with the error), each time with an entry on the incident's audit timeline. A unit
whose effect is already recorded (a crash after the action, before the step was marked done)
reuses it instead of acting again. Failed attempts are retried with exponential backoff as the
step's ``on_failure.retry`` says.

Every write is fenced: it locks the run and checks the worker's fencing token in the same
transaction (:mod:`airsoc.response.leases`), and the action gets a guard for its attempt
(``ctx.check()``, ``ctx.cancelled``, the fenced ``ctx.transaction()``). A step ``timeout`` bounds
each attempt cooperatively: at the deadline the attempt's guard is cancelled, the unit is stored
``timed_out`` and the run's token is raised *before* a retry starts, so whatever the abandoned
attempt's thread still tries to change in the store is refused.

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
    >>> held = RunLease(worker_id="w1", clock=clock, duration=timedelta(minutes=5)).claim(store)
    >>> held.run_id == run.id
    True
    >>> execute_unit(store, held=held, services=ResponseServices(store=store,
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

import logging
import threading
from typing import Any

from sqlalchemy.orm import Session

from airsoc.errors import AirsocError
from airsoc.response.actions import Action, ActionContext, ActionResult, ResponseServices
from airsoc.response.conditions import plain_data
from airsoc.response.leases import HeldRun, LeaseLostError, StepGuard
from airsoc.response.lifecycle import StepStatus
from airsoc.response.models import ActionEffectRow, StepStateRow
from airsoc.response.playbooks import Step
from airsoc.response.runs import audit_run, step_state
from airsoc.response.steps import StepFailedError, render_params
from airsoc.store import Store

__all__ = ["StepTimedOutError", "execute_unit", "run_action"]

log = logging.getLogger(__name__)


class StepTimedOutError(Exception):
    """A step attempt ran past its ``timeout``; it was cancelled."""


def execute_unit(
    store: Store,
    *,
    held: HeldRun,
    services: ResponseServices,
    run_id: int,
    incident_id: int,
    step: Step,
    position: int,
    item: int,
    action: Action,
    ctx: dict[str, Any],
) -> dict[str, Any]:
    """Run ``action`` for one unit of ``step`` in the run ``held`` fences; return its output.

    Raises :class:`StepFailedError` once the last attempt failed, and
    :class:`~airsoc.response.leases.LeaseLostError` when another worker took the run.
    """
    clock = held.clock
    retry = step.on_failure.retry
    attempts = retry.attempts if retry else 1
    delay = retry.backoff.total_seconds() if retry else 0.0

    def state_of(s: Session) -> StepStateRow:
        return step_state(s, run_id=run_id, step=step, position=position, item=item)

    while True:
        # Before: the step is marked running (and its attempt counted) in the store.
        with store.transaction() as s:
            held.hold(s)
            state = state_of(s)
            if state.status == StepStatus.SUCCEEDED:
                return dict(state.output)
            key = state.idempotency_key
            effect = s.get(ActionEffectRow, key)
            pending = held.unrecorded.get(key) if effect is None else None
            if effect is None and pending is None:
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
        elif pending is not None:
            # This worker's earlier attempt acted; only storing its result failed.
            result = ActionResult.model_validate(pending)
        else:
            guard = held.guard()
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
                guard=guard,
            )
            try:
                result = run_action(action, context, step)
                guard.check()  # an attempt that lost its run reports nothing
            except LeaseLostError:
                raise
            except Exception as exc:
                if held.lost.is_set():
                    raise LeaseLostError(held.lost_reason) from exc
                timed_out = isinstance(exc, StepTimedOutError)
                message = (
                    exc.message
                    if isinstance(exc, AirsocError)
                    else str(exc)
                    if timed_out
                    else f"{exc!r}"
                )
                with store.transaction() as s:
                    held.hold(s)
                    if timed_out:
                        # Raised before a retry, or anything else, can start.
                        held.revoke(s)
                    state = state_of(s)
                    state.status = (StepStatus.TIMED_OUT if timed_out else StepStatus.FAILED).value
                    state.error = message
                    state.finished_at = clock.now()
                    audit_run(
                        s,
                        clock=clock,
                        incident_id=incident_id,
                        action="playbook.step_timed_out" if timed_out else "playbook.step_failed",
                        reason=message,
                        data={"run": run_id, "step": step.id, "item": item, "attempt": attempt},
                    )
                if attempt < attempts:
                    clock.sleep(delay)
                    delay *= 2
                    continue
                raise StepFailedError(f"step {step.id}: {message}") from None
        # After: the output and the effect are stored; later steps can read the output. When the
        # store refuses this write, the result is kept with the hold, so the run resumed by this
        # worker stores it instead of acting again.
        held.unrecorded[key] = result.model_dump(mode="json")
        with store.transaction() as s:
            held.hold(s)
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
        held.unrecorded.pop(key, None)
        return plain_data(result.output)  # type: ignore[no-any-return]


def run_action(action: Action, context: ActionContext, step: Step) -> ActionResult:
    """Return ``action``'s result for ``context``; past the step's ``timeout`` it is cancelled.

    Without a timeout the action runs in the calling thread. With one, it runs in a daemon
    thread; at the deadline its guard is cancelled (``ctx.cancelled``, ``ctx.check()``) and
    :class:`StepTimedOutError` is raised. The caller then revokes the attempt's token, so a
    thread that does not cooperate can still finish, but can no longer change the store.
    """
    if step.timeout is None:
        return action.execute(context)
    outcome: list[ActionResult | BaseException] = []
    done = threading.Event()

    def attempt() -> None:
        try:
            outcome.append(action.execute(context))
        except BaseException as exc:  # handed to the waiting thread, or logged when abandoned
            outcome.append(exc)
            if context.cancelled:
                log.info("abandoned attempt of %s ended: %r", context.idempotency_key, exc)
        finally:
            done.set()

    thread = threading.Thread(target=attempt, name=f"step-{context.idempotency_key}", daemon=True)
    thread.start()
    if not done.wait(step.timeout.total_seconds()):
        reason = f"{action.name} did not finish within {step.timeout}"
        if isinstance(context.guard, StepGuard):
            context.guard.cancel(f"step timed out: {reason}")
        raise StepTimedOutError(reason)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
