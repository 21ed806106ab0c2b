"""Serious incidents through the API and the console: flag, awareness, due date, reports."""

from __future__ import annotations

import io
from datetime import timedelta

from pypdf import PdfReader

from airsoc.clock import SimulatedClock
from airsoc.reporting.config import RegulatoryConfig
from airsoc.reporting.regulatory import sync_profiles
from tests.server.conftest import Api
from tests.server.routes.test_postmortems import incident
from tests.server.test_console import csrf_of, login


def test_flag_read_change_and_report_through_the_api(api: Api, clock: SimulatedClock) -> None:
    iid = incident(api)
    url = f"/api/v1/incidents/{iid}/serious"
    assert api.client.get(url, headers=api.auth("vic")).status_code == 404
    body = {"category": "death", "reason": "a refused refund led to harm", "time_zone": "x/y"}
    r = api.client.post(url, json=body, headers=api.auth("dana"))
    assert r.status_code == 422  # not an IANA time zone
    body["time_zone"] = "Europe/Dublin"
    assert api.client.post(url, json=body, headers=api.auth("vic")).status_code == 403
    r = api.client.post(url, json=body, headers=api.auth("dana"))
    assert r.status_code == 201, r.text
    flagged = r.json()
    # Aware 2026-03-01 09:00 UTC (GMT); 10 days on: the end of 11 March in Dublin.
    assert flagged["due_local"] == "2026-03-12 00:00 GMT (Europe/Dublin)"
    assert flagged["status"] == "due"
    r = api.client.patch(
        url,
        json={"reason": "the complaint reached support the day before",
              "aware_at": "2026-02-28T10:00:00+00:00"},
        headers=api.auth("dana"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["due_local"] == "2026-03-11 00:00 GMT (Europe/Dublin)"
    timeline = api.client.get(f"/api/v1/incidents/{iid}/timeline", headers=api.auth("vic"))
    actions = [e["action"] for e in timeline.json()]
    assert actions[-2:] == ["incident.flagged_serious", "incident.serious_updated"]
    md = api.client.get(f"{url}/report?kind=initial&format=md", headers=api.auth("vic"))
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    assert "| Report due (10 calendar days) | 2026-03-11 00:00 GMT (Europe/Dublin) |" in md.text
    pdf = api.client.get(f"{url}/report?kind=final&format=pdf", headers=api.auth("vic"))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Serious incident report (final)" in text
    assert api.client.get(f"{url}/changes", headers=api.auth("vic")).json() == []
    clock.advance(timedelta(days=12))
    assert api.client.get(url, headers=api.auth("vic")).json()["status"] == "overdue"
    r = api.client.post(
        f"{url}/reports", json={"kind": "initial", "reason": "ref 2026/17"},
        headers=api.auth("dana"),
    )  # fmt: skip
    assert r.json()["status"] == "initial report sent (late)"
    again = api.client.post(f"{url}/reports", json={"kind": "initial"}, headers=api.auth("dana"))
    assert again.status_code == 409


def test_the_console_flags_an_incident_and_shows_its_report(api: Api) -> None:
    iid = incident(api)
    login(api.client, "dana")
    page = api.client.get(f"/incidents/{iid}").text
    assert "Flag as serious incident" in page
    r = api.client.post(
        f"/incidents/{iid}/regulatory/flag",
        data={"csrf_token": csrf_of(page), "category": "other", "reason": "harm to customers"},
        follow_redirects=False,
    )
    # No profile for support-bot in this store, and the console gives no time zone.
    assert r.status_code == 409
    assert "support-bot has no regulatory profile" in r.text
    config = RegulatoryConfig.model_validate(
        {
            "provider": "Acme Help Ltd",
            "jurisdictions": {"ie": {"time_zone": "Europe/Dublin", "authority": "the AI Office"}},
            "systems": {"support-bot": {"jurisdiction": "ie"}},
        }
    )
    with api.store.transaction() as s:
        sync_profiles(s, clock=api.clock, config=config)
    r = api.client.post(
        f"/incidents/{iid}/regulatory/flag",
        data={"csrf_token": csrf_of(page), "category": "other", "reason": "harm to customers"},
    )
    assert r.status_code == 200
    assert "Serious incident report (initial)" in r.text
    assert "Acme Help Ltd" in r.text
    assert "the AI Office" in r.text
    assert "2026-03-17 00:00 GMT (Europe/Dublin)" in r.text
    panel = api.client.get(f"/incidents/{iid}").text
    assert "report due <strong>2026-03-17 00:00 GMT (Europe/Dublin)</strong>" in panel
    r = api.client.post(
        f"/incidents/{iid}/regulatory/reports",
        data={"csrf_token": csrf_of(panel), "kind": "initial", "reason": "ref 17"},
    )
    assert "initial report sent" in r.text
    md = api.client.get(f"/incidents/{iid}/regulatory/report-final.md")
    assert md.text.startswith("# Serious incident report (final)")
