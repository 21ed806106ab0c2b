"""Shared set-up for response tests: an incident, a runner over a recording control plane."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, ClassVar

from pydantic import BaseModel

from airsoc.clock import Clock
from airsoc.incidents.service import IncidentView, assign_role, declare_incident
from airsoc.response.actions import (
    Action,
    ActionContext,
    ActionRegistry,
    ActionResult,
    ResponseServices,
)
from airsoc.response.controlplane import RecordingControlPlane
from airsoc.response.playbooks import Playbook, parse_playbook
from airsoc.response.registry import default_registry
from airsoc.response.runner import PlaybookRunner
from airsoc.response.runs import RunView, get_run, start_run
from airsoc.store import Store


class CountingAction(Action):
    """Counts executions per idempotency key; fails the first ``fail_times`` of each key."""

    name = "count"
    calls: ClassVar[Counter[str]] = Counter()
    lock: ClassVar[threading.Lock] = threading.Lock()

    class Params(BaseModel):
        label: str = ""
        fail_times: int = 0
        sleep: float = 0

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        with self.lock:
            self.calls[ctx.idempotency_key] += 1
            n = self.calls[ctx.idempotency_key]
        time.sleep(ctx.params.sleep)
        if n <= ctx.params.fail_times:
            from airsoc.errors import ActionError

            raise ActionError(f"planned failure {n}")
        return ActionResult(output={"label": ctx.params.label, "n": n}, summary="counted")

    def describe(self, ctx: ActionContext) -> str:
        return f"count {ctx.params.label}"


def registry() -> ActionRegistry:
    reg = default_registry(plugins=False)
    CountingAction.calls.clear()
    reg.register(CountingAction())
    return reg


def incident(
    store: Store,
    clock: Clock,
    *,
    failure_mode: str = "data_poisoning",
    batches: tuple[str, ...] = (),
    roles: dict[str, str] | None = None,
) -> IncidentView:
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="alice",
            system="fraud",
            failure_mode=failure_mode,
            summary="vendor batch 17 flips labels",
            data_batches=batches,
        )
        for role, person in (roles or {}).items():
            assign_role(s, clock=clock, incident_id=inc.id, role=role, person=person, actor="alice")
    return inc


def runner(
    store: Store,
    clock: Clock,
    reg: ActionRegistry,
    cp: RecordingControlPlane | None = None,
    *,
    worker: str = "w1",
    **services: Any,
) -> PlaybookRunner:
    return PlaybookRunner(
        store=store,
        clock=clock,
        registry=reg,
        worker_id=worker,
        services=ResponseServices(
            store=store,
            settings=store.settings,
            control_plane=cp or RecordingControlPlane(versions={"fraud": ["v6", "v7"]}),
            **services,
        ),
    )


def start(
    store: Store,
    clock: Clock,
    text: str,
    incident_id: int,
    reg: ActionRegistry,
    started_by: str = "alice",
) -> tuple[Playbook, int]:
    playbook = parse_playbook(text, registry=reg)
    with store.transaction() as s:
        run = start_run(
            s, clock=clock, playbook=playbook, incident_id=incident_id, started_by=started_by
        )
    return playbook, run.id


def run_view(store: Store, run_id: int) -> RunView:
    with store.read() as s:
        return get_run(s, run_id=run_id)
