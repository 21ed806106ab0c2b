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

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from airsoc.alerting.dispatcher import NotifyTarget
from airsoc.clock import Clock
from airsoc.errors import AirsocError, InputError
from airsoc.monitoring.monitors import MonitorEvaluator, TelemetrySource
from airsoc.response.controlplane import ControlPlane
from airsoc.runtime.config import load_checked_config
from airsoc.runtime.control import live_control_plane
from airsoc.runtime.loop import LoopReport, ResponseLoop
from airsoc.serving import Gateway
from airsoc.serving import create_app as create_gateway_app
from airsoc.store import Store

__all__ = ["Platform", "PlatformOptions"]


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


def _server(app: Any, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    return uvicorn.Server(config)


class Platform:
    """The API, the gateway and the response loop running together until :meth:`stop`."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        options: PlatformOptions,
        api_app: Any,
        control_plane: Callable[[Gateway], ControlPlane] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.options = options
        config, playbooks = load_checked_config(options.config_path, evaluators=options.evaluators)
        self.gateway = Gateway.open(store=store, clock=clock)
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
        self._servers = [
            _server(api_app, options.host, options.api_port),
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
                    loc="--api-port/--gateway-port",
                )
            time.sleep(0.05)
        worker = threading.Thread(target=self._work, name="airsoc-worker", daemon=True)
        worker.start()
        self._threads.append(worker)

    def _work(self) -> None:
        while not self._stop.wait(self.options.tick_interval):
            self.tick()

    def tick(self) -> LoopReport | None:
        """Reload a changed configuration, then run one round of the loop; return its report."""
        mtime = self._config_mtime()
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self.loop.reload(self.options.config_path)
                self.options.on_error(f"reloaded {self.options.config_path}")
            except AirsocError as exc:
                self.options.on_error(f"kept the running configuration: {exc}")
        try:
            report = self.loop.tick()
        except AirsocError as exc:
            self.options.on_error(f"worker: {exc}")
            return None
        for hook in self.options.on_tick:
            hook(report)
        return report

    def stop(self) -> None:
        """Stop the worker and the servers (the gateway flushes its event log) and wait."""
        self._stop.set()
        for server in self._servers:
            server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads.clear()
