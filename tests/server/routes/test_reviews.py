"""The review board, action items, the charter and the severity floor through the API."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from pypdf import PdfReader

from airsoc.lineage.systems import register_system
from airsoc.server.routes.charter import serve_configuration
from tests.server.conftest import Api
from tests.server.governance_support import measured_incident, write_charter_config


def test_queue_decisions_and_action_items_with_the_right_roles(api: Api) -> None:
    filed = api.client.post(
        "/api/v1/reviews",
        json={"kind": "tabletop_debrief", "reference": "TT-4", "title": "Poisoning tabletop"},
        headers=api.auth("dana"),
    )
    assert filed.status_code == 201, filed.text
    item = filed.json()
    assert (item["status"], item["submitted_by"]) == ("pending", "dana")
    queue = api.client.get("/api/v1/reviews", headers=api.auth("vic")).json()
    assert [i["reference"] for i in queue] == ["TT-4"]

    url = f"/api/v1/reviews/{item['id']}"
    added = api.client.post(
        f"{url}/action-items",
        json={"title": "Write the vendor call-tree", "owner": "ops"},
        headers=api.auth("dana"),
    )
    assert added.status_code == 201, added.text
    assert added.json()["due_at"].startswith("2026-03-31")  # 30 days outside a post-mortem

    decision = {"decision": "request_changes", "text": "Name who calls the vendor"}
    refused = api.client.post(f"{url}/decisions", json=decision, headers=api.auth("dana"))
    assert refused.status_code == 403
    assert "needs the approver role" in refused.json()["message"]
    decided = api.client.post(f"{url}/decisions", json=decision, headers=api.auth("sam"))
    assert decided.status_code == 200, decided.text
    view = decided.json()
    assert view["status"] == "changes_requested"
    assert [(d["reviewer"], d["decision"], d["text"]) for d in view["decisions"]] == [
        ("sam", "request_changes", "Name who calls the vendor")
    ]
    assert [e["action"] for e in view["history"]] == [
        "review.filed",
        "review.action_item_added",
        "review.changes_requested",
    ]
    again = api.client.post(f"{url}/decisions", json=decision, headers=api.auth("sam"))
    assert again.status_code == 409
    blank = api.client.post(
        f"{url}/decisions", json={"decision": "approve", "text": " "}, headers=api.auth("ada")
    )
    assert blank.status_code == 422

    api.clock.advance(timedelta(days=31))
    overdue = api.client.get("/api/v1/action-items?overdue=true", headers=api.auth("vic")).json()
    assert [(i["title"], i["overdue"], i["source"]) for i in overdue] == [
        ("Write the vendor call-tree", True, f"review {item['id']}")
    ]
    action = overdue[0]["id"]
    moved = api.client.patch(
        f"/api/v1/action-items/{action}", json={"status": "done"}, headers=api.auth("dana")
    )
    assert moved.status_code == 200, moved.text
    assert api.client.get("/api/v1/action-items?overdue=true", headers=api.auth("vic")).json() == []
    bad = api.client.patch(
        f"/api/v1/action-items/{action}", json={"status": "late"}, headers=api.auth("dana")
    )
    assert bad.status_code == 422
    assert api.client.get("/api/v1/reviews/999", headers=api.auth("vic")).status_code == 404


def test_an_incident_declared_through_the_api_is_raised_to_its_floor(
    api: Api, tmp_path: Path
) -> None:
    with api.store.transaction() as s:
        register_system(
            s,
            clock=api.clock,
            actor="setup",
            name="fraud-detector",
            kind="tabular-classifier",
            owner="risk-ml",
            criticality="high",
        )
    body = {"system": "fraud-detector", "failure_mode": "data_drift", "summary": "psi 0.4"}
    r = api.client.post("/api/v1/incidents", json=body, headers=api.auth("dana"))
    assert r.json()["severity"] == "sev3"  # data_drift's SEV4, raised to high's default floor
    timeline = api.client.get(f"/api/v1/incidents/{r.json()['id']}", headers=api.auth("dana"))
    declared = timeline.json()["timeline"][0]
    assert declared["data"]["severity_reason"].startswith("raised from sev4 to the severity floor")
    # With the server's configuration, its rules apply.
    path = write_charter_config(tmp_path)
    text = path.read_text().replace(
        "governance:\n", "governance:\n  criticality:\n    high: {severity_floor: sev1}\n"
    )
    path.write_text(text, encoding="utf-8")
    serve_configuration(api.app, path)
    r = api.client.post("/api/v1/incidents", json=body, headers=api.auth("dana"))
    assert r.json()["severity"] == "sev1"


def test_the_charter_through_the_api(api: Api, tmp_path: Path) -> None:
    missing = api.client.get("/api/v1/charter", headers=api.auth("vic"))
    assert missing.status_code == 409
    assert missing.json()["code"] == "conflict"
    measured_incident(api.store, api.clock)
    serve_configuration(api.app, write_charter_config(tmp_path))
    data = api.client.get("/api/v1/charter", headers=api.auth("vic")).json()
    assert [(s["name"], s["severity_floor"]) for s in data["systems"]] == [
        ("fraud-detector", "sev2"),
        ("support-bot", None),
    ]
    detection = [s for s in data["slas"] if s["measure"] == "detection" and s["severity"] == "sev2"]
    assert detection[0]["target_seconds"] == 1200.0
    assert detection[0]["measured_seconds"] == 600.0
    md = api.client.get("/api/v1/charter?format=md", headers=api.auth("vic")).text
    assert "## Escalation paths" in md
    pdf = api.client.get("/api/v1/charter?format=pdf", headers=api.auth("vic"))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Severity definitions" in text
    assert "support-bot" in text
