"""``airsoc up --demo``: the whole platform with the demo fleet, live traffic and a scheduled
fault, narrated as it happens. Every detector is a real monitor of the configuration; none
knows which model is clean or what the fault is.

The RAG support bot runs beside the platform as an OpenAI-compatible chat upstream on
``bot_port``; the gateway's chat endpoint serves it, so a help-center client's support questions
(most answered from the policy documents) reach the event log as LLM turns with the documents
retrieved, and the bot's prompt-injection, harmful-output and grounding monitors watch them.

Timeline (with the defaults): traffic starts at once, and the ground truth of each answered
row (chargebacks, loan defaults) is sent back as a delayed label ``label_delay`` seconds later.
At a quarter of ``fault_after`` vendor acme-data delivers a clean batch (the batch screen
passes it); at half, the benign retrain v2 (v1 plus that batch, with its own validation
evidence) is promoted: it raises no incident. At ``fault_after`` vendor brightline-data
delivers a batch whose fraud labels were flipped, and the vendor pipeline promotes v3, trained
with it. The batch screen finds the poisoned rows; the alert group becomes a ``data_poisoning``
incident; lineage names the batch v3 was trained on that known-good v2 was not, and the demo
approver becomes incident commander; the ``poisoned-training-data`` playbook waits
``approval_timeout`` seconds for the approver, then rolls the gateway back to v2 and quarantines
the batch; the delayed-label performance monitor sees recall fall meanwhile; the demo marks the
incident contained and opens the draft post-mortem.

Example:
    >>> options = DemoOptions(fault_after=5, monitor_every=2)
    >>> options.approval_timeout, options.delay
    (30.0, 1.0)
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from airsoc.alerting import RecordingReceiver
from airsoc.audit import verify_chains
from airsoc.clock import Clock
from airsoc.errors import AirsocError, InputError
from airsoc.fleet.rag import SupportBot
from airsoc.fleet.rag.questions import support_questions
from airsoc.fleet.rag.upstream import chat_app
from airsoc.fleet.recommender import impressions
from airsoc.fleet.setup import (
    APPROVER,
    POISONED_BATCH,
    RETRAIN_BATCH,
    SUPPORT_BOT,
    DemoSetup,
    UserDirectory,
    credit_rows,
    fraud_rows,
    impression_rows,
    prepare_demo,
    register_release,
    register_support_bot,
    review_rows,
)
from airsoc.fleet.systems import credit_applications, fraud_transactions, sentiment_reviews
from airsoc.incidents.service import (
    get_incident,
    list_incidents,
)
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.reporting import list_postmortems
from airsoc.response import list_runs
from airsoc.runtime.health import PartStatus
from airsoc.runtime.loop import LoopReport
from airsoc.runtime.platform import Platform, PlatformOptions
from airsoc.runtime.registries import build_registries
from airsoc.serving import RetrievalView, get_retrieval, get_route
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
from airsoc.store import Store

__all__ = ["DemoOptions", "DemoOutcome", "DemoTraffic", "run_live_demo"]

FAULT_ACTOR = "demo:fault-injector"
RELEASE_ACTOR = "demo:release-pipeline"
FAULT_VERSION = "v3"


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
    requests_per_second: float = 4.0
    label_delay: float | None = None

    @property
    def delay(self) -> float:
        """Seconds before a row's ground truth comes back (default: half a monitor period)."""
        return self.label_delay if self.label_delay is not None else self.monitor_every / 2


@dataclass
class DemoOutcome:
    """What happened: the incident the fault caused, incidents declared before the fault (the
    benign retrain must raise none), the monitors that fired after it, and when each step of
    the loop closed."""

    incident_id: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    before_fault: list[str] = field(default_factory=list)
    fired_after_fault: list[str] = field(default_factory=list)


def _labelled(rows: list[dict[str, Any]], labels: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    return itertools.cycle(list(zip(rows, labels, strict=True)))


class DemoTraffic:
    """Seeded background clients calling the gateway: card transactions, loan applications,
    product reviews and recommendation slots; each answered row's ground truth (for a slot:
    clicked, ordered) is posted back ``label_delay`` seconds later. The help center asks the
    support bot ``questions_per_second`` questions on the chat endpoint, from a dozen
    customers (each a session)."""

    def __init__(
        self,
        base_url: str,
        *,
        rate: float,
        label_delay: float = 0.0,
        seed: int = 7,
        questions_per_second: float = 1.0,
    ) -> None:
        self.base_url = base_url
        self.rate = rate
        self.label_delay = label_delay
        self.sent = 0
        self.failed = 0
        self.labels_sent = 0
        self.questions_sent = 0
        self.questions_failed = 0
        self.questions_per_second = questions_per_second
        self._questions = itertools.cycle(enumerate(support_questions(1000, seed=seed + 4)))
        self._next_question = 0.0
        fraud = fraud_transactions(5000, seed=seed)
        credit = credit_applications(3000, seed=seed + 1)
        self._fraud = _labelled(fraud_rows(fraud), [int(y) for y in fraud["is_fraud"]])
        self._credit = _labelled(credit_rows(credit), [int(y) for y in credit["defaulted"]])
        reviews = sentiment_reviews(2000, seed=seed + 2)
        self._reviews = _labelled(review_rows(reviews), [int(y) for y in reviews["positive"]])
        shown = impressions(5000, seed=seed + 3)
        # The storefront reports a click and whether an order followed, for each impression.
        outcomes = [
            {"click": int(c), "order": int(o)}
            for c, o in zip(shown["click"], shown["order"], strict=True)
        ]
        self._impressions = _labelled(impression_rows(shown), outcomes)
        self._due: list[tuple[float, int, str, str, list[Any]]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def start(self) -> None:
        """Start sending requests."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait for the last request."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._stop.wait(1 / self.rate):
                for system, rows, n, who in (
                    ("fraud-detector", self._fraud, 8, "checkout"),
                    ("credit-scorer", self._credit, 3, "loan-portal"),
                    ("sentiment-model", self._reviews, 4, "reviews-app"),
                    ("recommender", self._impressions, 6, "storefront"),
                ):
                    batch = [next(rows) for _ in range(n)]
                    try:
                        response = client.post(
                            f"/v1/systems/{system}/predict",
                            json={"rows": [r for r, _ in batch]},
                            headers={"X-Client-ID": who},
                        )
                        ok = response.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    self.sent += 1
                    self.failed += 0 if ok else 1
                    if ok:
                        heapq.heappush(
                            self._due,
                            (
                                time.monotonic() + self.label_delay,
                                next(self._order),
                                system,
                                str(response.json()["request_id"]),
                                [y for _, y in batch],
                            ),
                        )
                self._ask(client)
                self._send_labels(client)

    def _ask(self, client: httpx.Client) -> None:
        """Ask the support bot the next question when one is due."""
        if self.questions_per_second <= 0 or time.monotonic() < self._next_question:
            return
        self._next_question = time.monotonic() + 1 / self.questions_per_second
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
        self.questions_sent += 1
        self.questions_failed += 0 if ok else 1

    def _send_labels(self, client: httpx.Client) -> None:
        """Post the ground truth of every answered request whose delay has passed."""
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, _, system, request_id, labels = heapq.heappop(self._due)
            body = {
                "labels": [
                    {"request_id": request_id, "row_index": i, "label": y}
                    for i, y in enumerate(labels)
                ]
            }
            try:
                response = client.post(
                    f"/v1/systems/{system}/labels", json=body, headers={"X-Client-ID": "ledger"}
                )
            except httpx.HTTPError:
                continue
            if response.status_code == 202:
                self.labels_sent += len(labels)


class _Narrator:
    """Turns each tick of the loop into a few lines of live log, and closes the loop's last
    steps the demo owns: containment noted on the incident, and the draft post-mortem."""

    def __init__(self, store: Store, clock: Clock, out: Console, started: float) -> None:
        self.store = store
        self.clock = clock
        self.out = out
        self.started = started
        self.outcome = DemoOutcome()
        self._seen: set[Any] = set()
        self._primary: str | None = None
        self._lock = threading.Lock()

    def say(self, text: str, style: str = "") -> None:
        stamp = f"[dim]{time.monotonic() - self.started:6.1f}s[/dim]"
        self.out.print(f"{stamp} {f'[{style}]' if style else ''}{text}")

    def mark(self, name: str) -> None:
        self.outcome.timings.setdefault(name, time.monotonic() - self.started)

    def once(self, key: Any) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def __call__(self, report: LoopReport) -> None:
        with self._lock:
            self._report(report)

    def _report(self, report: LoopReport) -> None:
        for run in report.monitor_runs:
            if run.error and self.once(("error", run.monitor, run.error)):
                self.say(escape(f"monitor {run.monitor}: {run.error}"), "red")
            if run.breached and self.once(
                ("breach", run.monitor, run.alert and run.alert.starts_at)
            ):
                reason = escape("; ".join(v.reason for v in run.verdicts if v.is_alarm)[:400])
                self.say(f"monitor [bold]{run.monitor}[/bold] fired: {reason}", "yellow")
                if "fault" in self.outcome.timings:
                    self.mark("detected")
                    if run.monitor not in self.outcome.fired_after_fault:
                        self.outcome.fired_after_fault.append(run.monitor)
            if run.resolved:
                self.say(f"monitor {run.monitor} is clean again; its alert resolved", "green")
        for note in report.notifications:
            self.say(escape(f"notified {note.receiver}: {note.status} {note.group_labels}"), "cyan")
        with self.store.read() as s:
            route = get_route(s, system="fraud-detector")
            incidents = list_incidents(s)
            runs = {i.id: list_runs(s, incident_id=i.id) for i in incidents}
            drafted = {p.incident_id for p in list_postmortems(s)}
        if route.primary_version != self._primary:
            if self._primary is not None:
                self.say(
                    f"gateway: fraud-detector now serves [bold]{route.primary_version}[/bold] "
                    f"({escape(route.updated_by)}: {escape(route.reason)})",
                    "magenta",
                )
            self._primary = route.primary_version
        for incident in incidents:
            if self.once(("incident", incident.id)):
                if "fault" not in self.outcome.timings:
                    self.outcome.before_fault.append(incident.ref)
                self.say(
                    f"incident [bold]{incident.ref}[/bold] declared: {escape(incident.title)} "
                    f"({incident.severity}, {incident.failure_mode})",
                    "bold red",
                )
                if incident.failure_mode == "data_poisoning" and self.outcome.incident_id is None:
                    self.outcome.incident_id = incident.id
                    self.mark("declared")
            if incident.id == self.outcome.incident_id:
                self._investigated(incident.id)
                self._observe(incident.id, incident.id in drafted)
            for pb in runs[incident.id]:
                for step in pb.steps:
                    if self.once(("step", pb.id, step.step_id, step.status)):
                        self.say(f"  playbook {pb.playbook} step {step.step_id}: {step.status}")
                if pb.status == "waiting_approval" and self.once(("waiting", pb.id)):
                    self.say(
                        f"  playbook {pb.playbook} waits for approval: approve it as "
                        f"{APPROVER}, the incident commander (in the console, or `airsoc login "
                        f"{APPROVER}` then `airsoc approvals approve`), or it proceeds when the "
                        "approval times out",
                        "yellow",
                    )
                if pb.status in ("succeeded", "failed") and self.once(("run", pb.id)):
                    self.say(f"  playbook {pb.playbook} {pb.status}", "bold")
        if (
            self.outcome.incident_id is not None
            and route.primary_version not in (None, FAULT_VERSION)
            and "declared" in self.outcome.timings
        ):
            self.mark("contained")

    def _investigated(self, incident_id: int) -> None:
        """Report what the platform's own investigation put on the incident."""
        with self.store.read() as s:
            incident = get_incident(s, incident_id=incident_id)
        if not incident.data_batches or not self.once(("investigated", incident_id)):
            return
        self.say(
            f"investigation (forensics.poisoning): {incident.system} "
            f"{', '.join(incident.model_versions)} was trained on the suspect "
            f"{', '.join(incident.data_batches)}; the playbook quarantines it",
            "cyan",
        )
        self.mark("investigated")

    def _observe(self, incident_id: int, drafted: bool) -> None:
        """Mark the milestones the platform reached: contained, post-mortem drafted."""
        with self.store.read() as s:
            phase = get_incident(s, incident_id=incident_id).phase
        if phase != "detected" and phase != "triaged" and self.once(("phase", incident_id)):
            self.say(f"incident {incident_id} is now {phase}", "green")
        if drafted and self.once(("postmortem", incident_id)):
            self.say(f"post-mortem draft opened for incident {incident_id}", "green")
            self.mark("postmortem")


def _banner(out: Console, platform: Platform, setup: DemoSetup, options: DemoOptions) -> None:
    out.print("[bold]airsoc demo[/bold]")
    out.print(f"  console and API  {platform.api_url}/   (API docs at /docs)")
    out.print(f"  gateway          {platform.gateway_url}/v1/status")
    out.print(f"  configuration    {setup.config_path}")
    for name, password in setup.credentials.items():
        out.print(f"  user             {name}  password {password}")
    out.print(
        f"  benign release   in {options.fault_after / 2:g}s fraud-detector v2, retrained with "
        f"the clean {RETRAIN_BATCH}, is promoted"
    )
    out.print(
        f"  fault            in {options.fault_after:g}s the poisoned fraud-detector "
        f"{FAULT_VERSION} (trained with {POISONED_BATCH}) is promoted"
    )
    out.print(
        f"  support bot      {options.host}:{options.bot_port}, served by the gateway's "
        f"{platform.gateway_url}/v1/chat/completions as model {SUPPORT_BOT}"
    )
    out.print(f"  delayed labels   ground truth comes back {options.delay:g}s after each answer")
    out.print("  Ctrl-C stops.\n")


def run_live_demo(
    *,
    store: Store,
    settings: Settings,
    clock: Clock,
    out: Console,
    options: DemoOptions,
    api_app: Callable[[Callable[[], list[PartStatus]]], Any],
    users: UserDirectory,
) -> DemoOutcome:
    """Run the demo until ``options.duration`` passes or Ctrl-C; return what happened."""
    started = time.monotonic()
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
    narrator = _Narrator(store, clock, out, started)
    bot = contextlib.ExitStack()
    bot_url = bot.enter_context(_support_bot(store, clock, options))
    try:
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
                on_tick=[narrator],
                on_error=lambda text: narrator.say(escape(text), "red"),
            ),
        )
        platform.start()
    except BaseException:
        bot.close()
        raise
    _banner(out, platform, setup, options)
    traffic = DemoTraffic(
        platform.gateway_url, rate=options.requests_per_second, label_delay=options.delay
    )
    traffic.start()
    narrator.say(
        f"traffic started: checkout, loan-portal, reviews-app, storefront and help-center "
        f"clients calling {platform.gateway_url}; "
        f"the ledger sends each answer's ground truth {options.delay:g}s later"
    )
    schedule = _schedule(store, clock, platform, setup, narrator, options)
    end_at = time.monotonic() + options.duration if options.duration is not None else None
    try:
        while end_at is None or time.monotonic() < end_at:
            while schedule and time.monotonic() >= schedule[0][0]:
                schedule.pop(0)[1]()
            time.sleep(0.1)
    except KeyboardInterrupt:
        out.print("\nstopping...")
    finally:
        traffic.stop()
        platform.stop()
        bot.close()
    with store.read() as s:
        ok = all(r.ok for r in verify_chains(s))
    timings = narrator.outcome.timings
    if "fault" in timings:
        steps = [
            f"{k} +{timings[k] - timings['fault']:.1f}s"
            for k in ("detected", "declared", "investigated", "contained", "postmortem")
            if k in timings
        ]
        out.print("after the fault: " + (", ".join(steps) or "nothing yet"))
    out.print(
        f"requests sent {traffic.sent} (failed {traffic.failed}), labels sent "
        f"{traffic.labels_sent}, support questions {traffic.questions_sent} (failed "
        f"{traffic.questions_failed}); audit chains verified: {ok}"
    )
    if "fault" in timings:
        out.print(
            "incidents before the fault: "
            + (", ".join(narrator.outcome.before_fault) or "none")
            + "; monitors that fired after it: "
            + (", ".join(narrator.outcome.fired_after_fault) or "none")
        )
    return narrator.outcome


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


def _schedule(
    store: Store,
    clock: Clock,
    platform: Platform,
    setup: DemoSetup,
    narrator: _Narrator,
    options: DemoOptions,
) -> list[tuple[float, Callable[[], None]]]:
    """Return the demo's releases as (monotonic time, step), in order."""

    def promote(version: str, actor: str, reason: str) -> bool:
        try:
            platform.gateway.promote("fraud-detector", version, actor=actor, reason=reason)
        except AirsocError as exc:
            narrator.say(escape(f"{actor}: promoting {version} refused: {exc}"), "red")
            return False
        return True

    def delivery() -> None:
        register_release(store, clock, setup, "retrain", part="batch")
        narrator.say(f"vendor acme-data delivered {RETRAIN_BATCH} (registered; screened next)")

    def retrain() -> None:
        release = register_release(store, clock, setup, "retrain")
        if promote(release.version, RELEASE_ACTOR, release.reason):
            narrator.mark("benign")
            narrator.say(
                f"benign release: fraud-detector {release.version} (retrained with "
                f"{RETRAIN_BATCH}, validated, marked known-good) now serves",
                "green",
            )

    def fault() -> None:
        release = register_release(store, clock, setup, "fault")
        narrator.mark("fault")
        if promote(
            release.version,
            FAULT_ACTOR,
            f"scheduled fault: {release.version}, trained with {POISONED_BATCH}, promoted",
        ):
            narrator.say(
                f"[bold]fault injected[/bold]: vendor brightline-data delivered {POISONED_BATCH} "
                f"and fraud-detector {release.version}, trained with it, now serves",
                "red",
            )

    now = time.monotonic()
    return [
        (now + options.fault_after / 4, delivery),
        (now + options.fault_after / 2, retrain),
        (now + options.fault_after, fault),
    ]
