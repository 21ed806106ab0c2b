"""A full incident of the demo fleet, watched and worked in a real headless Chromium.

Nothing is narrated: ``airsoc up --demo`` runs in a child process on free ports with a short
monitor period. It trains and registers the demo fleet, starts the API and console, the gateway,
the support bot, the monitors and the playbook worker, and sends traffic through the gateway
with delayed labels. After a benign retrain it promotes the poisoned release (the scheduled
fault). The batch screen detects the poisoned batch, the incident rule declares a
``data_poisoning`` incident and its playbook waits for the incident commander's approval.

The browser logs in and watches the overview: the incident appears without a reload. It
acknowledges the incident in place; then the demo's approver (who did not request the run) sees
the approval count down and approves the rollback in place; the platform rolls the gateway back,
quarantines the batch, marks the incident contained and opens the draft post-mortem. The test
flags the incident as a serious incident and reads its regulatory report, opens the system page
(the gateway serves the known-good version again), the post-mortem, which it moves to review,
the review board's queue, and the API docs.

Every page is checked with :func:`~tests.browser.test_console_browser.assert_readable`.
Screenshots go to ``test-artifacts/browser/`` named by page (``demo-overview.png``, ...).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
from playwright.sync_api import Browser, Page, expect

from airsoc.incidents.service import list_incidents
from airsoc.response import list_runs
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import free_port
from tests.browser.test_console_browser import (
    SHOTS,
    assert_readable,
    log_in,
    mark_page,
    still_marked,
    watch_the_browser,
)

T = TypeVar("T")

#: Seconds between monitor runs: short, so detection comes within a few rounds.
MONITOR_EVERY = 4
#: Seconds from the platform's start to the fault: time enough to log in and watch first.
FAULT_AFTER = 25
#: Seconds the rollback waits for approval before it proceeds alone: the browser approves first.
APPROVAL_TIMEOUT = 600
#: How long the platform may take to detect and declare, and to finish its playbook run.
PLATFORM_MS = 150_000
#: How long a live page may take to show a change (it polls every 5 s; the machine is loaded).
LIVE_MS = 30_000


@contextmanager
def demo_platform(data_dir: Path, log: Path) -> Iterator[str]:
    """Run ``airsoc up --demo`` in a child process on free ports; yield the console's URL."""
    api, gateway, bot = free_port(), free_port(), free_port()
    env = {**os.environ, "AIRSOC_DATA_DIR": str(data_dir)}
    env.pop("AIRSOC_DATABASE_URL", None)
    command = [
        sys.executable, "-c", "from airsoc.cli.main import run; run()", "up", "--demo",
        "--api-port", str(api), "--gateway-port", str(gateway), "--bot-port", str(bot),
        "--fault-after", str(FAULT_AFTER), "--monitor-every", str(MONITOR_EVERY),
        "--approval-timeout", str(APPROVAL_TIMEOUT),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{api}"
    with log.open("wb") as out:
        # The demo's live log goes to a file: a pipe nobody reads would fill and stop it.
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            # The first start trains the fleet's models before the servers listen.
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"airsoc up --demo did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def wait_for(what: str, check: Callable[[], T | None], *, timeout: float, log: Path) -> T:
    """Poll ``check`` until it returns a value; fail with the demo's log after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the demo said:\n{log.read_text()}")
        time.sleep(0.5)


def poisoning_incident(data_dir: Path) -> int | None:
    """Return the id of the ``data_poisoning`` incident the platform declared, if any."""
    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}))
    try:
        with store.read() as s:
            found = [i.id for i in list_incidents(s) if i.failure_mode == "data_poisoning"]
        return found[0] if found else None
    finally:
        store.close()


def playbook_run(data_dir: Path, incident_id: int) -> int | None:
    """Return the id of the incident's playbook run, once the worker started one."""
    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}))
    try:
        with store.read() as s:
            runs = list_runs(s, incident_id=incident_id)
        return runs[0].id if runs else None
    finally:
        store.close()


def credentials(data_dir: Path) -> dict[str, str]:
    """Return the demo users' passwords, as the demo wrote them for its operator."""
    lines = (data_dir / "demo" / "credentials.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines)


def shoot(page: Page, name: str) -> None:
    """Check the page reads well, then save its screenshot as ``demo-<name>.png``."""
    assert_readable(page)
    page.screenshot(path=str(SHOTS / f"demo-{name}.png"), full_page=True)


def test_a_demo_fleet_incident_from_fault_to_review(browser: Browser, tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "demo.log"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with demo_platform(data, log) as base:
        users = credentials(data)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        complaints = watch_the_browser(page)
        log_in(page, base, "demo-admin", users["demo-admin"])
        expect(page.locator("#live-status")).to_contain_text("live", timeout=LIVE_MS)
        # Watch the overview from before the fault: the incident must arrive without a reload.
        assert poisoning_incident(data) is None, "declared before the browser watched"
        mark_page(page)
        incident = wait_for(
            "the poisoning incident", lambda: poisoning_incident(data), timeout=180, log=log
        )
        link = page.get_by_role("link", name=f"INC-{incident}", exact=True).first
        expect(link).to_be_visible(timeout=LIVE_MS)
        assert still_marked(page), "the overview was reloaded"
        shoot(page, "overview")

        # Acknowledge in place, as the demo's admin.
        link.click()
        expect(page.locator("#acknowledged")).to_have_text("not yet")
        mark_page(page)
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator("#acknowledged")).to_contain_text("by demo-admin at", timeout=LIVE_MS)
        expect(page.locator("#timeline")).to_contain_text("Incident acknowledged")
        assert still_marked(page), "acknowledging reloaded the page"
        assert_readable(page)

        # The incident commander, who did not request the run, sees the countdown and approves.
        page.get_by_role("button", name="Log out").click()
        log_in(page, base, "demo-approver", users["demo-approver"])
        run_id = wait_for(
            "the playbook run", lambda: playbook_run(data, incident), timeout=60, log=log
        )
        countdown = page.locator("#pending-approvals .countdown")
        expect(countdown).to_have_text(
            re.compile(r"times out in \d+:\d\d \(then proceed\)"), timeout=PLATFORM_MS
        )
        ticked = countdown.inner_text()
        expect(countdown).not_to_have_text(ticked)  # it counts down, to the second
        assert_readable(page)
        page.goto(f"{base}/incidents/{incident}")
        run = page.locator(f"#run-{run_id}")
        expect(run.locator(".run-status")).to_have_text("waiting approval")
        expect(run.locator(".countdown")).to_have_text(re.compile(r"times out in \d+:\d\d"))
        page.get_by_label("Why").fill("v3 was trained on the flagged brightline-data batch")
        mark_page(page)
        page.get_by_role("button", name="Approve contain").click()
        expect(run.locator("[id^=approval-]").first).to_contain_text(
            "approved by demo-approver", timeout=LIVE_MS
        )
        # The worker carries the run on through the gateway; the page shows it live.
        expect(run.locator(".run-status")).to_have_text("succeeded", timeout=PLATFORM_MS)
        expect(run).to_contain_text(re.compile(r"Rolled back fraud-detector from v3 to v\d"))
        expect(page.locator("#phase")).to_have_text("contained", timeout=LIVE_MS)
        assert still_marked(page), "approving reloaded the page"
        shoot(page, "incident")

        # Flag it as a serious incident, as a responder would; the regulatory report follows.
        flag = page.locator("form.flag-serious")
        flag.locator("input[name=reason]").fill("poisoned fraud model blocked legitimate payments")
        flag.get_by_role("button", name="Flag as serious incident").click()
        expect(page).to_have_url(re.compile(rf"/incidents/{incident}/regulatory"))
        expect(page.locator("#regulatory-report")).to_contain_text(f"INC-{incident}")
        shoot(page, "regulatory")

        # The gateway serves the known-good version again.
        page.goto(f"{base}/systems/fraud-detector")
        expect(page.locator("#routing-version")).not_to_have_text("v3")
        expect(page.locator("#routing")).to_contain_text("by playbook")
        shoot(page, "system")

        # The draft post-mortem the playbook opened, moved to review: the board's queue has it.
        page.goto(f"{base}/postmortems")
        page.get_by_role("link", name=f"INC-{incident}").first.click()
        expect(page.locator("#report")).to_contain_text("fraud-detector")
        page.get_by_role("button", name="Move to in review").click()
        expect(page.locator(".review .status")).to_have_text("In review", timeout=LIVE_MS)
        shoot(page, "postmortem")
        page.goto(f"{base}/reviews")
        queued = page.locator("#review-queue tbody tr", has_text="postmortem")
        expect(queued).to_have_count(1)
        expect(queued).to_contain_text(re.compile(r"PM-\d+"))
        expect(queued.locator(".status")).to_have_text("pending")
        shoot(page, "reviews")

        page.goto(f"{base}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("airsoc", timeout=LIVE_MS)
        page.screenshot(path=str(SHOTS / "demo-docs.png"), full_page=False)
        page.goto(f"{base}/redoc")
        expect(page.get_by_role("menuitem", name="incidents").first).to_be_visible(timeout=LIVE_MS)
        page.screenshot(path=str(SHOTS / "demo-redoc.png"), full_page=False)
        badge = "cdn.redoc.ly/redoc/logo-mini.svg"
        assert [c for c in complaints if badge not in c] == []
        page.close()
