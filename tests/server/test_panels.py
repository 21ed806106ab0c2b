"""The console's operational pages: systems health, the system page with monitor charts,
pending approvals, and approving a playbook step from the incident page."""

from __future__ import annotations

from airsoc.response.config import EscalationConfig
from airsoc.response.escalation import post_status_update
from tests.server.conftest import Api, seed_operations
from tests.server.test_console import csrf_of, login


def test_the_overview_shows_systems_health_and_pending_approvals(api: Api) -> None:
    story = seed_operations(api.store, api.clock)
    login(api.client, "vic")
    page = api.client.get("/").text
    assert '<a href="/systems/fraud-detector">fraud-detector</a>' in page
    assert "breaching" in page
    assert "fraud-input-drift" in page
    assert f'href="/incidents/{story.incident_id}#playbook-runs">INC-{story.incident_id}' in page
    assert "four-eyes" in page


def test_the_system_page_charts_each_monitor_and_shows_routing_and_alerts(api: Api) -> None:
    seed_operations(api.store, api.clock)
    login(api.client, "vic")
    page = api.client.get("/systems/fraud-detector").text
    assert '<td id="routing-mode">primary</td>' in page
    assert '<td id="routing-version">v7</td>' in page
    assert 'aria-label="fraud-input-drift: statistic per run"' in page
    assert page.count("<polyline") == 1
    assert 'class="threshold"' in page
    assert page.count('class="marker"') == 1  # the one run that raised the alarm
    assert "No requests in the last hour" in page  # the seed sends no traffic
    assert "5 signals, 1 raised the alarm" in page
    assert "https://" not in page
    assert api.client.get("/systems/nope").status_code == 404


def test_an_approver_approves_a_step_from_the_incident_page(api: Api) -> None:
    story = seed_operations(api.store, api.clock)
    with api.store.transaction() as s:
        post_status_update(
            s,
            clock=api.clock,
            incident_id=story.incident_id,
            config=EscalationConfig(),
            author="system:escalation",
        )
    login(api.client, "dana")
    page = api.client.get(f"/incidents/{story.incident_id}").text
    assert "Run 1: contain-drift" in page
    assert "waiting approval" in page
    assert "Approve contain</button>" not in page  # a responder sees no buttons
    assert "Status update" in page
    api.client.cookies.clear()
    login(api.client, "sam")
    page = api.client.get(f"/incidents/{story.incident_id}").text
    assert "Approve contain</button>" in page
    r = api.client.post(
        f"/approvals/{story.approval_id}/decide",
        data={"csrf_token": csrf_of(page), "decision": "approve", "reason": "v6 is clean"},
    )
    assert r.status_code == 200
    assert "approved" in r.text
    assert "by sam" in r.text
    assert "v6 is clean" in r.text
    forged = api.client.post(
        f"/approvals/{story.approval_id}/decide",
        data={"csrf_token": "forged", "decision": "reject"},
        follow_redirects=False,
    )
    assert forged.status_code == 403


def test_the_requester_is_refused_on_the_console_too(api: Api) -> None:
    story = seed_operations(api.store, api.clock, requester="sam", commander="sam")
    login(api.client, "sam")
    page = api.client.get(f"/incidents/{story.incident_id}").text
    r = api.client.post(
        f"/approvals/{story.approval_id}/decide",
        data={"csrf_token": csrf_of(page), "decision": "approve", "reason": "mine"},
    )
    assert r.status_code == 403
    assert "cannot also approve it" in r.text


def test_an_isolated_system_shows_as_contained(api: Api) -> None:
    story = seed_operations(api.store, api.clock)
    api.client.post(
        f"/api/v1/gateway/routes/{story.system}/isolate",
        json={"reason": "leaking answers"},
        headers=api.auth("dana"),
    )
    login(api.client, "vic")
    assert '<span class="health health-contained">contained</span>' in api.client.get("/").text
    page = api.client.get(f"/systems/{story.system}").text
    assert '<td id="routing-mode">isolated</td>' in page
    assert "by dana" in page
