"""Everything ``airsoc up`` runs, in one process: the API and console, the gateway, the monitor
scheduler and the playbook worker.

The two web apps run under uvicorn, each in its own thread; the worker thread calls
:meth:`airsoc.runtime.ResponseLoop.tick` every ``tick_interval`` seconds and reloads
``airsoc.yaml`` when the file changes (a file with errors is reported and the running
configuration kept).

Example:
    >>> from pathlib import Path
    >>> options = PlatformOptions(config_path=Path("airsoc.yaml"))
    >>> options.api_port, options.gateway_port, options.tick_interval
    (8000, 8400, 1.0)
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.exc import OperationalError

from airsoc.alerting.dispatcher import NotifyTarget
from airsoc.audit import upgrade_chains
from airsoc.clock import Clock
from airsoc.errors import AirsocError, InputError, StoreError
from airsoc.monitoring.monitors import MonitorEvaluator, TelemetrySource
from airsoc.response.controlplane import ControlPlane
from airsoc.runtime.config import load_checked_config
from airsoc.runtime.control import live_control_plane
from airsoc.runtime.health import PartStatus, SelfMonitor
from airsoc.runtime.loop import LoopReport, ResponseLoop
from airsoc.serving import Gateway
from airsoc.serving import create_app as create_gateway_app
from airsoc.store import Store

__all__ = ["MAX_BACKOFF", "STALL_AFTER", "Platform", "PlatformOptions", "store_unavailable"]

logger = logging.getLogger(__name__)

#: Longest pause (seconds) between worker rounds while they keep failing.
MAX_BACKOFF = 30.0
#: Seconds without a finished round after which the worker counts as stalled.
STALL_AFTER = 120.0


@dataclass
class PlatformOptions:
    """Where the platform listens and how often the worker ticks."""

    config_path: Path
    host: str = "127.0.0.1"
    api_port: int = 8000
    gateway_port: int = 8400
    tick_interval: float = 1.0
    receivers: Mapping[str, Sequence[NotifyTarget]] | None = None
    source: TelemetrySource | None = None
    evaluators: Mapping[str, MonitorEvaluator] | None = None
    on_tick: list[Callable[[LoopReport], None]] = field(default_factory=list)
    on_error: Callable[[str], None] = print


def store_unavailable(exc: BaseException) -> bool:
    """Return whether ``exc`` (or an error it was raised from) says the store refused to work:
    locked past its busy timeout, unreachable, out of connections.

    >>> import sqlite3
    >>> from sqlalchemy.exc import OperationalError
    >>> store_unavailable(OperationalError("BEGIN", {}, sqlite3.OperationalError("locked")))
    True
    >>> store_unavailable(RuntimeError("a plugin's bug"))
    False
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | StoreError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _server(app: Any, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    return uvicorn.Server(config)


class Platform:
    """The API, the gateway and the response loop running together until :meth:`stop`.

    ``api_app`` builds the API's ASGI app from the platform's readiness (a callable returning
    the status of its parts), so ``/readyz`` fails when a part stops.
    """

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        options: PlatformOptions,
        api_app: Callable[[Callable[[], list[PartStatus]]], Any],
        control_plane: Callable[[Gateway], ControlPlane] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.options = options
        with store.transaction() as s:
            # Chains written before the timeline was keyed are checked, then signed.
            for report in upgrade_chains(s):
                if not report.ok:
                    options.on_error(
                        f"audit chain {report.chain} does not verify: {report.problem}"
                    )
        config, playbooks = load_checked_config(options.config_path, evaluators=options.evaluators)
        self.gateway = Gateway.open(
            store=store,
            clock=clock,
            log_options=config.telemetry.log_options(),
            guards={n: c.guard for n, c in config.systems.items() if c.guard is not None},
        )
        self.loop = ResponseLoop(
            config=config,
            playbooks=playbooks,
            store=store,
            clock=clock,
            source=options.source,
            control_plane=(
                control_plane(self.gateway)
                if control_plane
                else live_control_plane(store=store, clock=clock, gateway=self.gateway)
            ),
            receivers=options.receivers,
            evaluators=options.evaluators,
        )
        self._engine_lock = threading.Lock()
        self._round_error: BaseException | None = None
        log = getattr(self.gateway, "event_log", None)
        self.health = SelfMonitor(
            clock=clock,
            stall_after=max(STALL_AFTER, 30 * options.tick_interval),
            writer=(lambda: log.health()) if log is not None and hasattr(log, "health") else None,
        )
        self._servers = [
            _server(api_app(self.health.parts), options.host, options.api_port),
            _server(create_gateway_app(self.gateway), options.host, options.gateway_port),
        ]
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._mtime = self._config_mtime()

    @property
    def api_url(self) -> str:
        """Return the API and console's base URL."""
        return f"http://{self.options.host}:{self.options.api_port}"

    @property
    def gateway_url(self) -> str:
        """Return the gateway's base URL."""
        return f"http://{self.options.host}:{self.options.gateway_port}"

    def _config_mtime(self) -> float:
        try:
            return self.options.config_path.stat().st_mtime
        except OSError:
            return 0.0

    def start(self, *, timeout: float = 30.0) -> None:
        """Start the servers and the worker; return once both servers accept connections."""
        for i, server in enumerate(self._servers):
            thread = threading.Thread(target=server.run, name=f"airsoc-http-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + timeout
        while not all(s.started for s in self._servers):
            if time.monotonic() > deadline or not all(t.is_alive() for t in self._threads):
                self.stop()
                raise InputError(
                    f"the servers did not start on {self.options.host} ports "
                    f"{self.options.api_port} and {self.options.gateway_port} (in use?)",
                    loc="api_port/gateway_port",
                )
            time.sleep(0.05)
        worker = threading.Thread(target=self._work, name="airsoc-worker", daemon=True)
        worker.start()
        watchdog = threading.Thread(target=self._watch, name="airsoc-watchdog", daemon=True)
        watchdog.start()
        self._threads += [worker, watchdog]

    def _work(self) -> None:
        # Supervised: an unexpected error is logged with its traceback, counted and alerted
        # (through the self-monitor), and the loop goes on with backoff.
        delay = self.options.tick_interval
        try:
            while not self._stop.wait(delay):
                try:
                    report = self.tick()
                except Exception as exc:
                    logger.exception("airsoc worker: the round failed")
                    self._round_failed(exc)
                    self.options.on_error(f"worker: {type(exc).__name__}: {exc}")
                    delay = self._backoff(delay, exc)
                else:
                    if report is None and self._round_error is not None:
                        delay = self._backoff(delay, self._round_error)  # reported by tick()
                    else:
                        self.health.beat()
                        delay = self.options.tick_interval
        except BaseException as exc:  # the thread is going away: say so
            self.health.worker_stopped(f"the worker thread ended: {type(exc).__name__}: {exc}")
            raise
        if not self._stop.is_set():
            self.health.worker_stopped("the worker thread ended")

    def _round_failed(self, exc: BaseException) -> None:
        self._round_error = exc
        self.health.worker_failed(exc)
        if store_unavailable(exc):
            self.health.store_failed(exc)

    def _backoff(self, delay: float, exc: BaseException) -> float:
        if store_unavailable(exc):
            # The round already waited the store's busy timeout: try again at the next tick, so
            # the worker is back within a tick of the store.
            return self.options.tick_interval
        return min(delay * 2, MAX_BACKOFF)

    def _watch(self) -> None:
        while not self._stop.wait(self.options.tick_interval):
            self.deliver_self_alerts()

    def deliver_self_alerts(self) -> int:
        """Send the self-monitor's ``platform_fault`` alerts through the routing tree; return
        how many the store accepted (the others are sent again on the next call)."""
        alerts = self.health.alerts()
        if not alerts or not self._engine_lock.acquire(timeout=self.options.tick_interval):
            self.health.undelivered(alerts)
            return 0
        try:
            for i, alert in enumerate(alerts):
                try:
                    self.loop.engine.submit(alert, source="self-monitor")
                except Exception as exc:
                    logger.error("airsoc: could not record a platform alert yet: %s", exc)
                    self.health.undelivered(alerts[i:])
                    return i
        finally:
            self._engine_lock.release()
        return len(alerts)

    def tick(self) -> LoopReport | None:
        """Reload a changed configuration, then run one round of the loop; return its report.

        An airsoc error of the round is reported and the round skipped (``None``); any other
        error propagates to the supervised worker."""
        mtime = self._config_mtime()
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self.loop.reload(self.options.config_path)
                self._apply_telemetry_policy()
                self.options.on_error(f"reloaded {self.options.config_path}")
            except AirsocError as exc:
                self.options.on_error(f"kept the running configuration: {exc}")
        self._round_error = None
        try:
            with self._engine_lock:
                report = self.loop.tick()
        except AirsocError as exc:
            self._round_failed(exc)
            self.options.on_error(f"worker: {exc}")
            return None
        for hook in self.options.on_tick:
            hook(report)
        return report

    def _apply_telemetry_policy(self) -> None:
        log = self.gateway.event_log
        if log is not None:
            log.set_policy(**self.loop.config.telemetry.log_options())
        systems = self.loop.config.systems
        self.gateway.set_guards({n: c.guard for n, c in systems.items() if c.guard is not None})

    def run(
        self,
        *,
        duration: float | None = None,
        on_ready: Callable[[], None] | None = None,
        on_stopping: Callable[[str], None] | None = None,
    ) -> str:
        """Serve until ``duration`` seconds pass, or SIGTERM or SIGINT arrives; then stop,
        draining the event log so nothing acknowledged is lost; return why it stopped.

        ``on_ready`` is called once the signal handlers are in place, ``on_stopping`` with the
        reason when the stop begins. Call from the main thread (signal handlers can only be
        installed there).
        """
        stopping = threading.Event()
        why = ["duration"]

        def handle(signum: int, _frame: object) -> None:
            why[0] = signal.Signals(signum).name
            stopping.set()

        previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            if on_ready is not None:
                on_ready()
            stopping.wait(duration)
            if on_stopping is not None:
                on_stopping(why[0])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()
        return why[0]

    def stop(self) -> None:
        """Stop the worker and the servers (the gateway flushes its event log) and wait."""
        self._stop.set()
        for server in self._servers:
            server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads.clear()
