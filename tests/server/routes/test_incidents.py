"""The incidents API end to end, on SQLite and PostgreSQL: what a client sees."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from tests.server.conftest import Api


def declare(api: Api, **extra: object) -> dict[str, object]:
    body = {
        "system": "fraud-detector",
        "failure_mode": "data_poisoning",
        "summary": "Batch 17 flips fraud labels",
        **extra,
    }
    r = api.client.post("/api/v1/incidents", json=body, headers=api.auth("dana"))
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def test_an_incident_runs_its_lifecycle_through_the_api(api_any_store: Api) -> None:
    api = api_any_store
    inc = declare(api, model_versions=["fraud:v7"])
    assert inc["phase"] == "detected"
    assert inc["severity"] == "sev2"
    assert inc["next_phases"] == ["triaged", "contained", "false_positive", "merged"]
    iid = inc["id"]
    options = api.client.get(f"/api/v1/incidents/{iid}/transitions", headers=api.auth("vic"))
    assert [o["to"] for o in options.json()] == inc["next_phases"]

    api.clock.advance(timedelta(minutes=4))
    r = api.client.post(
        f"/api/v1/incidents/{iid}/roles",
        json={"role": "ic", "person": "dana"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 201
    assert r.json()["role"] == "incident_commander"
    r = api.client.post(
        f"/api/v1/incidents/{iid}/transitions",
        json={"to": "contained", "reason": "rolled back to v6"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 200
    assert r.json()["phase"] == "contained"
    assert r.json()["next_phases"] == ["eradicated", "recovered", "triaged", "merged"]
    r = api.client.post(
        f"/api/v1/incidents/{iid}/notes",
        json={"text": "vendor contacted"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 201
    assert r.json()["actor"] == "dana"
    r = api.client.patch(
        f"/api/v1/incidents/{iid}",
        json={"changes": {"severity": "sev1"}, "reason": "customers affected"},
        headers=api.auth("dana"),
    )
    assert r.json()["severity"] == "sev1"

    timeline = api.client.get(f"/api/v1/incidents/{iid}/timeline", headers=api.auth("vic")).json()
    assert [e["action"] for e in timeline] == [
        "incident.declared",
        "incident.role_assigned",
        "incident.transitioned",
        "incident.note",
        "incident.updated",
    ]
    assert timeline[2]["actor"] == "dana"
    assert timeline[2]["reason"] == "rolled back to v6"
    times = api.client.get(f"/api/v1/incidents/{iid}/times", headers=api.auth("vic")).json()
    assert times["tta_seconds"] == 240
    assert times["ttc_seconds"] == 240
    roles = api.client.get(f"/api/v1/incidents/{iid}/roles", headers=api.auth("vic")).json()
    assert [(r["role"], r["person"]) for r in roles] == [("incident_commander", "dana")]


def test_an_illegal_transition_answers_409_naming_the_legal_moves(api: Api) -> None:
    iid = declare(api)["id"]
    r = api.client.post(
        f"/api/v1/incidents/{iid}/transitions",
        json={"to": "closed", "reason": "done"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 409
    assert r.json()["code"] == "illegal_transition"
    assert "legal moves from detected: triaged, contained" in r.json()["message"]


def test_bad_input_answers_422_with_the_location(api: Api) -> None:
    r = api.client.post(
        "/api/v1/incidents",
        json={"system": "x", "failure_mode": "drift", "summary": "s"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_failure_mode"
    r = api.client.post(
        "/api/v1/incidents", json={"system": "x", "summary": "s"}, headers=api.auth("dana")
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "input_invalid"
    assert body["loc"] == "body.failure_mode"
    r = api.client.get("/api/v1/incidents/999", headers=api.auth("vic"))
    assert r.status_code == 404
    assert r.json() == {
        "code": "not_found",
        "message": "incident 999 not found",
    }


def test_evidence_uploads_and_downloads_with_custody(api: Api) -> None:
    iid = declare(api)["id"]
    content = b'{"batch": 17, "disagreement": 0.31}'
    r = api.client.post(
        f"/api/v1/incidents/{iid}/evidence",
        files={"file": ("screening.json", content, "application/json")},
        data={"source": "forensics.poisoning", "description": "screening report"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["sha256"] == hashlib.sha256(content).hexdigest()
    assert item["media_type"] == "application/json"
    r = api.client.get(
        f"/api/v1/incidents/{iid}/evidence/{item['id']}/content",
        params={"purpose": "post-mortem review"},
        headers=api.auth("sam"),
    )
    assert r.status_code == 200
    assert r.content == content
    assert r.headers["x-content-sha256"] == item["sha256"]
    listed = api.client.get(f"/api/v1/incidents/{iid}/evidence", headers=api.auth("vic")).json()
    assert [(c["action"], c["actor"], c["detail"]) for c in listed[0]["custody"]] == [
        ("collected", "dana", "forensics.poisoning"),
        ("accessed", "sam", "post-mortem review"),
    ]
    other = declare(api)["id"]
    r = api.client.get(
        f"/api/v1/incidents/{other}/evidence/{item['id']}/content", headers=api.auth("dana")
    )
    assert r.status_code == 404


def test_findings_are_recorded_with_chart_data(api: Api) -> None:
    iid = declare(api)["id"]
    finding = {
        "title": "Vendor batch 17 carried flipped labels",
        "kind": "root_cause",
        "detail": "9% of fraud labels flipped to legit",
        "recommendation": "Screen vendor batches before training",
        "chart": {
            "kind": "bar",
            "x": ["b15", "b16", "b17"],
            "series": [{"name": "disagreement", "values": [0.02, 0.03, 0.31]}],
            "threshold": 0.1,
        },
    }
    r = api.client.post(f"/api/v1/incidents/{iid}/findings", json=finding, headers=api.auth("dana"))
    assert r.status_code == 201
    assert r.json()["author"] == "dana"
    api.client.post(
        f"/api/v1/incidents/{iid}/findings",
        json={"title": "Recall dropped 18 points", "kind": "observation"},
        headers=api.auth("dana"),
    )
    listed = api.client.get(f"/api/v1/incidents/{iid}/findings", headers=api.auth("vic")).json()
    assert [f["kind"] for f in listed] == ["root_cause", "observation"]
    assert listed[0]["chart"]["threshold"] == 0.1
    bad = {**finding, "chart": {**finding["chart"], "x": ["b15"]}}  # type: ignore[dict-item]
    r = api.client.post(f"/api/v1/incidents/{iid}/findings", json=bad, headers=api.auth("dana"))
    assert r.status_code == 422
    assert "3 values for 1 x positions" in r.json()["message"]


def test_listing_filters_open_incidents(api: Api) -> None:
    first = declare(api)["id"]
    declare(api, failure_mode="prompt_injection", system="support-bot")
    api.client.post(
        f"/api/v1/incidents/{first}/transitions",
        json={"to": "false_positive", "reason": "not an incident"},
        headers=api.auth("dana"),
    )
    open_ = api.client.get("/api/v1/incidents?open=true", headers=api.auth("vic")).json()
    assert [i["system"] for i in open_] == ["support-bot"]
    everything = api.client.get("/api/v1/incidents", headers=api.auth("vic")).json()
    assert len(everything) == 2
