"""Benchmark of airsoc under faults: real ``airsoc up`` processes, real clients, one table.

Run: ``python bench/bench_faults.py`` (``--clients N`` for the load of the signal rows).

Every row starts ``airsoc up`` as its own process on free ports (SQLite store, scikit-learn
model behind the gateway, alerts routed to a local webhook) and injects one fault with
:mod:`airsoc.testing.faults`:

- baseline: the same load as the signal rows, stopped once the clients stopped (no request in
  flight), measured in the same run;
- SIGTERM / SIGINT under N client threads (default 20): signal once 300 predictions are
  acknowledged; count what reached disk after the process exited;
- 100 telemetry write errors (the event log's next 100 writes fail with EIO) under 4 clients;
  recovery: from the 100th failed write until ``/readyz`` answers 200 again;
- hostile label requests (``row_index`` 2**31, a lone surrogate); recovery: from the hostile
  requests until a later prediction is on disk;
- database locked past the busy timeout (another process holds ``BEGIN IMMEDIATE`` until
  ``/readyz`` has failed, with a 1 s busy timeout and 0.5 s ticks) under 4 clients; recovery:
  from the release until ``/readyz`` answers 200 again;
- a database locked while a playbook step is in flight (the step's result cannot be recorded):
  steps executed against planned; recovery: from the release until the run finished;
- worker plugins that raise (a detector until it is fixed, a playbook action once): steps
  executed against planned (the action's side effects, by idempotency key); recovery: from the
  fix until the detector's ``platform_fault`` alert resolves;
- lease expiry (3 worker processes, 1 s lease, 3 s steps) and kill -9 mid-step, through
  ``airsoc.testing.workers.run_lease_race`` when it is installed.

Columns: events acknowledged (200), written (on disk), lost (acknowledged, not on disk),
duplicated (on disk twice); steps executed / planned; seconds until recovery; the target and
whether it is met.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from airsoc.testing.faults import (
    FLAKY_MONITOR_CONFIG,
    LEDGER_PLAYBOOK,
    FaultPlan,
    LoadClients,
    SqliteWriteLock,
    UpProcess,
    account,
    config_text,
    ledger_keys,
    platform_fault_alerts,
    prepare_system,
    wait_until,
    write_plugin_dist,
    written_request_ids,
)
from airsoc.testing.receivers import HttpSink, http_sink

TICK = 0.5
BUSY_TIMEOUT_MS = 1000


@dataclass
class Row:
    """One fault's line of the table."""

    fault: str
    acknowledged: int | None = None
    written: int | None = None
    lost: int | None = None
    duplicated: int | None = None
    executed: int | None = None
    planned: int | None = None
    recovery: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="airsoc-bench-faults-"))


def _config(folder: Path, sink: HttpSink, **kw: Any) -> Path:
    path = folder / "airsoc.yaml"
    path.write_text(config_text(sink.url + "/hook", **kw), encoding="utf-8")
    return path


def _events_row(name: str, acknowledged: list[str], telemetry: Path) -> Row:
    result = account(acknowledged, written_request_ids(telemetry))
    return Row(
        name,
        acknowledged=result.acknowledged,
        written=result.written,
        lost=result.lost,
        duplicated=result.duplicated,
    )


# --------------------------------------------------------------------------- the faults


def stop_under_load(name: str, signum: signal.Signals | None, clients: int, events: int) -> Row:
    """Load the gateway with ``clients`` threads, then send ``signum`` while they still send.

    Without ``signum`` (the baseline) the clients stop first and the platform is stopped idle.
    """
    folder = _folder()
    data = folder / "data"
    prepare_system(data)
    with http_sink() as sink, UpProcess(config=_config(folder, sink), data_dir=data) as up:
        load = LoadClients(up.gateway_url, threads=clients, prefix="s").start()
        wait_until(lambda: load.count() >= events, "load on the gateway", timeout=600)
        if signum is None:
            load.stop()
        started = time.monotonic()
        up.signal(signum or signal.SIGTERM)
        code = up.wait()
        load.wait_gone()
        took = time.monotonic() - started
    row = _events_row(name, load.acknowledged, data / "telemetry")
    row.note = (
        f"exit {code}, stop took {took:.1f} s, answers {dict(load.statuses)}, "
        f"{load.unanswered} requests unanswered (connection closed or refused)"
    )
    return row


def write_errors() -> Row:
    """The event log's next 100 writes fail; 4 clients keep sending."""
    folder = _folder()
    data = folder / "data"
    prepare_system(data)
    trigger, progress = folder / "fail-now", folder / "injected"
    plan = FaultPlan(write_errors=100, write_errors_after=str(trigger), progress=str(progress))

    def injected() -> int:
        return int(progress.read_text(encoding="utf-8")) if progress.exists() else 0

    with http_sink() as sink:
        config = _config(folder, sink, telemetry="{retry_max: 100ms}")
        with UpProcess(config=config, data_dir=data, plan=plan, tick=0.2) as up:
            load = LoadClients(up.gateway_url, threads=4, prefix="w").start()
            wait_until(lambda: load.count() >= 20, "predictions before the fault")
            trigger.touch()
            wait_until(lambda: injected() >= 100, "100 injected write errors", interval=0.01)
            last_error = time.monotonic()
            wait_until(lambda: up.readyz() == 200, "/readyz to recover", interval=0.01)
            recovery = time.monotonic() - last_error
            wait_until(
                lambda: bool(platform_fault_alerts(sink, part="event-log writer")), "self-alert"
            )
            load.stop()
            up.stop()
    name = "100 telemetry write errors, 4 clients"
    row = _events_row(name, load.acknowledged, data / "telemetry")
    row.recovery = recovery
    return row


def hostile_labels() -> Row:
    """Two hostile label requests between two bursts of predictions."""
    folder = _folder()
    data = folder / "data"
    prepare_system(data)
    with http_sink() as sink:
        config = _config(folder, sink)
        with UpProcess(config=config, data_dir=data) as up:
            before = LoadClients(up.gateway_url, threads=2, prefix="before").start()
            wait_until(lambda: before.count() >= 50, "predictions before")
            before.stop()
            statuses = []
            for body in (
                b'{"labels": [{"request_id": "x", "label": 1, "row_index": 2147483648}]}',
                b'{"labels": [{"request_id": "\\ud800", "label": 1}]}',
            ):
                statuses.append(
                    httpx.post(
                        f"{up.gateway_url}/v1/systems/fraud/labels",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    ).status_code
                )
            sent = time.monotonic()
            after = LoadClients(up.gateway_url, threads=1, prefix="after").start()
            wait_until(lambda: after.count() >= 1, "a prediction after")
            first = after.acknowledged[0]
            wait_until(lambda: first in written_request_ids(data / "telemetry"), "it on disk")
            recovery = time.monotonic() - sent
            after.stop()
            up.stop()
    row = _events_row(
        "hostile label requests", before.acknowledged + after.acknowledged, data / "telemetry"
    )
    row.recovery = recovery
    row.note = f"label requests answered {statuses}"
    return row


def database_locked() -> Row:
    """Another process holds the write lock past the busy timeout; 4 clients keep sending."""
    folder = _folder()
    data = folder / "data"
    prepare_system(data)
    with http_sink() as sink:
        config = _config(folder, sink)
        plan = FaultPlan(busy_timeout_ms=BUSY_TIMEOUT_MS)
        with UpProcess(config=config, data_dir=data, plan=plan, tick=TICK) as up:
            wait_until(lambda: up.readyz() == 200, "ready")
            load = LoadClients(up.gateway_url, threads=4, prefix="l").start()
            with SqliteWriteLock(data / "airsoc.db") as lock:
                wait_until(lambda: up.readyz() == 503, "/readyz to fail")
                # Held well past the busy timeout: several rounds fail while it lasts.
                since = lock.acquired_at or 0.0
                wait_until(
                    lambda: time.monotonic() - since > 3 * BUSY_TIMEOUT_MS / 1000,
                    "three busy timeouts",
                )
                held = time.monotonic() - (lock.acquired_at or 0.0)
                released = lock.release()
            wait_until(lambda: up.readyz() == 200, "/readyz to recover", interval=0.01)
            recovery = time.monotonic() - released
            wait_until(
                lambda: any(
                    a["status"] == "resolved" for a in platform_fault_alerts(sink, part="store")
                ),
                "the store's self-alert, fired and resolved",
            )
            sent = [a["status"] for a in platform_fault_alerts(sink, part="store")]
            load.stop()
            up.stop()
    row = _events_row(
        f"database locked {held:.1f} s (busy timeout {BUSY_TIMEOUT_MS / 1000:g} s)",
        load.acknowledged,
        data / "telemetry",
    )
    row.recovery = recovery
    row.note = f"self-alert notifications: {sent}"
    return row


def worker_raises() -> Row:
    """A detector plugin raises until fixed; the playbook's action plugin raises once."""
    folder = _folder()
    data = folder / "data"
    prepare_system(data)
    raising, once, ledger = folder / "raise", folder / "raise-once", folder / "ledger"
    raising.touch()
    once.touch()
    plan = FaultPlan(
        evaluator_raises_while=str(raising), action_raises_once=str(once), ledger=str(ledger)
    )
    part = "monitor/flaky"
    with http_sink() as sink:
        config = _config(folder, sink, extra=FLAKY_MONITOR_CONFIG)
        (folder / "record.yaml").write_text(LEDGER_PLAYBOOK, encoding="utf-8")
        plugins = write_plugin_dist(folder / "plugins")
        with UpProcess(config=config, data_dir=data, plan=plan, plugin_path=plugins) as up:
            load = LoadClients(up.gateway_url, threads=1, prefix="p").start()
            wait_until(lambda: load.count() >= 5, "telemetry in the window")
            load.stop()
            wait_until(lambda: bool(platform_fault_alerts(sink, part=part)), "self-alert")
            raising.unlink()
            fixed = time.monotonic()
            wait_until(
                lambda: any(
                    a["status"] == "resolved" for a in platform_fault_alerts(sink, part=part)
                ),
                "the self-alert to resolve",
            )
            recovery = time.monotonic() - fixed
            wait_until(lambda: len(ledger_keys(ledger)) >= 2, "both steps")
            settle = time.monotonic()
            # A few more rounds: a step applied twice would show up here.
            wait_until(lambda: time.monotonic() - settle > 5 * TICK * 2, "more rounds")
            up.stop()
    keys = ledger_keys(ledger)
    return Row(
        "worker plugins raise (detector, action once)",
        executed=sum(keys.values()),
        planned=2,
        duplicated=sum(n - 1 for n in keys.values()),
        recovery=recovery,
        note="action raised once" if not once.exists() else "action never raised",
    )


def _step_states(data: Path) -> list[tuple[str, str]]:
    from airsoc.response.runs import list_runs
    from airsoc.settings import Settings
    from airsoc.store import Store

    store = Store.open(Settings.resolve(data_dir=data, environ={}), migrate=False)
    try:
        with store.read() as s:
            return [(r.status, st.status) for r in list_runs(s) for st in r.steps]
    finally:
        store.close()


def database_locked_mid_step(patience: float) -> Row:
    """The write lock is taken while a playbook step runs (2 s) and held 3 busy timeouts: the
    step's result cannot be recorded. Recovery: from the release until the run has finished
    (given up after ``patience`` seconds)."""
    folder = _folder()
    data = folder / "data"
    prepare_system(data)
    ledger = folder / "ledger"
    plan = FaultPlan(busy_timeout_ms=BUSY_TIMEOUT_MS, ledger=str(ledger), action_seconds=2.0)
    recovery: float | None = None
    with http_sink() as sink:
        config = _config(folder, sink, extra=FLAKY_MONITOR_CONFIG)
        (folder / "record.yaml").write_text(LEDGER_PLAYBOOK, encoding="utf-8")
        plugins = write_plugin_dist(folder / "plugins")
        with UpProcess(
            config=config, data_dir=data, plan=plan, plugin_path=plugins, tick=TICK
        ) as up:
            load = LoadClients(up.gateway_url, threads=1, prefix="m").start()
            wait_until(lambda: load.count() >= 5, "telemetry in the window")
            load.stop()
            wait_until(lambda: ("running", "running") in _step_states(data), "a step in flight")
            with SqliteWriteLock(data / "airsoc.db") as lock:
                since = lock.acquired_at or 0.0
                wait_until(
                    lambda: time.monotonic() - since > 3 * BUSY_TIMEOUT_MS / 1000,
                    "three busy timeouts",
                )
                released = lock.release()
            try:
                wait_until(
                    lambda: {run for run, _ in _step_states(data)} == {"succeeded"},
                    "the run to finish",
                    timeout=patience,
                    interval=0.2,
                )
                recovery = time.monotonic() - released
            except TimeoutError:
                pass
            up.stop()
    keys = ledger_keys(ledger)
    return Row(
        "database locked mid-step (run in flight)",
        executed=sum(keys.values()),
        planned=2,
        duplicated=sum(n - 1 for n in keys.values()),
        recovery=recovery,
        note=(
            f"runs/steps: {_step_states(data)}"
            if recovery is not None
            else f"the run had not finished {patience:.0f} s after the release: "
            f"{_step_states(data)}"
        ),
    )


def _postgres_database() -> tuple[str, Callable[[], None]] | None:
    """Create a scratch PostgreSQL database; return its URL and how to drop it (None when no
    server answers at ``AIRSOC_TEST_POSTGRES_URL``)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    admin_url = os.environ.get(
        "AIRSOC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    name = f"airsoc_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError:
        admin.dispose()
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def lease_rows() -> list[Row]:
    """Lease expiry and kill -9 mid-step (3 worker processes, 1 s lease, 3 s steps), on SQLite
    and PostgreSQL, when ``airsoc.testing.workers`` is installed."""
    names = ("lease expiry, 3 processes", "kill -9 mid-step")
    try:
        workers = importlib.import_module("airsoc.testing.workers")
    except ImportError:
        return [Row(name, note="not available") for name in names]
    race: Callable[..., Any] = workers.run_lease_race
    rows = []
    for backend in ("SQLite", "PostgreSQL"):
        for name, kill in zip(names, (False, True), strict=True):
            label = f"{name} ({backend})"
            drop: Callable[[], None] | None = None
            if backend == "SQLite":
                url = f"sqlite:///{_folder()}/race.db"
            else:
                created = _postgres_database()
                if created is None:
                    rows.append(Row(label, note="no PostgreSQL server answers"))
                    continue
                url, drop = created
            try:
                result = race(
                    url, workers=3, runs=4, lease_seconds=1.0, step_seconds=3.0, kill_one=kill
                )
            finally:
                if drop is not None:
                    drop()
            rows.append(
                Row(
                    label,
                    executed=result.executed,
                    planned=result.planned,
                    duplicated=result.duplicated,
                    recovery=result.recovery_seconds,
                )
            )
    return rows


# --------------------------------------------------------------------------- the table


def _cell(value: float | int | None, fmt: str = "d") -> str:
    return "-" if value is None else format(value, fmt)


def judge(rows: list[Row]) -> None:
    """Set each row's target and whether it is met."""
    for row in rows:
        if row.note in ("not available", "no PostgreSQL server answers"):
            continue
        if row.fault.startswith(("SIGTERM", "SIGINT")):
            row.target, row.met = "0 lost, 0 duplicated", row.lost == 0 and row.duplicated == 0
        elif row.fault.startswith("100 telemetry"):
            row.target, row.met = "0 lost", row.lost == 0
        elif row.fault.startswith("database locked mid-step"):
            row.target = "run finishes, executed == planned, 0 dup"
            row.met = (
                row.recovery is not None and row.executed == row.planned and row.duplicated == 0
            )
        elif row.fault.startswith("database locked"):
            row.target = f"recovery <= 2 ticks ({2 * TICK:g} s)"
            row.met = row.recovery is not None and row.recovery <= 2 * TICK
        elif row.executed is not None:
            row.target = "executed == planned, 0 duplicated"
            row.met = row.executed == row.planned and row.duplicated == 0
        elif row.lost is not None:
            row.target, row.met = "0 lost", row.lost == 0


def print_table(rows: list[Row]) -> None:
    """Print the one table."""
    header = (
        f"{'fault':48} {'acked':>7} {'written':>7} {'lost':>5} {'dup':>4} "
        f"{'steps':>7} {'recovery s':>10}  {'target':40} met"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        steps = "-" if r.executed is None else f"{r.executed}/{r.planned}"
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        print(
            f"{r.fault:48} {_cell(r.acknowledged):>7} {_cell(r.written):>7} {_cell(r.lost):>5} "
            f"{_cell(r.duplicated):>4} {steps:>7} {_cell(r.recovery, '.2f'):>10}  "
            f"{r.target:40} {met}"
        )
    notes = [f"  {r.fault}: {r.note}" for r in rows if r.note]
    if notes:
        print("notes:")
        print("\n".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="client threads for the signals")
    parser.add_argument(
        "--events", type=int, default=2000, help="acknowledged predictions before the signal"
    )
    parser.add_argument(
        "--patience", type=float, default=90.0, help="seconds to wait for a run to recover"
    )
    args = parser.parse_args()
    rows = [
        stop_under_load(
            f"baseline: no fault, {args.clients} clients", None, args.clients, args.events
        ),
        stop_under_load(
            f"SIGTERM, {args.clients} clients", signal.SIGTERM, args.clients, args.events
        ),
        stop_under_load(
            f"SIGINT, {args.clients} clients", signal.SIGINT, args.clients, args.events
        ),
        write_errors(),
        hostile_labels(),
        database_locked(),
        worker_raises(),
        database_locked_mid_step(args.patience),
        *lease_rows(),
    ]
    judge(rows)
    print_table(rows)


if __name__ == "__main__":
    main()
