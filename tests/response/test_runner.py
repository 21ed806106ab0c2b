"""The durable runner: steps persisted before and after, when/foreach, failures, approvals,
resume without repeating a side effect (in-process and after kill -9), several workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airsoc.audit import list_entries, verify_chains
from airsoc.clock import SimulatedClock, SystemClock
from airsoc.errors import PermissionDeniedError
from airsoc.incidents.service import incident_chain
from airsoc.response.actions import ActionContext, ActionResult
from airsoc.response.approvals import decide_approval, list_approvals
from airsoc.response.controlplane import RecordingControlPlane
from airsoc.response.models import PlaybookRunRow
from airsoc.store import Store
from tests.response.support import CountingAction, incident, registry, run_view, runner, start

POISON = """
name: poison
steps:
  - id: contain
    action: rollback
    with: {to: last_known_good}
    approval: {role: incident_commander, timeout: 15m, on_timeout: abort}
  - id: quarantine
    action: quarantine_batch
    foreach: "{{ incident.data_batches }}"
    when: 'item != "b-clean"'
    with: {batch: "{{ item }}", reason: "{{ incident.ref }}"}
  - id: tell
    action: count
    with: {label: "quarantined {{ steps.quarantine.count }}"}
"""


def test_run_with_approval_foreach_and_outputs(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    cp = RecordingControlPlane(versions={"fraud": ["v6", "v7"]})
    inc = incident(
        store, clock, batches=("b-17", "b-clean", "b-18"), roles={"incident_commander": "bob"}
    )
    _, run_id = start(store, clock, POISON, inc.id, reg)
    worker = runner(store, clock, reg, cp)
    worker.run_until_idle()
    assert run_view(store, run_id).status == "waiting_approval"
    assert cp.calls == []
    with store.read() as s:
        (approval,) = list_approvals(s)
    assert approval.destructive
    assert approval.requested_by == "alice"
    assert "rollback(system='fraud', to='last_known_good')" in approval.summary
    with store.transaction() as s, pytest.raises(PermissionDeniedError, match="four-eyes"):
        decide_approval(
            s, clock=clock, approval_id=approval.id, actor="alice", approve=True, reason="go"
        )
    with store.transaction() as s, pytest.raises(PermissionDeniedError, match="does not hold"):
        decide_approval(
            s, clock=clock, approval_id=approval.id, actor="mallory", approve=True, reason="go"
        )
    with store.transaction() as s:
        decide_approval(
            s, clock=clock, approval_id=approval.id, actor="bob", approve=True, reason="confirmed"
        )
    worker.run_until_idle()
    view = run_view(store, run_id)
    assert view.status == "succeeded"
    assert cp.serving["fraud"] == "v6"
    assert cp.quarantined == {"b-17", "b-18"}
    assert view.outputs["tell"] == {"label": "quarantined 2", "n": 1}
    with store.read() as s:
        timeline = list_entries(s, chain=incident_chain(inc.id))
        assert all(r.ok for r in verify_chains(s))
    actions = [(e.action, e.actor) for e in timeline if e.action.startswith("playbook.")]
    assert actions[:3] == [
        ("playbook.started", "alice"),
        ("playbook.approval_requested", f"playbook:{run_id}"),
        ("playbook.approval_granted", "bob"),
    ]
    assert actions[-1] == ("playbook.succeeded", f"playbook:{run_id}")


def test_rejected_approval_stops_the_run(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    inc = incident(store, clock, roles={"incident_commander": "bob"})
    _, run_id = start(store, clock, POISON, inc.id, reg)
    worker = runner(store, clock, reg)
    worker.run_until_idle()
    with store.transaction() as s:
        (approval,) = list_approvals(s)
        decide_approval(
            s, clock=clock, approval_id=approval.id, actor="bob", approve=False, reason="no"
        )
    worker.run_until_idle()
    view = run_view(store, run_id)
    assert view.status == "rejected"
    assert "rejected by bob" in (view.error or "")


@pytest.mark.parametrize(
    ("on_timeout", "status", "rolled_back"),
    [("proceed", "succeeded", True), ("skip", "succeeded", False), ("abort", "aborted", False)],
)
def test_approval_timeout(
    store: Store, clock: SimulatedClock, on_timeout: str, status: str, rolled_back: bool
) -> None:
    reg = registry()
    cp = RecordingControlPlane(versions={"fraud": ["v6", "v7"]})
    inc = incident(store, clock)
    text = f"""
name: t
steps:
  - id: contain
    action: rollback
    approval: {{role: ic, timeout: 15m, on_timeout: {on_timeout}}}
"""
    _, run_id = start(store, clock, text, inc.id, reg)
    worker = runner(store, clock, reg, cp)
    worker.run_until_idle()
    clock.advance(timedelta(minutes=14))
    assert worker.run_until_idle() == []
    clock.advance(timedelta(minutes=1))
    worker.run_until_idle()
    assert run_view(store, run_id).status == status
    assert (cp.serving["fraud"] == "v6") is rolled_back


def test_retry_with_backoff_then_success(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    inc = incident(store, clock)
    text = """
name: r
steps:
  - id: flaky
    action: count
    with: {fail_times: 2}
    on_failure: {retry: {attempts: 3, backoff: 10s}}
"""
    _, run_id = start(store, clock, text, inc.id, reg)
    before = clock.now()
    runner(store, clock, reg).run_until_idle()
    view = run_view(store, run_id)
    assert view.status == "succeeded"
    assert view.steps[0].attempts == 3
    assert clock.now() - before == timedelta(seconds=10 + 20)


def test_step_timeout_fails_the_step(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    inc = incident(store, clock)
    text = """
name: slow
steps:
  - id: slow
    action: count
    with: {sleep: 1.0}
    timeout: 0.1s
"""
    _, run_id = start(store, clock, text, inc.id, reg)
    runner(store, clock, reg).run_until_idle()
    view = run_view(store, run_id)
    assert view.status == "failed"
    assert "did not finish within 0:00:00.100000" in (view.error or "")


def test_continue_and_abort(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    inc = incident(store, clock)
    text = """
name: c
steps:
  - id: a
    action: count
    with: {fail_times: 1}
    on_failure: continue
  - id: b
    action: count
  - id: c
    action: count
    with: {fail_times: 5}
  - id: d
    action: count
"""
    _, run_id = start(store, clock, text, inc.id, reg)
    runner(store, clock, reg).run_until_idle()
    view = run_view(store, run_id)
    assert view.status == "failed"
    assert [(s.step_id, s.status) for s in view.steps] == [
        ("a", "failed"),
        ("b", "succeeded"),
        ("c", "failed"),
    ]
    assert "planned failure" in (view.error or "")


def test_compensate_undoes_completed_steps_in_reverse(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    cp = RecordingControlPlane(versions={"fraud": ["v6", "v7"]})
    inc = incident(store, clock, batches=("b-1",))
    text = """
name: comp
steps:
  - id: contain
    action: rollback
  - id: quarantine
    action: quarantine_batch
    foreach: "{{ incident.data_batches }}"
    with: {batch: "{{ item }}"}
  - id: boom
    action: count
    with: {fail_times: 9}
    on_failure: compensate
"""
    _, run_id = start(store, clock, text, inc.id, reg)
    runner(store, clock, reg, cp).run_until_idle()
    view = run_view(store, run_id)
    assert view.status == "compensated"
    assert cp.serving["fraud"] == "v7"
    assert cp.quarantined == set()
    assert [c.method for c in cp.calls] == [
        "rollback",
        "quarantine_batch",
        "release_batch",
        "rollback",
    ]


def test_interrupted_step_resumes_with_the_same_key_and_done_steps_are_not_repeated(
    store: Store, clock: SimulatedClock
) -> None:
    reg = registry()

    class DiesAfterRollback(RecordingControlPlane):
        """The worker process dies after the gateway applied the rollback."""

        die = True

        def rollback(self, *, system: str, to: str, idempotency_key: str) -> dict[str, Any]:
            result = super().rollback(system=system, to=to, idempotency_key=idempotency_key)
            if self.die:
                self.die = False
                raise SystemExit("worker died")
            return result

    cp = DiesAfterRollback(versions={"fraud": ["v6", "v7"]})
    inc = incident(store, clock)
    text = """
name: resume
steps:
  - id: contain
    action: rollback
  - id: count_it
    action: count
"""
    _, run_id = start(store, clock, text, inc.id, reg)
    first = runner(store, clock, reg, cp, worker="w1")
    with pytest.raises(SystemExit):
        first.run_until_idle()
    interrupted = run_view(store, run_id)
    assert (interrupted.status, interrupted.steps[0].status) == ("running", "running")
    second = runner(store, clock, reg, cp, worker="w2")
    assert second.run_until_idle() == []  # w1's lease still holds the run
    clock.advance(timedelta(minutes=6))
    assert second.run_until_idle() == [run_id]
    view = run_view(store, run_id)
    assert view.status == "succeeded"
    assert view.steps[0].attempts == 2  # re-run with the same key ...
    assert [c.method for c in cp.calls] == ["rollback"]  # ... which the gateway applied once
    assert cp.serving["fraud"] == "v6"
    assert CountingAction.calls[f"run-{run_id}/count_it"] == 1


def test_a_store_effect_recorded_before_a_crash_is_not_applied_again(
    store: Store, clock: SimulatedClock
) -> None:
    from airsoc.response.builtin_actions import SetSeverity

    class DiesAfterCommit(SetSeverity):
        """Dies after its transaction (change + effect record) committed."""

        die = True

        def execute(self, ctx: ActionContext) -> ActionResult:
            result = super().execute(ctx)
            if DiesAfterCommit.die:
                DiesAfterCommit.die = False
                raise SystemExit("worker died")
            return result

    reg = registry()
    reg.register(DiesAfterCommit(), replace=True)
    inc = incident(store, clock)
    _, run_id = start(
        store,
        clock,
        "name: s\nsteps: [{id: sev, action: set_severity, with: {severity: sev1}}]",
        inc.id,
        reg,
    )
    with pytest.raises(SystemExit):
        runner(store, clock, reg, worker="w1").run_until_idle()
    clock.advance(timedelta(minutes=6))
    runner(store, clock, reg, worker="w2").run_until_idle()
    assert run_view(store, run_id).status == "succeeded"
    with store.read() as s:
        timeline = list_entries(s, chain=incident_chain(inc.id))
    assert [e.action for e in timeline].count("incident.updated") == 1


def test_several_workers_never_run_a_step_twice(store: Store) -> None:
    clock = SystemClock()
    reg = registry()
    inc = incident(store, clock)
    text = """
name: many
steps:
  - id: one
    action: count
  - id: two
    action: count
"""
    run_ids = [start(store, clock, text, inc.id, reg)[1] for _ in range(12)]
    workers = [runner(store, clock, reg, worker=f"w{i}") for i in range(3)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(run_view(store, r).status == "succeeded" for r in run_ids)
    expected = {f"run-{r}/{step}" for r in run_ids for step in ("one", "two")}
    assert set(CountingAction.calls) == expected
    assert set(CountingAction.calls.values()) == {1}


CRASH_SCRIPT = """
import sys, time
from datetime import timedelta
from pathlib import Path
from pydantic import BaseModel
from airsoc.clock import SystemClock
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult
from airsoc.response.actions import ResponseServices
from airsoc.response.registry import default_registry
from airsoc.response.runner import PlaybookRunner

effects = Path(sys.argv[2])
attempts = Path(sys.argv[3])

class SideEffect(Action):
    name = "side_effect"
    class Params(BaseModel):
        sleep: float = 0
    params_model = Params
    def execute(self, ctx: ActionContext) -> ActionResult:
        with attempts.open("a") as f:
            f.write(ctx.idempotency_key + "\\n")
        done = effects.read_text().split() if effects.exists() else []
        if ctx.idempotency_key not in done:  # an external system honouring the key
            with effects.open("a") as f:
                f.write(ctx.idempotency_key + "\\n")
        time.sleep(ctx.params.sleep)
        return ActionResult(output={"ok": True})
    def describe(self, ctx: ActionContext) -> str:
        return "side effect"

registry = default_registry(plugins=False)
registry.register(SideEffect())
store = Store.open(Settings.resolve(data_dir=sys.argv[1], environ={}))
worker = PlaybookRunner(store=store, clock=SystemClock(), registry=registry, worker_id=sys.argv[4],
                        services=ResponseServices(store=store, settings=store.settings),
                        lease=timedelta(seconds=float(sys.argv[5])))
worker.run_until_idle()
"""

CRASH_PLAYBOOK = """
name: crash
steps:
  - id: first
    action: side_effect
  - id: second
    action: side_effect
    with: {sleep: 30}
  - id: third
    action: side_effect
"""


@pytest.mark.slow
def test_kill_dash_9_mid_run_resumes_without_repeating_side_effects(tmp_path: Path) -> None:
    from pydantic import BaseModel

    from airsoc.response.actions import Action
    from airsoc.settings import Settings

    data = tmp_path / "data"
    store = Store.open(Settings.resolve(data_dir=data, environ={}))
    clock = SystemClock()
    reg = registry()

    class SideEffect(Action):  # the same parameters as the worker's, for the playbook check
        name = "side_effect"

        class Params(BaseModel):
            sleep: float = 0

        params_model = Params

        def execute(self, ctx: ActionContext) -> ActionResult:  # pragma: no cover
            raise AssertionError("runs only in the worker process")

        def describe(self, ctx: ActionContext) -> str:  # pragma: no cover
            return "side effect"

    reg.register(SideEffect())
    inc = incident(store, clock)
    _, run_id = start(store, clock, CRASH_PLAYBOOK, inc.id, reg)
    script = tmp_path / "worker.py"
    script.write_text(CRASH_SCRIPT)
    effects, attempts = tmp_path / "effects.txt", tmp_path / "attempts.txt"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    args = [sys.executable, str(script), str(data), str(effects), str(attempts)]
    proc = subprocess.Popen([*args, "w1", "2"], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if attempts.exists() and f"run-{run_id}/second" in attempts.read_text():
            break
        time.sleep(0.05)
    else:  # pragma: no cover - only when the worker never got there
        proc.kill()
        pytest.fail("the worker never reached the second step")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert run_view(store, run_id).status == "running"
    # Shorten the sleep for the resumed run; the frozen definition is what the runner reads.
    with store.transaction() as s:
        row = s.get(PlaybookRunRow, run_id)
        assert row is not None
        definition = dict(row.definition)
        definition["steps"] = [
            {**st, "with": {"sleep": 0}} if st["id"] == "second" else st
            for st in definition["steps"]
        ]
        row.definition = definition
    time.sleep(2.2)  # the killed worker's lease runs out
    subprocess.run([*args, "w2", "30"], env=env, check=True, timeout=120)
    view = run_view(store, run_id)
    assert view.status == "succeeded"
    tried = attempts.read_text().split()
    assert tried.count(f"run-{run_id}/first") == 1  # completed before the kill: not repeated
    assert tried.count(f"run-{run_id}/second") == 2  # interrupted: re-run with the same key
    assert effects.read_text().split() == [
        f"run-{run_id}/first",
        f"run-{run_id}/second",
        f"run-{run_id}/third",
    ]
    store.close()
