"""Post-mortems through the API: review statuses, who may move them, action items, reports."""

from __future__ import annotations

import io
from datetime import timedelta

from pypdf import PdfReader

from tests.server.conftest import Api


def incident(api: Api, severity: str = "sev1") -> int:
    r = api.client.post(
        "/api/v1/incidents",
        json={
            "system": "support-bot",
            "failure_mode": "prompt_injection",
            "summary": "A jailbreak made the bot reveal its system prompt",
            "severity": severity,
        },
        headers=api.auth("dana"),
    )
    iid: int = r.json()["id"]
    return iid


def test_review_runs_draft_to_closed_with_the_right_roles(api: Api) -> None:
    iid = incident(api)
    r = api.client.post("/api/v1/postmortems", json={"incident_id": iid}, headers=api.auth("dana"))
    assert r.status_code == 201
    pm = r.json()
    assert pm["status"] == "draft"
    assert pm["next_statuses"] == ["in_review"]
    again = api.client.post(
        "/api/v1/postmortems", json={"incident_id": iid}, headers=api.auth("dana")
    )
    assert again.status_code == 409
    url = f"/api/v1/postmortems/{pm['id']}"

    def move(to: str, user: str) -> int:
        r = api.client.post(
            f"{url}/transitions", json={"to": to, "reason": "ok"}, headers=api.auth(user)
        )
        return r.status_code

    assert move("in_review", "dana") == 200
    r = api.client.post(
        f"{url}/transitions", json={"to": "reviewed", "reason": "ok"}, headers=api.auth("dana")
    )
    assert r.status_code == 403
    assert r.json()["message"] == (
        "dana is a responder; to move a post-mortem to reviewed needs the approver role or higher"
    )
    assert move("closed", "sam") == 409
    assert move("reviewed", "sam") == 200
    assert move("closed", "sam") == 200
    final = api.client.get(url, headers=api.auth("vic")).json()
    assert final["status_label"] == "Closed"
    assert [
        h["data"]["to"] for h in final["history"] if h["action"] == "postmortem.transitioned"
    ] == [
        "in_review",
        "reviewed",
        "closed",
    ]
    r = api.client.patch(url, json={"went_well": ["late edit"]}, headers=api.auth("dana"))
    assert r.status_code == 409


def test_action_items_are_due_by_severity_and_can_be_done(api: Api) -> None:
    iid = incident(api, severity="sev1")
    pm = api.client.post(
        "/api/v1/postmortems", json={"incident_id": iid}, headers=api.auth("dana")
    ).json()
    url = f"/api/v1/postmortems/{pm['id']}"
    r = api.client.post(
        f"{url}/action-items",
        json={"title": "Add canary tokens to the system prompt", "owner": "llm-platform"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 201
    item = r.json()
    assert item["due_at"].startswith((api.clock.now() + timedelta(days=7)).date().isoformat())
    r = api.client.patch(
        f"{url}/action-items/{item['id']}", json={"status": "done"}, headers=api.auth("dana")
    )
    assert r.json()["status"] == "done"
    r = api.client.patch(
        f"{url}/action-items/999", json={"status": "done"}, headers=api.auth("dana")
    )
    assert r.status_code == 404


def test_the_report_renders_in_three_formats(api: Api) -> None:
    iid = incident(api)
    pm = api.client.post(
        "/api/v1/postmortems", json={"incident_id": iid}, headers=api.auth("dana")
    ).json()
    api.client.patch(
        f"/api/v1/postmortems/{pm['id']}",
        json={"users_affected": 1200, "went_badly": ["The jailbreak filter missed role-play."]},
        headers=api.auth("dana"),
    )
    url = f"/api/v1/postmortems/{pm['id']}/report"
    md = api.client.get(url, headers=api.auth("vic"))
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "| Users affected | 1,200 |" in md.text
    assert "- The jailbreak filter missed role-play." in md.text
    html = api.client.get(url, params={"format": "html"}, headers=api.auth("vic")).text
    assert html.startswith("<!doctype html>")
    assert "<svg" in html
    pdf = api.client.get(url, params={"format": "pdf"}, headers=api.auth("vic"))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Users affected" in text
    assert "LLM01" in text
    bad = api.client.get(url, params={"format": "docx"}, headers=api.auth("vic"))
    assert bad.status_code == 422


def test_fleet_metrics_group_by_system(api: Api) -> None:
    iid = incident(api)
    api.clock.advance(timedelta(minutes=12))
    api.client.post(
        f"/api/v1/incidents/{iid}/transitions",
        json={"to": "contained", "reason": "blocked the client"},
        headers=api.auth("dana"),
    )
    rows = api.client.get(
        "/api/v1/reports/fleet",
        params={"group_by": "system", "period": "month"},
        headers=api.auth("vic"),
    ).json()
    assert [(r["group"], r["period"], r["incidents"], r["mttc_seconds"]) for r in rows] == [
        ("support-bot", "2026-03", 1, 720.0)
    ]
