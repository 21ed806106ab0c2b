"""The console in a real headless Chromium (Debian's), driven by Playwright, against a real server.

The server is ``airsoc serve`` (uvicorn) on a free port of 127.0.0.1. The test logs in, reads the
overview, sees an incident a monitor declares appear without reloading the page, opens an
incident, acknowledges it in place, presses a transition button, sees the timeline update; then
an approver who did not request the playbook run watches its approval count down to the second
and approves the rollback step in place; a playbook worker carries the run on through the real
gateway routing controls, and the incident and system pages show it without a reload. Last it
opens a post-mortem and the API docs (Swagger UI and ReDoc, served by the app itself).

Every page is checked for raw JSON, unrendered Markdown and timestamps with fractions of a
second, charts for unknown values drawn as 0, and the browser for refused scripts or requests
(the Content-Security-Policy). Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, Route, expect

from airsoc.clock import SimulatedClock, SystemClock
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import ChartData, ChartSeries, FindingIn, add_finding
from airsoc.incidents.service import add_evidence, assign_role, declare_incident
from airsoc.response import PlaybookRunner, ResponseServices
from airsoc.runtime import live_control_plane
from airsoc.runtime.registries import build_action_registry
from airsoc.server.auth import add_user
from airsoc.settings import Settings
from airsoc.store import Store
from tests.cli.test_serve import serving as airsoc_serve
from tests.reporting.conftest import work_incident
from tests.server.conftest import TIMED_ROLLBACK_PLAYBOOK, Story, seed_operations

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long a live page may take to show a change (it polls every 5 s; the machine is loaded).
LIVE_MS = 30_000
#: What a reader must never see: JSON, Markdown markers, times with fractions of a second.
RAW_JSON = re.compile(r'\{"|"\w+":\s*(?:true|false|null|\d|"|\{|\[)')
MARKDOWN = re.compile(r"\*\*|__|```|^\s{0,3}#{1,6} |^\s*[-*+] \S", re.M)
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}[.,]\d+")
PASSWORD = "dana-console-pass"
APPROVER_PASSWORD = "sam-console-pass"


@contextmanager
def playbook_worker(data_dir: Path) -> Iterator[None]:
    """Run a playbook worker (the role of ``airsoc monitors run``) in a thread on the store."""
    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}))
    clock = SystemClock()
    runner = PlaybookRunner(
        store=store,
        clock=clock,
        worker_id="browser-test-worker",
        registry=build_action_registry(plugins=False),
        services=ResponseServices(
            store=store,
            settings=store.settings,
            control_plane=live_control_plane(store=store, clock=clock),
        ),
    )
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            runner.run_until_idle()
            stop.wait(0.2)

    thread = threading.Thread(target=loop, name="playbook-worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        store.close()


def assert_readable(page: Page) -> None:
    """Assert the page shows no raw JSON, no unrendered Markdown, no fraction of a second, and
    that no chart draws an unknown mean time as a bar."""
    text = page.locator("main").inner_text()
    where = page.url
    found = RAW_JSON.search(text)
    assert not found, f"{where}: raw JSON: {text[max(found.start() - 200, 0) : found.end() + 200]}"
    assert not MARKDOWN.search(text), f"{where}: Markdown marker {MARKDOWN.search(text)}"
    html = page.locator("main").inner_html()
    assert not MICROSECONDS.search(text + html), f"{where}: {MICROSECONDS.search(text + html)}"
    times = page.locator("#panel-response-times-by-failure-mode")
    if times.count():
        unknown_charted_as_zero(times.inner_html())


def unknown_charted_as_zero(html: str) -> None:
    """Assert every mean time the table says is unknown is written "unknown" in the chart."""
    rows = re.findall(r"<tr><td>([^<]+)</td><td>\d+</td>((?:<td>[^<]*</td>){4})</tr>", html)
    assert rows, "the response-times table has no rows"
    for group, cells in rows:
        values = re.findall(r"<td>([^<]*)</td>", cells)
        for name, value in zip(("MTTA", "MTTC", "MTTR"), values[1:], strict=True):
            if value == "unknown":
                assert f"{name} {group}: unknown</title>" in html, (name, group)
                assert f"{name} {group}: 0</title>" not in html, (name, group)


def watch_the_browser(page: Page) -> list[str]:
    """Return a list that collects the browser's complaints: script errors, refusals by the
    Content-Security-Policy, and any request to a host other than the app."""
    complaints: list[str] = []

    def elsewhere(route: Route) -> None:
        complaints.append(f"asked another host: {route.request.url}")
        route.abort()

    # Offline: nothing may be fetched from anywhere but the app under test.
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), elsewhere)
    page.on("pageerror", lambda exc: complaints.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            complaints.append(msg.text)
            if msg.type == "error"
            and ("Content Security Policy" in msg.text or "Refused" in msg.text)
            else None
        ),
    )
    return complaints


def mark_page(page: Page) -> None:
    """Leave a mark in the page's window: a reload or a navigation wipes it."""
    page.evaluate("window.__notReloaded = true")


def still_marked(page: Page) -> bool:
    """Return whether the page is the same one :func:`mark_page` marked (no reload since)."""
    return bool(page.evaluate("window.__notReloaded === true"))


def log_in(page: Page, base: str, user: str, password: str) -> None:
    """Open the console's login form and log in as ``user``."""
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def seed(data_dir: Path) -> tuple[int, int, Story]:
    """Add a responder and an approver, a worked incident with its post-mortem, a fresh incident,
    and a drifting system whose incident's playbook waits for approval of a rollback."""
    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}))
    # The server runs on the wall clock, so the story starts a few hours before now.
    clock = SimulatedClock(SystemClock().now() - timedelta(hours=4))
    try:
        worked = work_incident(store, clock)
        with store.transaction() as s:
            add_user(s, clock=clock, name="dana", role="responder", password=PASSWORD, actor="ada")
            add_user(
                s,
                clock=clock,
                name="sam",
                role="approver",
                password=APPROVER_PASSWORD,
                actor="ada",
            )
            fresh = declare_incident(
                s,
                clock=clock,
                actor="system:monitor/support-bot-canary",
                system="support-bot",
                failure_mode="prompt_injection",
                summary="A canary token from the system prompt appeared in 14 answers.",
                severity="sev1",
                indicators=["canary token cnry-7f3a in output"],
            )
            assign_role(
                s, clock=clock, incident_id=fresh.id, role="ic", person="dana", actor="dana"
            )
            add_evidence(
                s,
                clock=clock,
                blobs=BlobStore(store.settings.evidence_dir),
                incident_id=fresh.id,
                content=b'{"turn": 881, "output": "... cnry-7f3a ..."}',
                name="leaking-turns.json",
                source="gateway.request_log",
                actor="dana",
                media_type="application/json",
            )
            add_finding(
                s,
                clock=clock,
                incident_id=fresh.id,
                actor="dana",
                finding=FindingIn(
                    title="Canary leaks began after the retrieval index refresh",
                    kind="observation",
                    chart=ChartData(
                        kind="line",
                        x=[f"{h:02d}:00" for h in range(6, 12)],
                        series=[ChartSeries(name="leaking answers", values=[0, 0, 1, 6, 14, 9])],
                        threshold=1,
                        y_label="answers per hour",
                    ),
                ),
            )
        # dana's playbook run waits for the incident commander (sam) to approve its rollback,
        # for 30 minutes from about now (then the run is aborted).
        recent = SimulatedClock(SystemClock().now() - timedelta(minutes=76))
        story = seed_operations(
            store, recent, requester="dana", commander="sam", playbook=TIMED_ROLLBACK_PLAYBOOK
        )
        return worked, fresh.id, story
    finally:
        store.close()


def test_log_in_work_an_incident_and_read_a_postmortem(browser: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    worked, fresh, story = seed(data)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with airsoc_serve(data) as base, playbook_worker(data):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        complaints = watch_the_browser(page)
        page.goto(f"{base}/")
        expect(page.get_by_role("heading", name="Log in to airsoc")).to_be_visible()
        page.get_by_label("User name").fill("dana")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.get_by_role("img", name="Open incidents by severity")).to_be_visible()
        expect(page.locator("#live-status")).to_contain_text("live", timeout=LIVE_MS)
        assert_readable(page)
        page.screenshot(path=str(SHOTS / "01-overview.png"), full_page=True)

        # A monitor declares an incident: the overview shows it without a reload.
        mark_page(page)
        late = declare_while_watching(data)
        expect(page.get_by_role("link", name=f"INC-{late}")).to_be_visible(timeout=LIVE_MS)
        assert still_marked(page), "the overview was reloaded"
        page.screenshot(path=str(SHOTS / "01-overview-live-update.png"), full_page=True)

        page.get_by_role("link", name=f"INC-{fresh}").click()
        expect(page.locator("#phase")).to_have_text("detected")
        expect(page.locator("#evidence")).to_contain_text("leaking-turns.json")
        expect(page.locator("#acknowledged")).to_have_text("not yet")
        assert_readable(page)
        # Acknowledge in place: the page stays, the record says who and when, TTA is measured.
        mark_page(page)
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator("#acknowledged")).to_contain_text("by dana at", timeout=LIVE_MS)
        expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
        expect(page.locator("#summary")).not_to_contain_text("TTA unknown")
        expect(page.locator("#timeline")).to_contain_text("Incident acknowledged")
        assert still_marked(page), "acknowledging reloaded the page"
        assert_readable(page)
        page.screenshot(path=str(SHOTS / "02-incident.png"), full_page=True)

        # The regulatory panel has a reason field of its own: the transition form is meant.
        moves = page.locator("form.moves")
        moves.get_by_label("Reason").fill("blocked the client and switched to scripted answers")
        page.get_by_role("button", name="Move to contained").click()
        expect(page.locator("#phase")).to_have_text("contained")
        expect(page.locator("#timeline")).to_contain_text(
            "Moved from detected to contained: blocked the client and switched to scripted answers."
        )
        expect(page.get_by_role("button", name="Move to recovered")).to_be_visible()
        page.locator("#timeline").screenshot(path=str(SHOTS / "03-timeline-after-move.png"))
        page.screenshot(path=str(SHOTS / "03-incident-contained.png"), full_page=True)

        # An approver who did not request the run approves its rollback step.
        page.get_by_role("button", name="Log out").click()
        log_in(page, base, "sam", APPROVER_PASSWORD)
        expect(page.locator("#systems")).to_contain_text("breaching")
        expect(page.locator("#pending-approvals")).to_contain_text("rollback")
        countdown = page.locator("#pending-approvals .countdown")
        expect(countdown).to_have_text(re.compile(r"times out in \d+:\d\d \(then abort\)"))
        ticked = countdown.inner_text()
        expect(countdown).not_to_have_text(ticked)  # it counts down, to the second
        assert_readable(page)
        page.screenshot(path=str(SHOTS / "05-overview-pending-approval.png"), full_page=True)
        page.get_by_role("link", name=story.system).click()
        expect(page.locator("#routing-version")).to_have_text("v7")
        expect(page.get_by_role("img", name="fraud-input-drift: statistic per run")).to_be_visible()
        assert_readable(page)
        page.screenshot(path=str(SHOTS / "06-system-before.png"), full_page=True)

        page.goto(f"{base}/")
        page.get_by_role("link", name=f"INC-{story.incident_id}").first.click()
        run = page.locator(f"#run-{story.run_id}")
        expect(run.locator(".run-status")).to_have_text("waiting approval")
        expect(run.locator(".countdown")).to_have_text(re.compile(r"times out in \d+:\d\d"))
        page.get_by_label("Why").fill("PSI 0.31 on amount; v6 passed the holdout review")
        page.screenshot(path=str(SHOTS / "07-incident-approval.png"), full_page=True)
        # Approve in place: no navigation; the worker's progress then arrives live.
        mark_page(page)
        page.get_by_role("button", name="Approve contain").click()
        expect(page.locator(f"#approval-{story.approval_id}")).to_contain_text(
            "approved by sam", timeout=LIVE_MS
        )
        expect(run.locator(".run-status")).to_have_text("succeeded", timeout=LIVE_MS)
        expect(run).to_contain_text("Rolled back fraud-detector from v7 to v6.")
        assert still_marked(page), "approving reloaded the page"
        assert_readable(page)
        page.screenshot(path=str(SHOTS / "08-incident-approved.png"), full_page=True)
        page.locator("#playbook-runs").screenshot(path=str(SHOTS / "09-run-succeeded.png"))

        # The gateway now serves the last known-good version.
        page.goto(f"{base}/systems/{story.system}")
        expect(page.locator("#routing-version")).to_have_text("v6")
        expect(page.locator("#routing-mode")).to_have_text("primary")
        expect(page.locator("#routing")).to_contain_text("by playbook")
        assert_readable(page)
        page.screenshot(path=str(SHOTS / "06-system-rolled-back.png"), full_page=True)

        page.goto(f"{base}/postmortems")
        page.get_by_role("link", name=f"INC-{worked}").first.click()
        expect(
            page.get_by_role("heading", name="Root cause and contributing factors")
        ).to_be_visible()
        expect(page.locator("article.postmortem svg")).to_have_count(3)
        assert_readable(page)
        page.screenshot(path=str(SHOTS / "04-postmortem.png"), full_page=True)

        # The API docs work with no network beyond the app, under its strict policy.
        page.goto(f"{base}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("airsoc", timeout=LIVE_MS)
        expect(page.locator(".opblock").first).to_be_visible()
        page.screenshot(path=str(SHOTS / "10-docs.png"), full_page=False)
        page.goto(f"{base}/redoc")
        expect(page.get_by_role("menuitem", name="incidents").first).to_be_visible(timeout=LIVE_MS)
        expect(page.get_by_role("heading", name=re.compile("^airsoc")).first).to_be_visible(
            timeout=LIVE_MS
        )
        page.screenshot(path=str(SHOTS / "11-redoc.png"), full_page=False)
        # ReDoc's "by Redocly" badge points at its maker's site; the policy keeps it from loading.
        badge = "cdn.redoc.ly/redoc/logo-mini.svg"
        assert [c for c in complaints if badge not in c] == []
        page.close()


def declare_while_watching(data_dir: Path) -> int:
    """Declare an incident as a monitor would, on the store the server reads; return its id."""
    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}))
    try:
        with store.transaction() as s:
            return declare_incident(
                s,
                clock=SystemClock(),
                actor="system:monitor/support-bot-harm",
                system="support-bot",
                failure_mode="harmful_output",
                summary="The output classifier flagged 9 answers in 10 minutes.",
                severity="sev2",
            ).id
    finally:
        store.close()
