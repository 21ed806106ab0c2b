"""Several playbook workers as separate processes on one store, racing for runs: a fault harness.

:func:`run_lease_race` queues runs whose first step is longer than the workers' lease, starts
real worker processes (``python -m airsoc.testing.workers``, each a
:class:`~airsoc.response.runner.PlaybookRunner` on the wall clock) against one shared store, and
optionally injects a fault into one of them while it is inside a long step:

- ``kill_one``: ``SIGKILL``; another worker must take the run over once the lease expires;
- ``stall_one``: ``SIGSTOP`` until another worker took the run over, then ``SIGCONT``; the
  stalled worker wakes with a stale fencing token and must be refused.

Each step's action applies its side effect by inserting a row (an incident communication whose
body is the step's idempotency key) in the step's fenced transaction. Nothing dedups the rows, so
counting them per key shows whether a side effect was applied twice, or never.

Example (a race starts worker processes, which import the whole response stack: several
seconds, so the race itself is not run here; ``tests/faults/test_leases.py`` runs it for real):
    >>> import shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> result = run_lease_race(f"sqlite:///{folder}/race.db", workers=2,  # doctest: +SKIP
    ...                         runs=2, lease_seconds=1.0, step_seconds=0.2)
    >>> result.planned, result.executed, result.duplicated, result.finished  # doctest: +SKIP
    (4, 4, 0, 2)
    >>> run_lease_race(f"sqlite:///{folder}/race.db", runs=2, lease_seconds=1.0,
    ...                step_seconds=3.0, kill_one=True, workers=1)
    Traceback (most recent call last):
    ...
    ValueError: a fault needs a second worker to take over; workers=1
    >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import func, select

import airsoc
from airsoc.clock import SystemClock
from airsoc.incidents.service import declare_incident
from airsoc.response.actions import Action, ActionContext, ActionResult, ResponseServices
from airsoc.response.lifecycle import FINAL_RUN_STATUSES, RunStatus, StepStatus
from airsoc.response.models import CommunicationRow, PlaybookRunRow, StepStateRow
from airsoc.response.playbooks import Playbook, parse_playbook
from airsoc.response.registry import default_registry
from airsoc.response.runner import PlaybookRunner
from airsoc.response.runs import start_run
from airsoc.settings import Settings, normalize_database_url
from airsoc.store import Store

__all__ = ["EFFECT_KIND", "LeaseRaceResult", "RecordedEffect", "race_playbook", "run_lease_race"]

#: The ``kind`` of the communication rows the race's side effects insert.
EFFECT_KIND = "lease_race_effect"
#: The step whose action runs longer than the lease.
LONG_STEP = "long"
_FINAL = [s.value for s in FINAL_RUN_STATUSES]


class RecordedEffect(Action):
    """Blocks for ``seconds`` without checking anything, then inserts one row, fenced.

    The wait is deliberately not cooperative (a blocking call that never looks at
    ``ctx.cancelled``): only the fence in ``ctx.transaction()`` stands between a worker that lost
    its run and a second row.
    """

    name = "record_effect"
    summary = "wait, then record one side effect"

    class Params(BaseModel):
        seconds: float = Field(default=0.0, ge=0)

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Wait, then insert the effect row and record the effect, in one fenced transaction."""
        time.sleep(ctx.params.seconds)
        result = ActionResult(output={"key": ctx.idempotency_key}, summary="effect recorded")
        with ctx.transaction() as s:
            s.add(
                CommunicationRow(
                    incident_id=ctx.incident_id,
                    kind=EFFECT_KIND,
                    body=ctx.idempotency_key,
                    author=ctx.actor,
                    at=ctx.clock.now(),
                )
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say how long it waits."""
        return f"wait {ctx.params.seconds}s, then record one side effect"


def race_playbook(step_seconds: float) -> Playbook:
    """Return the race's playbook: a step of ``step_seconds``, then a short one.

    >>> [s.id for s in race_playbook(3.0).steps]
    ['long', 'short']
    """
    registry = default_registry(plugins=False)
    registry.register(RecordedEffect())
    return parse_playbook(
        "name: lease-race\n"
        "steps:\n"
        f"  - {{id: {LONG_STEP}, action: record_effect, with: {{seconds: {step_seconds}}}}}\n"
        "  - {id: short, action: record_effect}\n",
        registry=registry,
    )


@dataclass(frozen=True)
class LeaseRaceResult:
    """What a race did: side effects planned and applied, attempts, faults and recovery.

    >>> LeaseRaceResult(planned=2, executed=2, duplicated=0, missing=0, attempts=3,
    ...                 finished=1, runs=1, leases_lost=1, recovery_seconds=1.5).exactly_once
    True
    """

    #: Side effects the runs should apply: one per step of every run.
    planned: int
    #: Side-effect rows found in the store.
    executed: int
    #: Rows beyond the first for the same step.
    duplicated: int
    #: Planned side effects with no row.
    missing: int
    #: Step attempts the workers started (more than ``planned`` when a step was taken over).
    attempts: int
    #: Runs that ended ``succeeded``.
    finished: int
    runs: int
    #: Times a worker found its run taken over and stopped acting on it (from workers that
    #: exited normally).
    leases_lost: int
    #: From the fault until the faulted step succeeded elsewhere; None without a fault.
    recovery_seconds: float | None
    #: The worker ids that exited with a non-zero status (other than the one killed).
    crashed: tuple[str, ...] = ()
    #: How the injected fault went, one line per attempt.
    fault_log: tuple[str, ...] = field(default=())

    @property
    def exactly_once(self) -> bool:
        """Return True when every planned side effect was applied once and every run finished."""
        return (
            self.executed == self.planned
            and self.duplicated == 0
            and self.missing == 0
            and self.finished == self.runs
        )


@dataclass
class _Worker:
    worker_id: str
    process: subprocess.Popen[bytes]
    log_path: Path
    summary_path: Path
    killed: bool = False


def run_lease_race(
    database_url: str,
    *,
    workers: int = 3,
    runs: int,
    lease_seconds: float,
    step_seconds: float,
    kill_one: bool = False,
    stall_one: bool = False,
    data_dir: str | Path | None = None,
    deadline_seconds: float = 300.0,
) -> LeaseRaceResult:
    """Race ``workers`` worker processes over ``runs`` runs on the store at ``database_url``.

    ``data_dir`` holds the audit key the workers share and their logs (a temporary folder,
    removed afterwards, when not given). Waits for every run to end or ``deadline_seconds``;
    then stops every worker still running and counts what the store holds.
    """
    _check_race(workers, runs, lease_seconds, step_seconds, kill_one, stall_one)
    own_dir = data_dir is None
    folder = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="airsoc-"))
    settings = Settings(data_dir=folder, database_url=normalize_database_url(database_url))
    store = Store.open(settings)
    pool: list[_Worker] = []
    try:
        run_ids = _queue_runs(store, runs=runs, step_seconds=step_seconds)
        pool = [
            _spawn(settings, f"race-w{i}", lease_seconds, run_ids, deadline_seconds)
            for i in range(workers)
        ]
        deadline = time.monotonic() + deadline_seconds
        recovery: float | None = None
        fault_log: list[str] = []
        if kill_one or stall_one:
            recovery = _inject(
                store, pool, run_ids, lease_seconds, step_seconds, deadline, stall_one, fault_log
            )
        _wait_until(lambda: all(w.process.poll() is not None for w in pool), deadline)
        for worker in pool:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait()
        return _count(store, run_ids, pool, recovery, fault_log)
    finally:
        for worker in pool:
            if worker.process.poll() is None:
                _resume(worker)
                worker.process.kill()
                worker.process.wait()
        store.close()
        if own_dir:
            shutil.rmtree(folder, ignore_errors=True)


def _check_race(
    workers: int,
    runs: int,
    lease_seconds: float,
    step_seconds: float,
    kill_one: bool,
    stall_one: bool,
) -> None:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    if lease_seconds <= 0:
        raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
    if step_seconds < 0:
        raise ValueError(f"step_seconds must not be negative, got {step_seconds}")
    if kill_one and stall_one:
        raise ValueError("choose one fault: kill_one or stall_one, not both")
    if (kill_one or stall_one) and workers < 2:
        raise ValueError(f"a fault needs a second worker to take over; workers={workers}")


def _queue_runs(store: Store, *, runs: int, step_seconds: float) -> list[int]:
    clock = SystemClock()
    playbook = race_playbook(step_seconds)
    ids: list[int] = []
    with store.transaction() as s:
        for number in range(runs):
            incident = declare_incident(
                s,
                clock=clock,
                actor="lease-race",
                system="lease-race",
                failure_mode="pipeline_fault",
                summary=f"lease race run {number + 1}",
            )
            run = start_run(
                s, clock=clock, playbook=playbook, incident_id=incident.id, started_by="race"
            )
            ids.append(run.id)
    return ids


def _spawn(
    settings: Settings, worker_id: str, lease_seconds: float, run_ids: list[int], deadline: float
) -> _Worker:
    log_path = settings.data_dir / f"{worker_id}.log"
    summary_path = settings.data_dir / f"{worker_id}.json"
    source_root = str(Path(airsoc.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": source_root + (os.pathsep + path if path else "")}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airsoc.testing.workers",
                "--database-url",
                settings.database_url,
                "--data-dir",
                str(settings.data_dir),
                "--worker-id",
                worker_id,
                "--lease",
                str(lease_seconds),
                "--runs",
                ",".join(map(str, run_ids)),
                "--deadline",
                str(deadline),
                "--summary",
                str(summary_path),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return _Worker(worker_id, process, log_path, summary_path)


def _wait_until(condition: Callable[[], bool], deadline: float, every: float = 0.02) -> bool:
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)


def _resume(worker: _Worker) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        worker.process.send_signal(signal.SIGCONT)


def _in_long_step(store: Store, run_ids: list[int], pool: list[_Worker]) -> tuple[int, _Worker]:
    """Return a run whose long step is running now, and the live worker holding it, or raise."""
    live = {w.worker_id: w for w in pool if w.process.poll() is None and not w.killed}
    with store.read() as s:
        rows = s.execute(
            select(PlaybookRunRow.id, PlaybookRunRow.claimed_by)
            .join(StepStateRow, StepStateRow.run_id == PlaybookRunRow.id)
            .where(
                PlaybookRunRow.id.in_(run_ids),
                PlaybookRunRow.status == RunStatus.RUNNING.value,
                StepStateRow.step_id == LONG_STEP,
                StepStateRow.status == StepStatus.RUNNING.value,
            )
        ).all()
    for run_id, holder in rows:
        if holder in live:
            return run_id, live[holder]
    raise LookupError("no live worker is inside a long step")


def _long_step(store: Store, run_id: int) -> tuple[str, str | None, int]:
    """Return the long step's status, who holds its run, and its attempts so far."""
    with store.read() as s:
        row = s.execute(
            select(StepStateRow.status, PlaybookRunRow.claimed_by, StepStateRow.attempts)
            .join(PlaybookRunRow, StepStateRow.run_id == PlaybookRunRow.id)
            .where(StepStateRow.run_id == run_id, StepStateRow.step_id == LONG_STEP)
        ).one()
    return str(row[0]), row[1], int(row[2])


def _inject(
    store: Store,
    pool: list[_Worker],
    run_ids: list[int],
    lease_seconds: float,
    step_seconds: float,
    deadline: float,
    stall: bool,
    fault_log: list[str],
) -> float | None:
    """Kill (or stall) a worker inside a long step; return seconds until that step succeeded."""
    for _ in range(5):
        outcome = _fault_once(
            store, pool, run_ids, lease_seconds, step_seconds, deadline, stall, fault_log
        )
        if outcome != "again":
            return outcome if isinstance(outcome, float) else None
    return None


def _fault_once(
    store: Store,
    pool: list[_Worker],
    run_ids: list[int],
    lease_seconds: float,
    step_seconds: float,
    deadline: float,
    stall: bool,
    fault_log: list[str],
) -> float | str | None:
    found: list[tuple[int, _Worker]] = []

    def inside() -> bool:
        try:
            found.append(_in_long_step(store, run_ids, pool))
        except LookupError:
            return False
        return True

    if not _wait_until(inside, deadline):
        fault_log.append("no worker was inside a long step before the deadline")
        return None
    run_id, victim = found[-1]
    started = time.monotonic()
    if not stall:
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        victim.killed = True
        fault_log.append(f"killed {victim.worker_id} inside run {run_id}")
    else:
        victim.process.send_signal(signal.SIGSTOP)
        attempts = _long_step(store, run_id)[2]
        # Woken once another worker has taken the run over *and started the step again*, so a
        # side effect the stalled worker still made would be a second one. Stopped inside a
        # short store transaction it would block the others; then it is woken after a few
        # leases with nothing taken over, and the stall is tried again.
        taken = _wait_until(
            lambda: _long_step(store, run_id)[2] > attempts,
            min(deadline, started + 4 * lease_seconds + 2 * step_seconds + 5.0),
        )
        _resume(victim)
        fault_log.append(
            f"stalled {victim.worker_id} inside run {run_id}: "
            + ("taken over" if taken else "not taken over; woken")
        )
        if not taken:
            return "again"
    if _wait_until(lambda: _long_step(store, run_id)[0] == StepStatus.SUCCEEDED, deadline):
        return time.monotonic() - started
    fault_log.append(f"the long step of run {run_id} never succeeded after the fault")
    return None


def _count(
    store: Store,
    run_ids: list[int],
    pool: list[_Worker],
    recovery: float | None,
    fault_log: list[str],
) -> LeaseRaceResult:
    with store.read() as s:
        incidents = list(
            s.execute(
                select(PlaybookRunRow.incident_id).where(PlaybookRunRow.id.in_(run_ids))
            ).scalars()
        )
        rows = Counter(
            s.execute(
                select(CommunicationRow.body).where(
                    CommunicationRow.incident_id.in_(incidents),
                    CommunicationRow.kind == EFFECT_KIND,
                )
            ).scalars()
        )
        attempts = s.execute(
            select(func.coalesce(func.sum(StepStateRow.attempts), 0)).where(
                StepStateRow.run_id.in_(run_ids)
            )
        ).scalar_one()
        finished = s.execute(
            select(func.count()).where(
                PlaybookRunRow.id.in_(run_ids),
                PlaybookRunRow.status == RunStatus.SUCCEEDED.value,
            )
        ).scalar_one()
    steps = [step.id for step in race_playbook(0).steps]
    planned = {f"run-{r}/{step}" for r in run_ids for step in steps}
    lost = 0
    crashed: list[str] = []
    for worker in pool:
        if worker.summary_path.exists():
            lost += int(json.loads(worker.summary_path.read_text())["leases_lost"])
        if worker.process.returncode != 0 and not worker.killed:
            crashed.append(worker.worker_id)
    return LeaseRaceResult(
        planned=len(planned),
        executed=sum(rows.values()),
        duplicated=sum(n - 1 for n in rows.values() if n > 1),
        missing=len(planned - set(rows)),
        attempts=int(attempts),
        finished=int(finished),
        runs=len(run_ids),
        leases_lost=lost,
        recovery_seconds=recovery,
        crashed=tuple(crashed),
        fault_log=tuple(fault_log),
    )


# --- the worker process -------------------------------------------------------------------------


def _work(argv: Sequence[str] | None = None) -> int:
    """Run one worker until every given run ended (or the deadline); write a JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m airsoc.testing.workers")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lease", type=float, required=True)
    parser.add_argument("--runs", required=True, help="run ids, comma-separated")
    parser.add_argument("--deadline", type=float, default=300.0)
    parser.add_argument("--summary", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s {args.worker_id} %(levelname)s %(name)s: %(message)s",
    )
    run_ids = [int(r) for r in args.runs.split(",")]
    settings = Settings(data_dir=Path(args.data_dir), database_url=args.database_url)
    store = Store.open(settings, migrate=False)  # the harness migrated it
    registry = default_registry(plugins=False)
    registry.register(RecordedEffect())
    runner = PlaybookRunner(
        store=store,
        clock=SystemClock(),
        registry=registry,
        worker_id=args.worker_id,
        services=ResponseServices(store=store, settings=store.settings),
        lease=timedelta(seconds=args.lease),
    )
    idle = threading.Event()
    stop_at = time.monotonic() + args.deadline
    advanced: list[int] = []
    try:
        while time.monotonic() < stop_at:
            advanced += runner.run_until_idle()
            with store.read() as s:
                open_runs = s.execute(
                    select(func.count()).where(
                        PlaybookRunRow.id.in_(run_ids), PlaybookRunRow.status.not_in(_FINAL)
                    )
                ).scalar_one()
            if not open_runs:
                break
            idle.wait(min(0.2, args.lease / 4))  # nothing claimable now: look again shortly
    finally:
        store.close()
    Path(args.summary).write_text(
        json.dumps(
            {
                "worker": args.worker_id,
                "advanced": advanced,
                "leases_lost": runner.leases_lost,
            }
        )
    )
    return 0


if __name__ == "__main__":  # pragma: no cover - runs in the worker processes
    raise SystemExit(_work())
