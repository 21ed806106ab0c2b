"""Faults injected into a real ``airsoc up`` process, and the clients and counts that judge it.

:class:`UpProcess` starts ``airsoc up`` as a child process on free ports. Its faults come from
a :class:`FaultPlan` the child reads from the ``AIRSOC_FAULTS`` environment variable in
:func:`child_main` (the child's entry point, never imported by airsoc itself):

- ``write_errors``: the event log's next N write attempts fail with ``OSError(EIO)`` (once the
  file ``write_errors_after`` exists, when given); the number injected so far is written to
  ``progress``;
- ``busy_timeout_ms``: SQLite's busy timeout, shortened, so a lock held "past the busy timeout"
  (:class:`SqliteWriteLock`, another process) does not take a minute;
- ``evaluator_raises_while`` and ``action_raises_once``: files that make the plugins
  :func:`flaky_detector` (entry point ``airsoc.evaluators``) and :class:`LedgerAction`
  (``airsoc.actions``) raise an error that is not an airsoc error. :func:`write_plugin_dist`
  declares both as entry points of a distribution the child finds on its ``PYTHONPATH``, so they
  are loaded the way any installed plugin is. The ledger action appends its idempotency key to
  the file ``ledger``: a key written twice is a side effect applied twice. ``action_seconds``
  makes each of its steps last that long (the side effect is applied at the end).

:class:`LoadClients` sends predictions from many threads, each with its own ``X-Request-ID``, and
remembers which were acknowledged (200); :func:`account` compares them with the prediction events
on disk (:func:`written_request_ids`): acknowledged, written, lost, duplicated.

Example:
    >>> plan = FaultPlan(write_errors=100, busy_timeout_ms=500)
    >>> FaultPlan.from_env({FAULTS_ENV: plan.to_env()}) == plan
    True
    >>> from collections import Counter
    >>> account(["a", "b", "c"], Counter({"a": 1, "b": 2, "x": 1}))
    EventAccount(acknowledged=3, written=3, lost=1, duplicated=1)
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from airsoc.detection.verdict import Verdict
from airsoc.response.actions import Action, ActionContext, ActionResult
from airsoc.testing import free_port
from airsoc.testing.receivers import HttpSink

__all__ = [
    "FAULTS_ENV",
    "FLAKY_MONITOR_CONFIG",
    "LEDGER_PLAYBOOK",
    "PREDICT_ROW",
    "EventAccount",
    "FaultPlan",
    "LedgerAction",
    "LoadClients",
    "SqliteWriteLock",
    "UpProcess",
    "account",
    "child_main",
    "config_text",
    "flaky_detector",
    "install_faults",
    "ledger_keys",
    "platform_fault_alerts",
    "prepare_system",
    "scratch_folder",
    "wait_until",
    "write_plugin_dist",
    "written_request_ids",
]

#: The environment variable the child reads its :class:`FaultPlan` from.
FAULTS_ENV = "AIRSOC_FAULTS"
#: The features of the system :func:`prepare_system` serves, and one row of them.
FEATURES = {"amount": "number", "age": "number", "hour": "number"}
PREDICT_ROW = {"amount": 400.0, "age": 35.0, "hour": 2.0}

#: The ``airsoc.yaml`` additions that make the worker fail: a monitor of the plugin detector
#: :func:`flaky_detector`, a rule declaring its incidents, and :data:`LEDGER_PLAYBOOK`.
FLAKY_MONITOR_CONFIG = """\
monitors:
  - {name: flaky, system: fraud, detector: flaky_detector, window: 1h, window_kind: sliding,
     every: 1s, failure_mode: data_drift, severity: sev2,
     reference: {range: {start: "2020-01-01T00:00:00+00:00", end: "2020-01-02T00:00:00+00:00"}}}
incident_rules:
  - {when: 'failure_mode == "data_drift"', declare: true}
playbooks: [record.yaml]
"""
#: The playbook (``record.yaml``) whose two steps write the ledger; the first one retries.
LEDGER_PLAYBOOK = """\
name: record
on: {failure_mode: data_drift}
steps:
  - {id: first, action: ledger, on_failure: {retry: {attempts: 3, backoff: 0s}}}
  - {id: second, action: ledger}
"""


# --------------------------------------------------------------------------- the fault plan


@dataclass(frozen=True)
class FaultPlan:
    """The faults a child ``airsoc up`` injects into itself (see the module docstring)."""

    write_errors: int = 0
    write_errors_after: str | None = None
    progress: str | None = None
    busy_timeout_ms: int | None = None
    evaluator_raises_while: str | None = None
    action_raises_once: str | None = None
    ledger: str | None = None
    action_seconds: float = 0.0

    def to_env(self) -> str:
        """Return the plan as the value of ``AIRSOC_FAULTS``."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FaultPlan:
        """Return the plan in ``AIRSOC_FAULTS`` (no fault when it is not set)."""
        text = environ.get(FAULTS_ENV)
        return cls(**json.loads(text)) if text else cls()


def _plan() -> FaultPlan:
    return FaultPlan.from_env(os.environ)


def install_faults(plan: FaultPlan) -> None:
    """Patch this process so it suffers ``plan``'s write errors and busy timeout."""
    if plan.write_errors:
        _inject_write_errors(plan)
    if plan.busy_timeout_ms is not None:
        _shorten_busy_timeout(plan.busy_timeout_ms)


def _inject_write_errors(plan: FaultPlan) -> None:
    from airsoc.telemetry.log import EventLog

    real_write = EventLog._write
    lock = threading.Lock()
    injected = [0]

    def failing_write(self: EventLog, group: Any) -> None:
        with lock:
            armed = plan.write_errors_after is None or Path(plan.write_errors_after).exists()
            fail = armed and injected[0] < plan.write_errors
            if fail:
                injected[0] += 1
                if plan.progress:
                    tmp = Path(plan.progress + ".tmp")
                    tmp.write_text(str(injected[0]), encoding="utf-8")
                    os.replace(tmp, plan.progress)
        if fail:
            raise OSError(errno.EIO, f"injected write error {injected[0]} of {plan.write_errors}")
        real_write(self, group)

    EventLog._write = failing_write  # type: ignore[method-assign]


def _shorten_busy_timeout(milliseconds: int) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from airsoc.store import engine as store_engine

    real_create = store_engine._create_engine

    def create(settings: Any) -> Engine:
        created = real_create(settings)
        if created.dialect.name == "sqlite":

            @event.listens_for(created, "connect")
            def _busy(dbapi_connection: Any, _record: Any) -> None:
                # Runs after the store's own connect hook, so this timeout wins.
                dbapi_connection.execute(f"PRAGMA busy_timeout={int(milliseconds)}")

        return created

    store_engine._create_engine = create


def child_main() -> None:
    """Install the faults of ``AIRSOC_FAULTS``, then run the ``airsoc`` command line."""
    install_faults(_plan())
    from airsoc.cli.main import run

    run()


# --------------------------------------------------------------------------- plugins


def flaky_detector(monitor: Any, window: Any) -> list[Verdict]:
    """A detector plugin: raises ``RuntimeError`` while the plan's file exists, else drift."""
    path = _plan().evaluator_raises_while
    if path and Path(path).exists():
        raise RuntimeError("injected evaluator failure (not an airsoc error)")
    return [
        Verdict(
            detector="flaky_detector",
            method="injected",
            subject="window",
            decision="drift",
            reason="the injected detector reports drift",
        )
    ]


class LedgerParams(BaseModel):
    """No parameters: the ledger is named by the fault plan."""


class LedgerAction(Action):
    """A plugin action whose side effect is one line (its idempotency key) in the ledger file.

    It raises ``RuntimeError`` once, before acting, while the plan's ``action_raises_once``
    file exists (the file is removed).
    """

    name = "ledger"
    params_model = LedgerParams
    summary = "append the step's idempotency key to the ledger file"

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Append the key to the ledger (or raise once, before acting)."""
        plan = _plan()
        once = plan.action_raises_once
        if once and Path(once).exists():
            Path(once).unlink()
            raise RuntimeError("injected action failure (not an airsoc error)")
        if not plan.ledger:
            raise RuntimeError("the fault plan names no ledger file")
        if plan.action_seconds:
            time.sleep(plan.action_seconds)  # a long step, for faults that strike mid-step
        with open(plan.ledger, "a", encoding="utf-8") as fh:
            fh.write(ctx.idempotency_key + "\n")
        return ActionResult(output={"key": ctx.idempotency_key}, summary="wrote the ledger")

    def describe(self, ctx: ActionContext) -> str:
        """Say what it would write."""
        return "append the step's idempotency key to the ledger"


def ledger_keys(path: str | Path) -> Counter[str]:
    """Return how many times each key is in the ledger."""
    ledger = Path(path)
    if not ledger.exists():
        return Counter()
    return Counter(line for line in ledger.read_text(encoding="utf-8").splitlines() if line)


def write_plugin_dist(folder: str | Path) -> Path:
    """Write a distribution's metadata declaring :func:`flaky_detector` and
    :class:`LedgerAction` as entry points; put ``folder`` on a child's ``PYTHONPATH``."""
    dist = Path(folder) / "airsoc_fault_plugins-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: airsoc-fault-plugins\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[airsoc.evaluators]\nflaky_detector = airsoc.testing.faults:flaky_detector\n\n"
        "[airsoc.actions]\nledger = airsoc.testing.faults:LedgerAction\n",
        encoding="utf-8",
    )
    return Path(folder)


# --------------------------------------------------------------------------- the served system


def prepare_system(data_dir: str | Path, *, system: str = "fraud") -> None:
    """Create the store in ``data_dir``, register ``system`` with a scikit-learn model and serve
    it, so the gateway of an ``airsoc up`` on that data dir answers predictions."""
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from airsoc import lineage
    from airsoc.clock import SystemClock
    from airsoc.serving import control
    from airsoc.settings import Settings
    from airsoc.store import Store

    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    x = np.column_stack([rng.gamma(2, 50, 500), rng.normal(40, 12, 500), rng.uniform(0, 24, 500)])
    model_path = folder / "model-v1.joblib"
    joblib.dump(LogisticRegression(max_iter=500).fit(x, (x[:, 0] > 120).astype(int)), model_path)
    clock = SystemClock()
    store = Store.open(Settings.resolve(data_dir=folder, environ={}))
    try:
        with store.transaction() as s:
            lineage.register_system(
                s, clock=clock, actor="faults", name=system, kind="tabular-classifier", owner="qa"
            )
            lineage.register_model_version(
                s,
                clock=clock,
                actor="faults",
                system=system,
                version="v1",
                artifact_uri=str(model_path),
                input_schema=FEATURES,
            )
            control.promote(
                s, clock=clock, actor="faults", system=system, version="v1", reason="fault tests"
            )
    finally:
        store.close()


# --------------------------------------------------------------------------- airsoc up


def wait_until(
    condition: Callable[[], bool], what: str, *, timeout: float = 180.0, interval: float = 0.05
) -> float:
    """Wait until ``condition()`` holds; return the seconds it took. Raise ``TimeoutError``
    naming ``what`` after ``timeout`` seconds (a generous bound: the wait ends on the condition).

    >>> wait_until(lambda: True, "nothing") < 1.0
    True
    """
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


class UpProcess:
    """``airsoc up`` as a child process on free ports, with a :class:`FaultPlan`.

    Use as a context manager: it starts the child, waits until it says it is watching its
    configuration, and kills it (if still running) at the end. Its output is collected in
    :attr:`output`.
    """

    def __init__(
        self,
        *,
        config: Path,
        data_dir: Path,
        plan: FaultPlan | None = None,
        tick: float = 0.5,
        plugin_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.plan = plan or FaultPlan()
        self.tick = tick
        self.plugin_path = plugin_path
        self.env = dict(env or {})
        self.api_port = free_port()
        self.gateway_port = free_port()
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        """Return the API's base URL."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def gateway_url(self) -> str:
        """Return the gateway's base URL."""
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def pid(self) -> int:
        """Return the child's process id."""
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, timeout: float = 240.0) -> UpProcess:
        """Start the child and wait until it serves; raise with its output if it does not."""
        env = {**os.environ, **self.env, "AIRSOC_DATA_DIR": str(self.data_dir)}
        env.pop("AIRSOC_DATABASE_URL", None)
        env[FAULTS_ENV] = self.plan.to_env()
        if self.plugin_path is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.plugin_path), env.get("PYTHONPATH", "")) if p
            )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from airsoc.testing.faults import child_main; child_main()",
                "up",
                "--config",
                str(self.config),
                "--api-port",
                str(self.api_port),
                "--gateway-port",
                str(self.gateway_port),
                "--tick",
                str(self.tick),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            wait_until(
                lambda: self._ready.is_set() or self.proc is None or self.proc.poll() is not None,
                "airsoc up to start",
                timeout=timeout,
            )
        except TimeoutError:
            self.kill()
            raise
        if not self._ready.is_set():
            self.wait(timeout=30)
            raise RuntimeError("airsoc up did not start:\n" + "".join(self.output[-60:]))
        return self

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("watching"):
                self._ready.set()

    def alive(self) -> bool:
        """Return whether the child still runs."""
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` (SIGTERM, SIGINT) to the child."""
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, *, timeout: float = 180.0) -> int:
        """Wait for the child to exit; return its exit code."""
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        self._close_output()
        return code

    def _close_output(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=30)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self, *, timeout: float = 180.0) -> int:
        """SIGTERM the child and wait for it to exit; return its exit code."""
        if self.alive():
            self.signal(signal.SIGTERM)
        return self.wait(timeout=timeout)

    def kill(self) -> None:
        """Kill the child if it still runs."""
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=60)
        self._close_output()

    def text(self) -> str:
        """Return everything the child printed so far."""
        return "".join(self.output)

    def readyz(self) -> int:
        """Return the status of the API's ``/readyz`` (0 when it does not answer)."""
        return self.readiness()[0]

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """Return the status and body of ``/readyz``."""
        try:
            response = httpx.get(self.api_url + "/readyz", timeout=30)
        except httpx.HTTPError:
            return 0, {}
        return response.status_code, response.json()

    def __enter__(self) -> UpProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


# --------------------------------------------------------------------------- load and counting


@dataclass
class LoadClients:
    """Threads that send one-row predictions until :meth:`stop` (or the server goes away).

    Each request carries its own ``X-Request-ID`` (``<prefix>-<thread>-<n>``); the ids answered
    200 are :attr:`acknowledged`, other statuses are counted in :attr:`statuses`, and requests
    that got no answer at all in :attr:`unanswered`.
    """

    url: str
    system: str = "fraud"
    threads: int = 20
    prefix: str = "load"
    acknowledged: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> LoadClients:
        """Start the client threads."""
        for t in range(self.threads):
            worker = threading.Thread(target=self._send, args=(t,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def _send(self, t: int) -> None:
        endpoint = f"{self.url}/v1/systems/{self.system}/predict"
        failures = 0
        with httpx.Client(timeout=60) as client:
            for n in range(10**9):
                if self._stop.is_set():
                    return
                request_id = f"{self.prefix}-{t}-{n}"
                try:
                    response = client.post(
                        endpoint,
                        json={"rows": [PREDICT_ROW]},
                        headers={"X-Request-ID": request_id, "X-Client-ID": f"client-{t}"},
                    )
                except httpx.HTTPError:
                    with self._lock:
                        self.unanswered += 1
                    failures += 1
                    if failures >= 20:  # the server is gone
                        return
                    time.sleep(0.05)
                    continue
                failures = 0
                with self._lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        self.acknowledged.append(request_id)

    def count(self) -> int:
        """Return how many requests were acknowledged so far."""
        with self._lock:
            return len(self.acknowledged)

    def stop(self, *, timeout: float = 120.0) -> None:
        """Stop sending and wait for the threads."""
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=timeout)

    def wait_gone(self, *, timeout: float = 180.0) -> None:
        """Wait until every thread ended because the server went away."""
        for worker in self._workers:
            worker.join(timeout=timeout)
        self._stop.set()


def written_request_ids(
    telemetry_dir: str | Path, *, system: str = "fraud", kind: str = "prediction"
) -> Counter[str]:
    """Return how many ``kind`` events of ``system`` are on disk per request id."""
    from airsoc.telemetry.readers import read_events

    if not (Path(telemetry_dir) / kind).exists():
        return Counter()
    table = read_events(telemetry_dir, kind, system=system)
    return Counter(table.column("request_id").to_pylist())


@dataclass(frozen=True)
class EventAccount:
    """Acknowledged events against events on disk."""

    acknowledged: int
    written: int
    lost: int
    duplicated: int


def account(acknowledged: Collection[str], written: Counter[str]) -> EventAccount:
    """Compare acknowledged request ids with the ids on disk: ``lost`` were acknowledged and
    are not on disk, ``duplicated`` are on disk more than once."""
    acked = set(acknowledged)
    return EventAccount(
        acknowledged=len(acked),
        written=sum(n for rid, n in written.items() if rid in acked),
        lost=sum(1 for rid in acked if written.get(rid, 0) == 0),
        duplicated=sum(1 for n in written.values() if n > 1),
    )


def platform_fault_alerts(sink: HttpSink, *, part: str | None = None) -> list[dict[str, Any]]:
    """Return the ``platform_fault`` alerts a webhook sink received (of ``part``, if given)."""
    return [
        alert
        for request in list(sink.requests)
        for alert in request.json().get("alerts", [])
        if alert["labels"].get("failure_mode") == "platform_fault"
        and (part is None or alert["labels"].get("part") == part)
    ]


# --------------------------------------------------------------------------- the store


class SqliteWriteLock:
    """Another process that holds SQLite's write lock (``BEGIN IMMEDIATE``) until released."""

    def __init__(self, database: str | Path) -> None:
        self.database = Path(database)
        self.proc: subprocess.Popen[str] | None = None
        self.acquired_at: float | None = None
        self.released_at: float | None = None

    def acquire(self, *, timeout: float = 120.0) -> float:
        """Start the holder and return (monotonic) when it holds the lock."""
        code = (
            "import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], timeout=120, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "c.execute('COMMIT')\n"
            "print('released', flush=True)\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "locked":
            self.proc.kill()
            raise RuntimeError(f"could not take the write lock of {self.database}: {line!r}")
        self.acquired_at = time.monotonic()
        return self.acquired_at

    def release(self) -> float:
        """Commit and end the holder; return (monotonic) when the lock was released."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        self.released_at = time.monotonic()
        self.proc.wait(timeout=60)
        self._close_pipes()
        if line.strip() != "released":
            raise RuntimeError(f"the lock holder did not release cleanly: {line!r}")
        return self.released_at

    def close(self) -> None:
        """Kill the holder if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.proc is not None:
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()

    def __enter__(self) -> SqliteWriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """Yield a new temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="airsoc-faults-") as folder:
        yield Path(folder)


def config_text(
    sink_url: str,
    *,
    telemetry: str = "",
    extra: str = "",
    systems: Sequence[str] = ("fraud",),
) -> str:
    """Return an ``airsoc.yaml`` that routes every alert to a webhook at ``sink_url`` at once.

    >>> "group_wait: 0s" in config_text("http://127.0.0.1:9/hook")
    True
    """
    lines = ["systems:"]
    lines += [f"  {name}: {{kind: tabular-classifier, owner: qa}}" for name in systems]
    lines += [
        "routes: {receiver: hook, group_wait: 0s, group_interval: 1s, repeat_interval: 1h}",
        f"receivers: {{hook: {{webhook: {{url: '{sink_url}', backoff: 0s}}}}}}",
    ]
    if telemetry:
        lines.append(f"telemetry: {telemetry}")
    return "\n".join(lines) + "\n" + extra
