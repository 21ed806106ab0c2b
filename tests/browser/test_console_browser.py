"""The console in a real headless Chromium (Debian's), driven by Playwright, against a real server.

The server is ``airsoc serve`` (uvicorn) on a free port of 127.0.0.1. The test logs in, reads the
overview, opens an incident, presses a transition button, sees the timeline update; then an
approver who did not request the playbook run approves its rollback step, a playbook worker
carries the run on through the real gateway routing controls, and the system page shows the
rolled-back version. Last it opens a post-mortem. Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

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
from tests.server.conftest import Story, seed_operations

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


def log_in(page: Page, base: str, user: str, password: str) -> None:
    """Open the console's login form and log in as ``user``."""
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


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
        # dana's playbook run waits for the incident commander (sam) to approve its rollback.
        story = seed_operations(store, clock, requester="dana", commander="sam")
        return worked, fresh.id, story
    finally:
        store.close()


def test_log_in_work_an_incident_and_read_a_postmortem(browser: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    worked, fresh, story = seed(data)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with airsoc_serve(data) as base, playbook_worker(data):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        expect(page.get_by_role("heading", name="Log in to airsoc")).to_be_visible()
        page.get_by_label("User name").fill("dana")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.get_by_role("img", name="Open incidents by severity")).to_be_visible()
        page.screenshot(path=str(SHOTS / "01-overview.png"), full_page=True)

        page.get_by_role("link", name=f"INC-{fresh}").click()
        expect(page.locator("#phase")).to_have_text("detected")
        expect(page.locator("#evidence")).to_contain_text("leaking-turns.json")
        page.screenshot(path=str(SHOTS / "02-incident.png"), full_page=True)

        page.get_by_label("Reason").fill("blocked the client and switched to scripted answers")
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
        page.screenshot(path=str(SHOTS / "05-overview-pending-approval.png"), full_page=True)
        page.get_by_role("link", name=story.system).click()
        expect(page.locator("#routing-version")).to_have_text("v7")
        expect(
            page.get_by_role("img", name="fraud-input-drift: statistic over time")
        ).to_be_visible()
        page.screenshot(path=str(SHOTS / "06-system-before.png"), full_page=True)

        page.goto(f"{base}/")
        page.get_by_role("link", name=f"INC-{story.incident_id}").first.click()
        run = page.locator(f"#run-{story.run_id}")
        expect(run.locator(".run-status")).to_have_text("waiting approval")
        page.get_by_label("Why").fill("PSI 0.31 on amount; v6 passed the holdout review")
        page.screenshot(path=str(SHOTS / "07-incident-approval.png"), full_page=True)
        page.get_by_role("button", name="Approve contain").click()
        expect(page.locator(f"#approval-{story.approval_id}")).to_contain_text("approved by sam")

        # The worker carries the run on: the gateway now serves the last known-good version.
        page.goto(f"{base}/systems/{story.system}")
        deadline = time.monotonic() + 20
        while page.locator("#routing-version").inner_text() != "v6":
            assert time.monotonic() < deadline, "the rollback did not reach the gateway"
            time.sleep(0.3)
            page.reload()
        expect(page.locator("#routing-mode")).to_have_text("primary")
        expect(page.locator("#routing")).to_contain_text("by playbook")
        page.screenshot(path=str(SHOTS / "08-system-rolled-back.png"), full_page=True)
        page.goto(f"{base}/incidents/{story.incident_id}")
        expect(run.locator(".run-status")).to_have_text("succeeded")
        page.locator("#playbook-runs").screenshot(path=str(SHOTS / "09-run-succeeded.png"))

        page.goto(f"{base}/postmortems")
        page.get_by_role("link", name=f"INC-{worked}").first.click()
        expect(
            page.get_by_role("heading", name="Root cause and contributing factors")
        ).to_be_visible()
        expect(page.locator("article.postmortem svg")).to_have_count(3)
        page.screenshot(path=str(SHOTS / "04-postmortem.png"), full_page=True)
        page.close()
