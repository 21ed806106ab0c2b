"""The console as a user meets it: log in, read the overview, work an incident, write it up."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from markupsafe import Markup

from airsoc.clock import SimulatedClock
from airsoc.incidents.findings import ChartData, ChartSeries, FindingIn, add_finding
from airsoc.incidents.service import add_evidence, declare_incident
from airsoc.server.app import OVERVIEW_PANELS, create_app
from airsoc.server.console import Panel, PanelContext
from airsoc.store import Store
from tests.server.conftest import PASSWORD, Api


def login(client: TestClient, user: str, password: str = PASSWORD, next_: str = "/") -> str:
    page = client.get(f"/login?next={next_}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": token.group(1), "next": next_},
        follow_redirects=False,
    )
    return r.headers.get("location", "") if r.status_code == 303 else r.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def seed_incident(api: Api) -> int:
    with api.store.transaction() as s:
        inc = declare_incident(
            s,
            clock=api.clock,
            actor="system:monitor/fraud-batch-screen",
            system="fraud-detector",
            failure_mode="data_poisoning",
            summary="Batch 17 flips 9% of fraud labels",
            indicators=["label disagreement 0.31"],
        )
        add_evidence(
            s,
            clock=api.clock,
            blobs=api.app.state.ctx.blobs,
            incident_id=inc.id,
            content=b"screening report",
            name="screening.json",
            source="forensics.poisoning",
            actor="dana",
        )
        add_finding(
            s,
            clock=api.clock,
            incident_id=inc.id,
            actor="dana",
            finding=FindingIn(
                title="Vendor batch 17 carried flipped labels",
                kind="root_cause",
                chart=ChartData(
                    x=["b16", "b17"],
                    series=[ChartSeries(name="disagreement", values=[0.03, 0.31])],
                    threshold=0.1,
                ),
            ),
        )
    return inc.id


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(api: Api) -> None:
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    r_page = api.client.get("/login")
    assert "httponly" in r_page.headers["set-cookie"].lower()
    page = r_page.text
    r = api.client.post(
        "/login",
        data={"username": "dana", "password": PASSWORD, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "airsoc_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    overview = api.client.get("/").text
    assert "dana" in overview
    r = api.client.post("/logout", data={"csrf_token": csrf_of(overview)}, follow_redirects=False)
    assert r.headers["location"] == "/login"
    assert api.client.get("/", follow_redirects=False).status_code == 303


def test_a_wrong_password_or_a_forged_login_form_is_refused(api: Api) -> None:
    text = login(api.client, "dana", password="not-the-password")
    assert "wrong user name or password" in text
    r = api.client.post(
        "/login", data={"username": "dana", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 403
    assert "login form expired" in r.text


def test_login_never_redirects_to_another_site(api: Api) -> None:
    assert login(api.client, "dana", next_="//evil.example/") == "/"
    assert login(api.client, "dana", next_="/incidents/1") == "/incidents/1"


def test_the_overview_shows_open_incidents_by_severity(api: Api) -> None:
    iid = seed_incident(api)
    login(api.client, "vic")
    page = api.client.get("/").text
    assert "Open incidents by severity" in page
    assert "<svg" in page
    assert f'href="/incidents/{iid}"' in page
    assert "Response times by failure mode" in page
    assert "https://" not in page  # nothing loads from the network


def test_a_responder_moves_an_incident_and_the_timeline_shows_it(api: Api) -> None:
    iid = seed_incident(api)
    login(api.client, "dana")
    page = api.client.get(f"/incidents/{iid}").text
    for phase in ("triaged", "contained", "false positive", "merged"):
        assert f"Move to {phase}</button>" in page
    assert "screening.json" in page
    download = api.client.get(f"/incidents/{iid}/evidence/1")
    assert download.content == b"screening report"
    assert "accessed by dana" in api.client.get(f"/incidents/{iid}").text
    assert "Vendor batch 17 carried flipped labels" in page
    assert page.count("<svg") >= 1
    r = api.client.post(
        f"/incidents/{iid}/transition",
        data={"csrf_token": csrf_of(page), "to": "contained", "reason": "rolled back to v6"},
    )
    assert r.status_code == 200
    assert "Moved from detected to contained: rolled back to v6." in r.text
    assert "Move to eradicated</button>" in r.text
    r = api.client.post(
        f"/incidents/{iid}/notes", data={"csrf_token": csrf_of(page), "text": "vendor called"}
    )
    assert "Note: vendor called." in r.text
    r = api.client.post(
        f"/incidents/{iid}/roles",
        data={"csrf_token": csrf_of(page), "role": "incident_commander", "person": "dana"},
    )
    assert "dana took the incident commander role." in r.text
    r = api.client.post(
        f"/incidents/{iid}/transition",
        data={"csrf_token": csrf_of(page), "to": "closed", "reason": "too early"},
    )
    assert r.status_code == 409
    assert "cannot move from contained to closed" in r.text


def test_a_viewer_sees_the_incident_but_no_buttons(api: Api) -> None:
    iid = seed_incident(api)
    login(api.client, "vic")
    page = api.client.get(f"/incidents/{iid}").text
    assert "Move to" not in page
    assert "Your role cannot move incidents" in page
    refused = api.client.get(f"/incidents/{iid}/evidence/1")
    assert refused.status_code == 403
    assert "vic is a viewer; to read evidence needs the responder role" in refused.text
    assert api.client.get("/incidents/999").status_code == 404


def test_a_postmortem_is_started_reviewed_and_downloaded(api: Api) -> None:
    iid = seed_incident(api)
    login(api.client, "dana")
    page = api.client.get(f"/incidents/{iid}").text
    r = api.client.post(f"/incidents/{iid}/postmortem", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 200
    assert 'Review status: <span class="status">Draft</span>' in r.text
    assert "Root cause: Vendor batch 17 carried flipped labels." in r.text
    pm_url = str(r.url)
    r = api.client.post(
        f"{pm_url}/transition", data={"csrf_token": csrf_of(page), "to": "in_review"}
    )
    assert "In review" in r.text
    r = api.client.post(
        f"{pm_url}/transition", data={"csrf_token": csrf_of(page), "to": "reviewed"}
    )
    assert r.status_code == 403
    assert "dana is a responder; to move a post-mortem to reviewed needs the approver" in r.text
    r = api.client.post(
        f"{pm_url}/narrative",
        data={
            "csrf_token": csrf_of(page),
            "what_happened": "A vendor batch carried flipped labels.",
            "went_well": "The batch screen fired\n\nRollback was quick",
            "users_affected": "1,875",
        },
    )
    assert "| Users affected" not in r.text  # the HTML report, not Markdown
    assert "<td>1,875</td>" in r.text
    assert "<li>Rollback was quick</li>" in r.text
    r = api.client.post(
        f"{pm_url}/narrative", data={"csrf_token": csrf_of(page), "users_affected": "many"}
    )
    assert r.status_code == 422
    assert "users affected: give a whole number" in r.text
    r = api.client.post(
        f"{pm_url}/action-items",
        data={"csrf_token": csrf_of(page), "title": "Screen vendor batches", "owner": "risk-ml"},
    )
    assert "<td>Screen vendor batches</td><td>risk-ml</td>" in r.text
    listing = api.client.get("/postmortems").text
    assert "In review" in listing
    md = api.client.get(f"{pm_url}/report.md")
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Post-mortem:")
    pdf = api.client.get(f"{pm_url}/report.pdf")
    assert pdf.content.startswith(b"%PDF")


def test_panels_plug_in_and_an_empty_panel_is_left_out(api: Api) -> None:
    def approvals(ctx: PanelContext) -> Markup | None:
        return Markup("<p>2 steps wait for approval</p>")

    def nothing(ctx: PanelContext) -> Markup | None:
        return None

    app = create_app(
        api.store.settings,
        clock=api.clock,
        store=api.store,
        overview_panels=(
            *OVERVIEW_PANELS,
            Panel("Pending approvals", approvals),
            Panel("Systems", nothing),
        ),
    )
    with TestClient(app) as client:
        login(client, "vic")
        page = client.get("/").text
    assert "Pending approvals" in page
    assert "2 steps wait for approval" in page
    assert "Systems" not in page


def test_what_users_typed_is_escaped_everywhere(api: Api) -> None:
    with api.store.transaction() as s:
        inc = declare_incident(
            s,
            clock=api.clock,
            actor="dana",
            system="bot",
            failure_mode="prompt_injection",
            summary="<script>alert('x')</script>",
            title="<img src=x onerror=alert(1)>",
        )
        add_finding(
            s,
            clock=api.clock,
            incident_id=inc.id,
            actor="dana",
            finding=FindingIn(
                title="<b>bold</b> claim",
                chart=ChartData(x=["<i>"], series=[ChartSeries(name="<s>", values=[1])]),
            ),
        )
    login(api.client, "vic")
    for url in ("/", f"/incidents/{inc.id}"):
        page = api.client.get(url).text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<b>bold</b>" not in page
    assert "&lt;script&gt;" in api.client.get(f"/incidents/{inc.id}").text


def test_the_overview_shows_the_platform_parts_that_are_down(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    """A stopped part of the running platform shows first on the overview, as on /readyz."""
    from airsoc.runtime.health import PartStatus
    from tests.server.conftest import seed_users

    seed_users(sqlite_store, clock)
    parts = [PartStatus(part="event_log", status="ok", ok=True)]
    app = create_app(
        sqlite_store.settings, clock=clock, store=sqlite_store, readiness=lambda: list(parts)
    )
    with TestClient(app) as client:
        login(client, "vic")
        assert "Platform faults" not in client.get("/").text
        parts.append(
            PartStatus(part="worker", status="stalled", ok=False, detail="no heartbeat for 90 s")
        )
        page = client.get("/").text
        assert "Platform faults" in page
        assert "worker" in page
        assert "no heartbeat for 90 s" in page
        assert client.get("/readyz").status_code == 503
