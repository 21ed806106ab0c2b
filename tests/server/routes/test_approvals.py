"""Playbook runs and approvals over the API: step states, who decides, four-eyes."""

from __future__ import annotations

from airsoc.response import PlaybookRunner, RecordingControlPlane, ResponseServices
from airsoc.runtime.registries import build_action_registry
from tests.server.conftest import Api, seed_operations


def test_a_run_shows_its_waiting_step_and_the_approval_it_needs(api: Api) -> None:
    story = seed_operations(api.store, api.clock)
    runs = api.client.get(
        f"/api/v1/playbook-runs?incident_id={story.incident_id}", headers=api.auth("vic")
    ).json()
    assert [(r["id"], r["status"], r["started_by"]) for r in runs] == [
        (story.run_id, "waiting_approval", "dana")
    ]
    pending = api.client.get("/api/v1/approvals", headers=api.auth("vic")).json()
    assert [(a["id"], a["step_id"], a["action"], a["destructive"]) for a in pending] == [
        (story.approval_id, "contain", "rollback", True)
    ]
    assert api.client.get("/api/v1/playbook-runs/99", headers=api.auth("vic")).status_code == 404


def test_the_requester_cannot_approve_a_destructive_step(api: Api) -> None:
    story = seed_operations(api.store, api.clock, requester="sam", commander="sam")
    r = api.client.post(
        f"/api/v1/approvals/{story.approval_id}/approve",
        json={"reason": "looks right"},
        headers=api.auth("sam"),
    )
    assert r.status_code == 403
    assert "sam requested the rollback of run 1 and cannot also approve it" in r.json()["message"]


def test_a_responder_may_not_decide_and_an_approver_records_who_when_why(
    api_any_store: Api,
) -> None:
    api = api_any_store
    story = seed_operations(api.store, api.clock)
    r = api.client.post(
        f"/api/v1/approvals/{story.approval_id}/approve",
        json={"reason": "mine"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 403
    assert "needs the approver role" in r.json()["message"]
    r = api.client.post(
        f"/api/v1/approvals/{story.approval_id}/approve",
        json={"reason": "PSI 0.31 on amount; v6 is known-good"},
        headers=api.auth("sam"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["decided_by"], body["reason"]) == (
        "approved",
        "sam",
        "PSI 0.31 on amount; v6 is known-good",
    )
    assert body["decided_at"] == api.clock.now().isoformat().replace("+00:00", "Z")
    again = api.client.post(
        f"/api/v1/approvals/{story.approval_id}/reject",
        json={"reason": "changed my mind"},
        headers=api.auth("sam"),
    )
    assert again.status_code == 409
    timeline = api.client.get(
        f"/api/v1/incidents/{story.incident_id}/timeline", headers=api.auth("vic")
    ).json()
    granted = [e for e in timeline if e["action"] == "playbook.approval_granted"]
    assert [(e["actor"], e["reason"]) for e in granted] == [
        ("sam", "PSI 0.31 on amount; v6 is known-good")
    ]
    cp = RecordingControlPlane(versions={"fraud-detector": ["v6", "v7"]})
    PlaybookRunner(
        store=api.store,
        clock=api.clock,
        worker_id="w",
        registry=build_action_registry(plugins=False),
        services=ResponseServices(store=api.store, settings=api.store.settings, control_plane=cp),
    ).run_until_idle()
    run = api.client.get(f"/api/v1/playbook-runs/{story.run_id}", headers=api.auth("vic")).json()
    assert run["status"] == "succeeded"
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("contain", "succeeded")]


def test_a_rejection_stops_the_run(api: Api) -> None:
    story = seed_operations(api.store, api.clock)
    r = api.client.post(
        f"/api/v1/approvals/{story.approval_id}/reject",
        json={"reason": "drift is a holiday effect"},
        headers=api.auth("sam"),
    )
    assert r.json()["status"] == "rejected"
    decided = api.client.get("/api/v1/approvals?status=rejected", headers=api.auth("vic")).json()
    assert [a["decided_by"] for a in decided] == ["sam"]
    assert api.client.get("/api/v1/approvals", headers=api.auth("vic")).json() == []
