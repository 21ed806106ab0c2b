"""Chaos mode: run a scenario against the real platform in one process on a simulated clock,
then score it from the store.

:func:`run_drill` prepares the demo fleet in the store's data dir, writes the drill's
configuration (the fleet's ``airsoc.yaml`` with the scenario's changes), opens the gateway and
serves its ASGI app in process (every request goes through the app over HTTP semantics, in
batches of rows), and drives the runtime's :class:`~airsoc.runtime.loop.ResponseLoop` round by
round: each round applies the injects due, sends the traffic due spread over the round, posts
the delayed labels due, and ticks the loop once. Nothing is narrated: detection, declaration,
investigation and containment are the platform's. The scorecard is computed afterwards by
:func:`airsoc.drills.scoring.score_drill` from the store alone.

Example:
    >>> options = DrillOptions(seed=3, scale=0.5)
    >>> options.seed, options.scale
    (3, 0.5)
    >>> merge_config({"monitors": [{"name": "a"}], "routes": {"receiver": "x"}},
    ...              {"monitors": [{"name": "b"}], "routes": {"group_wait": "1s"}})
    {'monitors': [{'name': 'a'}, {'name': 'b'}], 'routes': {'receiver': 'x', 'group_wait': '1s'}}
"""

from __future__ import annotations

import asyncio
import copy
import errno
import heapq
import itertools
import math
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml
from threadpoolctl import threadpool_limits

from airsoc.alerting import RecordingReceiver
from airsoc.clock import Clock, SimulatedClock, SystemClock
from airsoc.drills.chatbot import DrillBot, serve_support_bot
from airsoc.drills.context import DrillContext
from airsoc.drills.injectors import Injector, builtin_injectors
from airsoc.drills.scenario import Scenario
from airsoc.drills.scorecard import Scorecard
from airsoc.drills.scoring import score_drill
from airsoc.drills.traffic import ChatStream, ChatTurn, Stream, TrafficBatch, TrafficControl
from airsoc.errors import InputError, NotFoundError
from airsoc.fleet.setup import (
    SUPPORT_BOT,
    DemoSetup,
    UserDirectory,
    demo_config_text,
    prepare_demo,
    write_playbooks,
)
from airsoc.incidents.service import list_incidents
from airsoc.lineage import list_model_versions
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult
from airsoc.runtime.config import load_checked_config
from airsoc.runtime.control import live_control_plane
from airsoc.runtime.health import SelfMonitor
from airsoc.runtime.loop import ResponseLoop
from airsoc.runtime.platform import STALL_AFTER, store_unavailable
from airsoc.runtime.registries import build_registries
from airsoc.serving import Gateway
from airsoc.serving import create_app as create_gateway_app
from airsoc.store import Store
from airsoc.telemetry.log import EventLog

__all__ = [
    "DEFAULT_START",
    "DrillOptions",
    "GatewayClient",
    "GatewayTraffic",
    "InProcessGateway",
    "WorkerKilledError",
    "apply_inject",
    "merge_config",
    "run_drill",
    "run_scheduled",
]

#: Where the simulated clock starts when the caller gives no start.
DEFAULT_START = datetime(2026, 11, 16, tzinfo=UTC)
#: The drill's configuration and playbooks, in the fleet's folder.
DRILL_CONFIG = "drill.yaml"
DRILL_PLAYBOOKS = "drill-playbooks"
LABEL_CLIENT = "ledger"
#: Wall seconds a flush waits while the drill makes the event log's writes fail.
FAULTED_FLUSH_TIMEOUT = 1.0
#: Labels the ledger posts in one request (the gateway takes up to 10 000; 5000 keep the body
#: well under its 1 MiB bound).
LABELS_PER_REQUEST = 5000
#: Events the drill's event log holds before it writes on its own (it is flushed explicitly).
LOG_BATCH = 1_000_000
LOG_FLUSH_INTERVAL = 3600.0


class _NoUsers:
    """A user directory for drills run without a console: it creates nobody."""

    def names(self) -> set[str]:
        return set()

    def add(self, *, name: str, role: str, password: str) -> None:
        del name, role, password


@dataclass
class DrillOptions:
    """How a drill runs: its seed (default: the scenario's), the traffic scale (tests run at
    reduced scale), where the simulated clock starts, who the console users are (the console's
    user store, so the demo's users can log in afterwards), and where progress lines go."""

    seed: int | None = None
    scale: float = 1.0
    start: datetime | None = None
    users: UserDirectory | None = None
    log: Callable[[str], None] | None = None
    wall_clock: Clock = field(default_factory=SystemClock)


def merge_config(base: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``change`` merged in: mappings key by key, lists appended to,
    anything else replaced. A list item with the ``name`` of an item of the base list (a
    monitor of the fleet) is merged into that item instead of appended.

    >>> merge_config({"monitors": [{"name": "a", "every": "1h"}]},
    ...              {"monitors": [{"name": "a", "lag": "1d"}, {"name": "b"}]})
    {'monitors': [{'name': 'a', 'every': '1h', 'lag': '1d'}, {'name': 'b'}]}
    """
    out = dict(base)
    for key, value in change.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = _merge_named(out[key], value)
        else:
            out[key] = value
    return out


def _merge_named(base: list[Any], change: list[Any]) -> list[Any]:
    def name(item: Any) -> Any:
        return item.get("name") if isinstance(item, Mapping) else None

    changes = {name(i): i for i in change if name(i) is not None}
    merged = [merge_config(i, changes[name(i)]) if name(i) in changes else i for i in base]
    known = {name(i) for i in base}
    return [*merged, *(i for i in change if name(i) is None or name(i) not in known)]


def write_drill_config(scenario: Scenario, setup: DemoSetup) -> Path:
    """Write the drill's ``airsoc.yaml`` into the fleet's folder and return its path: the demo
    fleet's configuration with monitors only for the scenario's systems and the scenario's
    ``fleet.config`` merged in, and the fleet's playbooks."""
    fleet = scenario.fleet
    base = yaml.safe_load(demo_config_text(monitor_every=fleet.monitor_every.total_seconds()))
    systems = set(fleet.systems)
    unknown = systems - set(base.get("systems", {}))
    if unknown:
        raise InputError(
            f"the demo fleet has no system {', '.join(sorted(unknown))}; it has "
            f"{', '.join(sorted(base.get('systems', {})))}",
            loc="fleet.systems",
        )
    base["monitors"] = [m for m in base.get("monitors", []) if m.get("system") in systems]
    base["playbooks"] = [f"{DRILL_PLAYBOOKS}/*.yaml"]
    config = merge_config(base, fleet.config)
    path = setup.folder / DRILL_CONFIG
    path.write_text(
        f"# The configuration of drill {scenario.name}, written by `airsoc drill run`.\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )
    write_playbooks(
        setup.folder / DRILL_PLAYBOOKS, approval_timeout=fleet.approval_timeout.total_seconds()
    )
    return path


class InProcessGateway:
    """The gateway's ASGI app called through ``httpx`` (HTTP semantics, no socket), on one
    event loop owned by this object.

    Each request carries its own ``X-Request-ID`` (``request_ids`` and a counter), as a
    client that traces its calls sends one: the gateway's canary and shadow splits hash the
    request id, so a drill with the same seed splits its traffic the same way every run."""

    def __init__(self, gateway: Gateway, *, request_ids: str = "drill-") -> None:
        self.gateway = gateway
        self.request_ids = request_ids
        self._sent = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_gateway_app(gateway, manage_gateway=False)),
            base_url="http://gateway.drill",
            timeout=60,
        )

    def post(self, path: str, body: Any, *, client: str) -> httpx.Response:
        """Send one request as ``client`` and return the response."""
        request_id = f"{self.request_ids}{next(self._sent):08x}"
        return self._loop.run_until_complete(
            self._client.post(
                path, json=body, headers={"X-Client-ID": client, "X-Request-ID": request_id}
            )
        )

    def close(self) -> None:
        """Close the client and the event loop."""
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


class WorkerKilledError(BaseException):
    """The drill killed the playbook worker in the middle of a step. Not an ``Exception``:
    nothing in the worker catches it, as nothing in a process catches its own SIGKILL."""


class _ChaosFaults:
    """The platform faults a chaos drill can inject in process (see
    :class:`~airsoc.drills.context.PlatformFaults`): event-log writes that fail for a number of
    rounds; the store's write lock held by another connection for a number of rounds (the
    platform's writes wait its busy timeout, then fail); the worker killed in the middle of a
    step (the drill then restarts it, as a process supervisor would)."""

    def __init__(self, store: Store | None = None) -> None:
        self.round = 0
        self.failing_until = -1
        self.injected = 0
        self.store = store
        self.locked_until = -1
        self._locker: sqlite3.Connection | None = None
        self.kill: tuple[str | None, bool] | None = None
        self.kills: list[str] = []

    def writes_fail(self) -> bool:
        """Return whether event-log writes fail in the current round."""
        return self.round < self.failing_until

    def install(self, log: EventLog) -> None:
        """Route ``log``'s writes through the fault switch (this drill's log only)."""
        real = log._write

        def write(group: Any) -> None:
            if self.writes_fail():
                self.injected += 1
                raise OSError(errno.EIO, f"injected write error {self.injected} (drill)")
            real(group)

        log._write = write  # type: ignore[method-assign]

    def lock_database(self, rounds: int) -> None:
        """Take the store's write lock on a connection of its own for the next ``rounds``
        rounds (the embedded SQLite store only)."""
        settings = self.store.settings if self.store is not None else None
        if settings is None or not settings.is_sqlite:
            raise InputError("only the embedded SQLite store can be locked by a drill", loc="kind")
        if self._locker is None:
            path = settings.database_url.removeprefix("sqlite:///")
            locker = sqlite3.connect(
                path, timeout=settings.store_busy_timeout, isolation_level=None
            )
            locker.execute("BEGIN IMMEDIATE")
            self._locker = locker
        self.locked_until = max(self.locked_until, self.round + rounds)

    def release_due(self) -> bool:
        """Release the store's lock once its rounds are over; return whether it was released."""
        if self._locker is None or self.round < self.locked_until:
            return False
        self._locker.execute("ROLLBACK")
        self._locker.close()
        self._locker = None
        return True

    def fail_telemetry_writes(self, rounds: int) -> None:
        """Fail every event-log write for the next ``rounds`` rounds."""
        self.failing_until = self.round + rounds

    def kill_worker_mid_step(self, *, action: str | None, after_effect: bool) -> None:
        """Kill the worker in its next step (of ``action``, if named), after the step's effect
        or before it."""
        self.kill = (action, after_effect)

    def install_kill_switch(self, registry: ActionRegistry) -> None:
        """Route every action of ``registry`` through the kill switch (this drill's only)."""
        for name in registry.names():
            registry.register(_kill_switch(registry.get(name), self), replace=True)

    def maybe_kill(self, action: str, *, after: bool) -> None:
        """Kill the worker here when an armed kill names this action and moment."""
        if self.kill is None:
            return
        wanted, after_effect = self.kill
        if (wanted is not None and wanted != action) or after_effect != after:
            return
        self.kill = None
        moment = "after" if after else "before"
        self.kills.append(action)
        raise WorkerKilledError(f"the worker was killed during {action}, {moment} its effect")


def _kill_switch(inner: Action, faults: _ChaosFaults) -> Action:
    """Return ``inner`` with the drill's kill switch around its ``execute``."""

    def execute(self: Action, ctx: ActionContext) -> ActionResult:
        faults.maybe_kill(inner.name, after=False)
        result = type(inner).execute(self, ctx)
        faults.maybe_kill(inner.name, after=True)
        return result

    cls: type[Action] = type(f"Chaos{type(inner).__name__}", (type(inner),), {"execute": execute})
    wrapped = copy.copy(inner)
    wrapped.__class__ = cls
    return wrapped


@dataclass
class _Counts:
    requests: int = 0
    rows: int = 0
    refused: int = 0
    labels: int = 0
    turns: int = 0


class GatewayClient(Protocol):
    """How traffic reaches a gateway: the in-process app, or a running gateway over HTTP."""

    def post(self, path: str, body: Any, *, client: str) -> httpx.Response:
        """Send ``body`` to ``path`` as ``client`` and return the response."""
        ...


class GatewayTraffic:
    """A scenario's traffic as clients send it to a gateway: each batch of rows a request, and
    the ground truth of each answered row posted ``label_delay`` later on ``clock`` (simulated
    in chaos mode, the wall clock in a live drill)."""

    def __init__(self, scenario: Scenario, *, clock: Clock, seed: int, scale: float = 1.0) -> None:
        self.clock = clock
        self.label_delay = scenario.traffic.label_delay
        self.control = self.control_for(scenario, seed=seed, scale=scale)
        self.counts = _Counts()
        self._labels: list[tuple[datetime, int, str, str, list[Any]]] = []
        self._order = itertools.count()

    @staticmethod
    def control_for(scenario: Scenario, *, seed: int, scale: float = 1.0) -> TrafficControl:
        """Return the traffic of ``scenario``'s streams, every rate times ``scale``."""
        control = TrafficControl(seed=seed)
        for spec in scenario.traffic.streams:
            control.add_stream(
                Stream(
                    system=spec.system,
                    client=spec.client,
                    rows_per_hour=spec.rate,
                    rows_per_request=spec.rows_per_request,
                    mix=dict(spec.mix),
                    labels=spec.labels,
                )
            )
        for chat in scenario.traffic.chat:
            control.add_chat_stream(
                ChatStream(
                    system=chat.system,
                    client=chat.client,
                    turns_per_hour=chat.rate,
                    users=chat.users,
                    turns_per_session=chat.turns_per_session,
                    policy_share=chat.mix.get("policy_share", 0.7),
                    topics=tuple(chat.topics),
                )
            )
        control.scale(scale)
        return control

    def send_chat(self, client: GatewayClient, turn: ChatTurn) -> None:
        """Send one chat turn to the gateway's chat endpoint, the session as OpenAI's
        ``user``."""
        response = client.post(
            "/v1/chat/completions",
            {"model": turn.system, "messages": turn.messages, "user": turn.session_id},
            client=turn.client,
        )
        self.counts.requests += 1
        if response.status_code != 200:
            self.counts.refused += 1
            return
        self.counts.turns += 1

    def send(self, client: GatewayClient, batch: TrafficBatch) -> None:
        """Send one batch; remember its rows' ground truth, due ``label_delay`` from now."""
        # Column by column: the same rows in a third of the bytes, read and written faster.
        columns = batch.columns
        n = len(next(iter(columns.values()), []))
        if not n:
            return
        response = client.post(
            f"/v1/systems/{batch.system}/predict", {"columns": columns}, client=batch.client
        )
        self.counts.requests += 1
        if response.status_code != 200:
            self.counts.refused += 1
            return
        self.counts.rows += n
        if batch.labels_enabled:
            due = self.clock.now() + self.label_delay
            request_id = str(response.json()["request_id"])
            heapq.heappush(
                self._labels,
                (due, next(self._order), batch.system, request_id, batch.labels),
            )

    def post_labels(self, client: GatewayClient) -> None:
        """Post the ground truth whose delay has passed: one request per system, as a ledger
        sends its daily file."""
        now = self.clock.now()
        due: dict[str, tuple[list[str], list[int], list[Any]]] = {}
        while self._labels and self._labels[0][0] <= now:
            _, _, system, request_id, labels = heapq.heappop(self._labels)
            ids, rows, values = due.setdefault(system, ([], [], []))
            ids.extend([request_id] * len(labels))
            rows.extend(range(len(labels)))
            values.extend(labels)
        for system, (ids, rows, values) in due.items():
            for start in range(0, len(ids), LABELS_PER_REQUEST):
                end = start + LABELS_PER_REQUEST
                body = {
                    "columns": {
                        "request_id": ids[start:end],
                        "row_index": rows[start:end],
                        "label": values[start:end],
                    }
                }
                response = client.post(f"/v1/systems/{system}/labels", body, client=LABEL_CLIENT)
                if response.status_code == 202:
                    self.counts.labels += len(ids[start:end])


def apply_inject(
    ctx: DrillContext, inject: Any, injectors: Mapping[str, Injector], log: Callable[[str], None]
) -> None:
    """Apply ``inject`` with its injector on ``ctx`` (its message noted), logging it first."""
    injector = injectors[inject.kind]
    ctx.inject_id = str(inject.id)
    ctx.benign = inject.benign
    params = injector.validate(dict(inject.params))
    log(f"+{ctx.elapsed_s:>9.0f}s inject {inject.id}: {injector.describe(params)}")
    if inject.message:
        ctx.note(inject.message)
    injector.apply(ctx, params)


def run_scheduled(ctx: DrillContext, log: Callable[[str], None]) -> None:
    """Run the calls injectors scheduled whose time has come on ``ctx``'s clock."""
    due = sorted(c for c in ctx.scheduled if c[0] <= ctx.elapsed_s)
    ctx.scheduled[:] = [c for c in ctx.scheduled if c[0] > ctx.elapsed_s]
    for _, name, call in due:
        log(f"+{ctx.elapsed_s:>9.0f}s {name}")
        call(ctx)


class _Drill:
    """One run: the platform's parts, the traffic and the schedule of injects."""

    def __init__(
        self, scenario: Scenario, store: Store, options: DrillOptions, clock: SimulatedClock
    ) -> None:
        self.scenario = scenario
        self.store = store
        self.options = options
        self.clock = clock
        self.seed = options.seed if options.seed is not None else scenario.seed
        self.sender = GatewayTraffic(scenario, clock=clock, seed=self.seed, scale=options.scale)
        self.counts = self.sender.counts
        self.registries = build_registries()
        self.injectors = builtin_injectors()
        self.faults = _ChaosFaults(store)
        self.restarts = 0
        self.worker_dead = False
        self.was_ready = True
        self.bot: DrillBot | None = None

    def log(self, text: str) -> None:
        if self.options.log is not None:
            self.options.log(text)

    @contextmanager
    def platform(self, setup: DemoSetup) -> Iterator[tuple[ResponseLoop, InProcessGateway]]:
        config_path = write_drill_config(self.scenario, setup)
        config, playbooks = load_checked_config(
            config_path,
            registry=self.registries.actions,
            evaluators=self.registries.evaluators,
        )
        # The drill writes the event log when the monitors are about to read it (a simulated
        # hour of traffic takes milliseconds: writing every 0.1 s of wall time would make
        # thousands of tiny files for the monitors to read back).
        log = EventLog(
            self.store.settings.telemetry_dir,
            name="gateway",
            batch_size=LOG_BATCH,
            flush_interval=LOG_FLUSH_INTERVAL,
            fsync=False,
            **config.telemetry.log_options(),
        )
        gateway = Gateway(
            store=self.store,
            clock=self.clock,
            event_log=log,
            owns_event_log=True,
            guards={n: c.guard for n, c in config.systems.items() if c.guard is not None},
        )
        if any(i.kind == "worker_kill" for i in self.scenario.injects):
            self.faults.install_kill_switch(self.registries.actions)

        def start_worker(worker_id: str) -> ResponseLoop:
            return ResponseLoop(
                config=config,
                playbooks=playbooks,
                store=self.store,
                clock=self.clock,
                source=EventLogTelemetry(store=self.store, base_dir=setup.folder),
                control_plane=live_control_plane(
                    store=self.store, clock=self.clock, gateway=gateway
                ),
                receivers={name: [RecordingReceiver(name)] for name in config.receivers},
                registry=self.registries.actions,
                evaluators=self.registries.evaluators,
                worker_id=worker_id,
            )

        self.start_worker = start_worker
        loop = start_worker("drill")
        self.faults.install(log)
        self.health = SelfMonitor(
            clock=self.clock,
            stall_after=max(STALL_AFTER, 30 * self.scenario.traffic.step.total_seconds()),
            writer=log.health,
        )
        client = InProcessGateway(gateway, request_ids=f"drill-{self.seed:x}-")
        try:
            yield loop, client
        finally:
            client.close()
            gateway.close()

    @contextmanager
    def support_bot(self, setup: DemoSetup) -> Iterator[None]:
        """Serve the support bot in this process when the drill's fleet has it."""
        if SUPPORT_BOT not in self.scenario.fleet.systems:
            yield
            return
        with serve_support_bot(self.store, self.clock, folder=setup.folder) as bot:
            self.bot = bot
            yield

    def run(self) -> Scorecard:
        wall = self.options.wall_clock.monotonic()
        setup = prepare_demo(
            store=self.store,
            clock=self.clock,
            users=self.options.users or _NoUsers(),
            monitor_every=self.scenario.fleet.monitor_every.total_seconds(),
            approval_timeout=self.scenario.fleet.approval_timeout.total_seconds(),
        )
        started_at = self.clock.now()
        traffic = self.sender.control
        ctx = DrillContext(
            clock=self.clock,
            store=self.store,
            folder=setup.folder,
            traffic=traffic,
            seed=self.seed,
            started_at=started_at,
            setup=setup,
            faults=self.faults,
        )
        step = self.scenario.traffic.step.total_seconds()
        rounds = math.ceil(self.scenario.traffic.duration.total_seconds() / step)
        pending = list(self.scenario.injects)
        every = self.scenario.fleet.monitor_every.total_seconds()
        with self.support_bot(setup), self.platform(setup) as (loop, client):
            ctx.releases = client.gateway
            ctx.bot = self.bot
            for k in range(rounds):
                elapsed = k * step
                self.clock.set(started_at + timedelta(seconds=elapsed))
                while pending and pending[0].at.total_seconds() <= elapsed:
                    apply_inject(ctx, pending.pop(0), self.injectors, self.log)
                run_scheduled(ctx, self.log)
                if self.faults.release_due():
                    self.log(f"+{elapsed:>9.0f}s the store's lock is released")
                batches = traffic.round(elapsed_s=elapsed, step_s=step)
                turns = traffic.chat_round(elapsed_s=elapsed, step_s=step)
                for offset, batch, turn in _spread(batches, turns, step):
                    self.clock.set(started_at + timedelta(seconds=elapsed + offset))
                    if batch is not None:
                        self.sender.post_labels(client)
                        self.sender.send(client, batch)
                    if turn is not None:
                        self.sender.send_chat(client, turn)
                self.clock.set(started_at + timedelta(seconds=elapsed + step))
                self.sender.post_labels(client)
                boundary = math.floor((elapsed + step) / every) > math.floor(elapsed / every)
                if boundary or self.faults.writes_fail():
                    self.flush(client.gateway)
                client.gateway.refresh()
                loop = self.tick(loop)
                self.faults.round += 1
            ended_at = self.clock.now()
        card = score_drill(
            self.scenario,
            store=self.store,
            started_at=started_at,
            ended_at=ended_at,
            telemetry_root=self.store.settings.telemetry_dir,
        )
        card.seed = self.seed
        card.scale = self.options.scale
        card.data_dir = str(self.store.settings.data_dir)
        card.requests_sent = self.counts.requests
        card.rows_sent = self.counts.rows
        card.labels_sent = self.counts.labels
        card.chat_turns_sent = self.counts.turns
        card.wall_s = round(self.options.wall_clock.monotonic() - wall, 3)
        return card

    def flush(self, gateway: Gateway) -> None:
        """Write the event log before the monitors read it; a writer that cannot write is the
        self-monitor's to report (its health says so), not the drill's to stop on."""
        log = gateway.event_log
        if log is None:
            return
        try:
            log.flush(timeout=FAULTED_FLUSH_TIMEOUT if self.faults.writes_fail() else 60.0)
        except TimeoutError as exc:
            self.log(f"+{self.clock.monotonic():>9.0f}s event log: {exc}")

    def tick(self, loop: ResponseLoop) -> ResponseLoop:
        """Run one supervised round of the loop, as the platform's worker does: a failing
        round is counted by the self-monitor, whose ``platform_fault`` alerts go through the
        routing tree (again next round when the store did not take them). A worker killed
        mid-step is reported stopped and restarted as a new worker, as a process supervisor
        does; return the loop that runs from now on."""
        if self.worker_dead:
            self.worker_dead = False
            self.health.worker_started()
        try:
            loop.tick()
        except WorkerKilledError as exc:
            self.health.worker_stopped(f"the worker was killed: {exc}")
            self.log(f"+{self.clock.monotonic():>9.0f}s worker killed: {exc}")
            self.restarts += 1
            loop = self.start_worker(f"drill-restart-{self.restarts}")
            self.worker_dead = True
        except Exception as exc:
            self.health.worker_failed(exc)
            if store_unavailable(exc):
                self.health.store_failed(exc)
            self.log(f"+{self.clock.monotonic():>9.0f}s round failed: {type(exc).__name__}: {exc}")
        else:
            self.health.beat()
        ready = self.health.ready()
        if ready != self.was_ready:
            down = [f"{p.part}: {p.detail or p.status}" for p in self.health.parts() if not p.ok]
            self.log(
                f"+{self.clock.monotonic():>9.0f}s /readyz "
                + ("200: ready" if ready else "503: " + "; ".join(down))
            )
            self.was_ready = ready
        alerts = self.health.alerts()
        for i, alert in enumerate(alerts):
            try:
                loop.engine.submit(alert, source="self-monitor")
            except Exception:
                self.health.undelivered(alerts[i:])
                break
        return loop


def _spread(
    batches: list[TrafficBatch], turns: list[ChatTurn], step: float
) -> list[tuple[float, TrafficBatch | None, ChatTurn | None]]:
    """Return the round's requests in time order, each kind spread evenly over the round.

    >>> _spread(["b1", "b2"], ["t1"], 60.0)
    [(0.0, 'b1', None), (0.0, None, 't1'), (30.0, 'b2', None)]
    """
    timed: list[tuple[float, int, int, TrafficBatch | None, ChatTurn | None]] = [
        (step * i / len(batches), 0, i, batch, None) for i, batch in enumerate(batches)
    ]
    timed += [(step * i / len(turns), 1, i, None, turn) for i, turn in enumerate(turns)]
    timed.sort(key=lambda x: (x[0], x[1], x[2]))
    return [(offset, batch, turn) for offset, _, _, batch, turn in timed]


def _check_fresh(store: Store) -> None:
    """Refuse a data dir that already holds a run: its incidents would absorb the drill's
    alerts and its routing would not be the fleet's first release."""
    with store.read() as s:
        incidents = list_incidents(s)
        try:
            versions = list_model_versions(s, system="fraud-detector")
        except NotFoundError:  # no fleet yet: a fresh data dir
            versions = []
    if incidents or len(versions) > 1:
        raise InputError(
            f"the data dir {store.settings.data_dir} already holds a run "
            f"({len(incidents)} incident(s)); run each drill in an empty data dir",
            loc="data_dir",
        )


def run_drill(
    scenario: Scenario, *, store: Store, options: DrillOptions | None = None
) -> Scorecard:
    """Run ``scenario`` in chaos mode against the platform over ``store`` (whose data dir keeps
    the fleet, telemetry and evidence) and return its scorecard."""
    options = options or DrillOptions()
    _check_fresh(store)
    clock = SimulatedClock(options.start or DEFAULT_START)
    # One thread per model call: requests come one at a time, and on a busy machine OpenMP's
    # spinning threads cost far more than they give on batches of a few hundred rows.
    with threadpool_limits(limits=1):
        return _Drill(scenario, store, options, clock).run()
