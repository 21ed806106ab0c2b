"""The console in a real headless Chromium (Debian's), driven by Playwright, against a real server.

The server is ``airsoc serve`` (uvicorn) on a free port of 127.0.0.1. The test logs in, reads the
overview, opens an incident, presses a transition button, sees the timeline update, and opens a
post-mortem. Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from airsoc.clock import SimulatedClock, SystemClock
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import add_evidence, assign_role, declare_incident
from airsoc.reporting.findings import ChartData, ChartSeries, FindingIn, add_finding
from airsoc.server.auth import add_user
from airsoc.settings import Settings
from airsoc.store import Store
from tests.cli.test_serve import serving
from tests.reporting.conftest import work_incident

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def seed(data_dir: Path) -> tuple[int, int]:
    """Add a responder, a worked incident with its post-mortem, and a fresh incident."""
    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}))
    # The server runs on the wall clock, so the story starts a few hours before now.
    clock = SimulatedClock(SystemClock().now() - timedelta(hours=4))
    try:
        worked = work_incident(store, clock)
        with store.transaction() as s:
            add_user(s, clock=clock, name="dana", role="responder", password=PASSWORD, actor="ada")
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
        return worked, fresh.id
    finally:
        store.close()


def test_log_in_work_an_incident_and_read_a_postmortem(browser: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    worked, fresh = seed(data)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serving(data) as base:
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
        # After the alerting and response domains land: approve the playbook step of this
        # incident here and check that the system's routing changes.

        page.goto(f"{base}/postmortems")
        page.get_by_role("link", name=f"INC-{worked}").first.click()
        expect(
            page.get_by_role("heading", name="Root cause and contributing factors")
        ).to_be_visible()
        expect(page.locator("article.postmortem svg")).to_have_count(3)
        page.screenshot(path=str(SHOTS / "04-postmortem.png"), full_page=True)
        page.close()
