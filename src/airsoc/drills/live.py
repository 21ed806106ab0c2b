"""Drills on the wall clock: ``airsoc up --demo`` (the live demo) and
``airsoc drill run SCENARIO --real-time`` (a scenario against a running ``airsoc up``).

Both run a scenario with :func:`run_live_drill`: its traffic goes through the gateway over HTTP
(each answered row's ground truth posted back ``label_delay`` later; chat streams to the
gateway's chat endpoint, which serves the system's registered upstream), its injects are applied
by the same injectors as in chaos mode when their time comes, and at the end (the duration
elapsed, or Ctrl-C) the scorecard is computed from the store, as in chaos mode. While it runs,
a short status line says what the store holds (incidents, playbook runs, post-mortems); nothing
is decided or marked on the platform's behalf.

The live demo runs the built-in scenario ``live-demo`` on the demo fleet with the whole platform
started in this process (API and console, gateway, monitors, alerting, playbook worker), and the
RAG support bot as an OpenAI-compatible chat upstream on ``bot_port`` that the gateway's chat
endpoint serves: a help-center client asks it support questions, which reach the event log as
LLM turns watched by the bot's monitors. Its timeline is stretched or shrunk so that the first
fault lands ``fault_after`` seconds in: the benign retrain v2 is promoted half-way there and
must raise nothing; then the poisoned v3, trained with vendor brightline-data's batch, is
promoted. The platform finds the batch, declares the incident, investigates, rolls back (after
the approver, or the approval timeout) and opens the draft post-mortem.

Example:
    >>> options = DemoOptions(fault_after=5, monitor_every=2)
    >>> options.approval_timeout, options.delay
    (30.0, 1.0)
    >>> scenario = demo_scenario(options)
    >>> [(i.id, i.at.total_seconds()) for i in scenario.injects]
    [('retrain', 2.5), ('poisoned-release', 5.0)]
    >>> scenario.traffic.label_delay.total_seconds(), scenario.fleet.monitor_every.total_seconds()
    (1.0, 2.0)
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from rich.console import Console

from airsoc.alerting import RecordingReceiver
from airsoc.audit import verify_chains
from airsoc.clock import Clock
from airsoc.drills.context import DrillContext, Releases
from airsoc.drills.injectors import builtin_injectors
from airsoc.drills.runner import GatewayTraffic, apply_inject, run_scheduled
from airsoc.drills.scenario import Scenario, load_scenario
from airsoc.drills.scorecard import Scorecard
from airsoc.errors import InputError
from airsoc.fleet.rag import SupportBot
from airsoc.fleet.rag.questions import support_questions
from airsoc.fleet.rag.upstream import chat_app
from airsoc.fleet.setup import (
    APPROVER,
    SUPPORT_BOT,
    DemoSetup,
    UserDirectory,
    prepare_demo,
    register_support_bot,
)
from airsoc.incidents.service import list_incidents
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.reporting import list_postmortems
from airsoc.reporting.drill_report import render_drill_text
from airsoc.response import list_runs
from airsoc.runtime.health import PartStatus
from airsoc.runtime.platform import Platform, PlatformOptions
from airsoc.runtime.registries import build_registries
from airsoc.serving import RetrievalView, control, get_retrieval
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
from airsoc.store import Store

__all__ = [
    "DEMO_SCENARIO",
    "DemoOptions",
    "HelpCenter",
    "HttpGateway",
    "LiveResult",
    "StoreReleases",
    "demo_scenario",
    "platform_status",
    "run_live_demo",
    "run_live_drill",
]

DEMO_SCENARIO = "live-demo"
"""The built-in scenario ``airsoc up --demo`` runs."""


@dataclass
class DemoOptions:
    """How the demo runs: where it listens, how long, and how fast its loop turns."""

    host: str = "127.0.0.1"
    api_port: int = 8000
    gateway_port: int = 8400
    bot_port: int = 8401
    duration: float | None = None
    fault_after: float = 60.0
    monitor_every: float = 15.0
    approval_timeout: float = 30.0
    tick_interval: float = 1.0
    label_delay: float | None = None

    @property
    def delay(self) -> float:
        """Seconds before a row's ground truth comes back (default: half a monitor period)."""
        return self.label_delay if self.label_delay is not None else self.monitor_every / 2


def demo_scenario(options: DemoOptions) -> Scenario:
    """Return the ``live-demo`` scenario timed by ``options``: its injects stretched so the
    first fault lands ``fault_after`` seconds in, its monitors' period, approval timeout and
    label delay taken from ``options``, its duration ``options.duration`` (or long enough to
    run until Ctrl-C)."""
    scenario = load_scenario(DEMO_SCENARIO)
    first_fault = scenario.faults[0].at.total_seconds()
    factor = options.fault_after / first_fault
    injects = [
        i.model_copy(update={"at": timedelta(seconds=i.at.total_seconds() * factor)})
        for i in scenario.injects
    ]
    last = max(i.at for i in injects)
    duration = (
        timedelta(seconds=options.duration)
        if options.duration is not None
        else max(timedelta(days=365), last)
    )
    return scenario.model_copy(
        update={
            "injects": injects,
            "traffic": scenario.traffic.model_copy(
                update={
                    "duration": max(duration, last),
                    "label_delay": timedelta(seconds=options.delay),
                }
            ),
            "fleet": scenario.fleet.model_copy(
                update={
                    "monitor_every": timedelta(seconds=options.monitor_every),
                    "approval_timeout": timedelta(seconds=options.approval_timeout),
                }
            ),
        }
    )


class StoreReleases:
    """Releases through the store's routing: a gateway serving from the same store sees a
    promotion within its poll interval (a running ``airsoc up``), as the team's pipeline would
    change it with ``airsoc gateway promote``."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def promote(self, system: str, version: str, *, actor: str, reason: str) -> Any:
        """Serve ``version`` of ``system`` as its primary; return the new route."""
        with self.store.transaction() as s:
            return control.promote(
                s, clock=self.clock, system=system, version=version, actor=actor, reason=reason
            )


class HelpCenter:
    """The support bot's customers: ``per_second`` questions on the gateway's chat endpoint,
    from a dozen customers (each a conversation)."""

    def __init__(self, *, per_second: float = 1.0, seed: int = 7) -> None:
        self.per_second = per_second
        self.sent = 0
        self.failed = 0
        self._questions = itertools.cycle(enumerate(support_questions(1000, seed=seed + 4)))
        self._next = 0.0

    def ask(self, client: httpx.Client) -> None:
        """Ask the next question when one is due."""
        if self.per_second <= 0 or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + 1 / self.per_second
        i, question = next(self._questions)
        try:
            response = client.post(
                "/v1/chat/completions",
                json={
                    "model": SUPPORT_BOT,
                    "messages": [{"role": "user", "content": question}],
                    "user": f"customer-{i % 12}",
                },
                headers={"X-Client-ID": "help-center"},
            )
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        self.sent += 1
        self.failed += 0 if ok else 1


class HttpGateway:
    """A running gateway over HTTP, as the drill's clients reach it."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post(self, path: str, body: Any, *, client: str) -> httpx.Response:
        """Send ``body`` to ``path`` as ``client``; a connection error reads as a 503."""
        try:
            return self.client.post(path, json=body, headers={"X-Client-ID": client})
        except httpx.HTTPError as exc:
            return httpx.Response(503, text=str(exc))


@dataclass
class LiveResult:
    """What a drill on the wall clock sent, and its scorecard."""

    scorecard: Scorecard
    traffic: GatewayTraffic
    help_center: HelpCenter | None = None
    lines: list[str] = field(default_factory=list)


def platform_status(store: Store) -> str:
    """Return one line saying what the store holds: incidents, playbook runs, post-mortems.

    Example:
        >>> from airsoc.testing import scratch_store
        >>> store = scratch_store()
        >>> platform_status(store)
        'no incident'
        >>> store.close()
    """
    with store.read() as s:
        incidents = list_incidents(s)
        runs = list_runs(s)
        drafted = {p.incident_id: p.status for p in list_postmortems(s)}
    if not incidents:
        return "no incident"
    parts = []
    for incident in sorted(incidents, key=lambda i: i.id):
        text = (
            f"{incident.ref} {incident.failure_mode} on {incident.system} "
            f"({incident.severity}, {incident.phase})"
        )
        mine = [r for r in runs if r.incident_id == incident.id]
        if mine:
            text += "; playbook " + ", ".join(f"{r.playbook} {r.status}" for r in mine)
        if incident.id in drafted:
            text += f"; post-mortem {drafted[incident.id]}"
        parts.append(text)
    return " | ".join(parts)


def run_live_drill(
    scenario: Scenario,
    *,
    store: Store,
    clock: Clock,
    gateway_url: str,
    setup: DemoSetup | None,
    releases: Releases,
    out: Console,
    seed: int | None = None,
    status_every: float = 1.0,
    help_center: HelpCenter | None = None,
) -> LiveResult:
    """Run ``scenario`` on the wall clock against the platform behind ``gateway_url`` (whose
    store is ``store``) until its traffic's duration passes or Ctrl-C; return its scorecard.

    Each round (``traffic.step`` of wall time) applies the injects due, sends the traffic due
    and the labels due; every ``status_every`` seconds the status line is printed if it changed.
    """
    from airsoc.drills.scoring import score_drill

    drill_seed = scenario.seed if seed is None else seed
    traffic = GatewayTraffic(scenario, clock=clock, seed=drill_seed)
    injectors = builtin_injectors()
    started = time.monotonic()
    ctx = DrillContext(
        clock=clock,
        store=store,
        folder=setup.folder if setup else None,
        traffic=traffic.control,
        seed=drill_seed,
        started_at=clock.now(),
        setup=setup,
        releases=releases,
    )
    pending = list(scenario.injects)
    step_s = scenario.traffic.step.total_seconds()
    end_s = scenario.traffic.duration.total_seconds()
    last_status = ""
    sent_to = 0.0
    next_status = 0.0
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        out.print(line, markup=False)

    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        gateway = HttpGateway(client)
        try:
            while True:
                round_start = time.monotonic()
                elapsed = round_start - started
                if elapsed >= end_s:
                    break
                while pending and pending[0].at.total_seconds() <= elapsed:
                    apply_inject(ctx, pending.pop(0), injectors, log)
                run_scheduled(ctx, log)
                # Send what the time since the last round asks for, so the rates hold when a
                # round runs late on a loaded machine.
                now_s = ctx.elapsed_s
                due = max(0.0, now_s - sent_to)
                for batch in traffic.control.round(elapsed_s=sent_to, step_s=due):
                    traffic.send(gateway, batch)
                # Chat streams go to the running gateway's chat endpoint, which serves the
                # system's registered upstream.
                for turn in traffic.control.chat_round(elapsed_s=sent_to, step_s=due):
                    traffic.send_chat(gateway, turn)
                traffic.post_labels(gateway)
                sent_to = now_s
                if help_center is not None:
                    help_center.ask(client)
                if time.monotonic() >= next_status:
                    next_status = time.monotonic() + status_every
                    status = platform_status(store)
                    if status != last_status:
                        last_status = status
                        log(f"+{ctx.elapsed_s:>9.0f}s {status}{_approval_hint(store)}")
                time.sleep(max(0.0, step_s - (time.monotonic() - round_start)))
        except KeyboardInterrupt:
            out.print(f"\nstopped by Ctrl-C after {time.monotonic() - started:.0f}s")
    card = score_drill(scenario, store=store, started_at=ctx.started_at, ended_at=clock.now())
    card.seed = drill_seed
    card.wall_s = round(time.monotonic() - started, 3)
    card.requests_sent = traffic.counts.requests
    card.rows_sent = traffic.counts.rows
    card.labels_sent = traffic.counts.labels
    card.chat_turns_sent = traffic.counts.turns
    card.data_dir = str(store.settings.data_dir)
    return LiveResult(scorecard=card, traffic=traffic, help_center=help_center, lines=lines)


def _approval_hint(store: Store) -> str:
    """Return how to approve a playbook step that waits, if one does."""
    with store.read() as s:
        waiting = list_runs(s, status="waiting_approval")
    if not waiting:
        return ""
    return (
        f" — {waiting[0].playbook} waits for approval: approve it as {APPROVER} in the "
        f"console, or `airsoc login {APPROVER}` then `airsoc approvals approve`; it proceeds "
        "when the approval times out"
    )


def _banner(out: Console, platform: Platform, setup: DemoSetup, scenario: Scenario) -> None:
    out.print("[bold]airsoc demo[/bold]: a live drill of the built-in scenario live-demo")
    out.print(f"  console and API  {platform.api_url}/   (API docs at /docs)")
    out.print(f"  gateway          {platform.gateway_url}/v1/status")
    out.print(f"  configuration    {setup.config_path}")
    for name, password in setup.credentials.items():
        out.print(f"  user             {name}  password {password}")
    for inject in scenario.injects:
        what = "benign change" if inject.benign else "fault"
        out.print(
            f"  {what:<16} in {inject.at.total_seconds():g}s: {inject.id} "
            f"({inject.kind} {dict(inject.params).get('release', '')})".rstrip()
        )
    out.print(
        f"  support bot      served by the gateway's {platform.gateway_url}/v1/chat/completions "
        f"as model {SUPPORT_BOT}"
    )
    out.print(
        f"  delayed labels   ground truth comes back "
        f"{scenario.traffic.label_delay.total_seconds():g}s after each answer"
    )
    out.print("  Ctrl-C stops and prints the scorecard.\n")


def run_live_demo(
    *,
    store: Store,
    settings: Settings,
    clock: Clock,
    out: Console,
    options: DemoOptions,
    api_app: Callable[[Callable[[], list[PartStatus]]], Any],
    users: UserDirectory,
) -> LiveResult:
    """Run the live demo until ``options.duration`` passes or Ctrl-C; return its scorecard."""
    scenario = demo_scenario(options)
    registries = build_registries()
    out.print("preparing the demo fleet (first start trains its six models)...")
    setup = prepare_demo(
        store=store,
        clock=clock,
        users=users,
        monitor_every=options.monitor_every,
        approval_timeout=options.approval_timeout,
    )
    with store.read() as s:
        still_open = [
            i.ref
            for i in list_incidents(s)
            if i.system == "fraud-detector"
            and i.phase not in ("closed", "false_positive", "merged")
        ]
    if still_open:
        out.print(
            f"note: {', '.join(still_open)} from an earlier run is still open, so this run's "
            f"alerts join it instead of declaring a new incident; close it in the console, or "
            f"start from an empty data dir ({settings.data_dir}) for the full story"
        )
    with contextlib.ExitStack() as stack:
        bot_url = stack.enter_context(_support_bot(store, clock, options))
        register_support_bot(store, clock, folder=setup.folder, url=bot_url)
        platform = Platform(
            store=store,
            clock=clock,
            api_app=api_app,
            options=PlatformOptions(
                config_path=setup.config_path,
                host=options.host,
                api_port=options.api_port,
                gateway_port=options.gateway_port,
                tick_interval=options.tick_interval,
                receivers={name: [RecordingReceiver(name)] for name in ("ml-oncall", "pager")},
                source=EventLogTelemetry(store=store, base_dir=setup.folder),
                evaluators=registries.evaluators,
                on_error=lambda text: out.print(text, markup=False, style="red"),
            ),
        )
        platform.start()
        stack.callback(platform.stop)
        _banner(out, platform, setup, scenario)
        result = run_live_drill(
            scenario,
            store=store,
            clock=clock,
            gateway_url=platform.gateway_url,
            setup=setup,
            releases=platform.gateway,
            out=out,
            help_center=HelpCenter(),
        )
    with store.read() as s:
        ok = all(r.ok for r in verify_chains(s))
    center = result.help_center
    out.print(
        f"\nrequests sent {result.traffic.counts.requests} (refused "
        f"{result.traffic.counts.refused}), labels sent {result.traffic.counts.labels}, "
        f"support questions {center.sent if center else 0} "
        f"(failed {center.failed if center else 0}); audit chains verified: {ok}"
    )
    out.print(render_drill_text(result.scorecard.to_json()), markup=False)
    return result


@contextlib.contextmanager
def _support_bot(store: Store, clock: Clock, options: DemoOptions) -> Iterator[str]:
    """Serve the support bot's chat upstream on ``options.bot_port``; yield its ``/v1`` URL.

    The bot reads its retrieval control from the store before each answer, so the gateway's
    ``disable_retrieval`` and ``remove_document`` reach it."""

    def controls() -> RetrievalView:
        with store.read() as s:
            return get_retrieval(s, system=SUPPORT_BOT)

    app = chat_app(SupportBot.demo(clock=clock), controls=controls)
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(
                serve_in_thread(app, host=options.host, port=options.bot_port)
            )
        except RuntimeError as exc:
            raise InputError(
                f"the support bot did not start on {options.host}:{options.bot_port} "
                f"(in use?): {exc}",
                loc="bot_port",
            ) from None
        yield f"{url}/v1"
