"""The lineage registry over the API: systems, versions, batches, known-good, quarantine."""

from __future__ import annotations

from airsoc import lineage
from tests.server.conftest import Api, seed_operations


def _batch(api: Api) -> None:
    with api.store.transaction() as s:
        lineage.register_batch(
            s,
            clock=api.clock,
            actor="etl",
            batch_id="acme-17",
            source="acme",
            rows=1000,
            sha256="a" * 64,
        )
        lineage.register_model_version(
            s,
            clock=api.clock,
            actor="ci",
            system="fraud-detector",
            version="v8",
            artifact_uri="s3://models/v8.joblib",
            sha256="8" * 64,
            training_batches=["acme-17"],
        )


def test_systems_versions_and_lineage_queries(api: Api) -> None:
    seed_operations(api.store, api.clock)
    _batch(api)
    systems = api.client.get("/api/v1/systems", headers=api.auth("vic")).json()
    assert [(s["name"], s["owner"]) for s in systems] == [("fraud-detector", "risk-ml")]
    versions = api.client.get(
        "/api/v1/systems/fraud-detector/versions", headers=api.auth("vic")
    ).json()
    assert [(v["version"], v["known_good"]) for v in versions] == [
        ("v6", True),
        ("v7", False),
        ("v8", False),
    ]
    lkg = api.client.get("/api/v1/systems/fraud-detector/last-known-good", headers=api.auth("vic"))
    assert lkg.json()["version"] == "v6"
    trained = api.client.get(
        "/api/v1/systems/fraud-detector/versions/v8/batches", headers=api.auth("vic")
    ).json()
    assert [b["batch_id"] for b in trained] == ["acme-17"]
    reached = api.client.get("/api/v1/batches/acme-17/models", headers=api.auth("vic")).json()
    assert [(m["system"], m["version"]) for m in reached] == [("fraud-detector", "v8")]
    radius = api.client.get("/api/v1/batches/acme-17/blast-radius", headers=api.auth("vic"))
    assert radius.json()["systems"][0]["rollback_to"] == "v6"
    deployments = api.client.get(
        "/api/v1/systems/fraud-detector/deployments", headers=api.auth("vic")
    ).json()
    assert [(d["version"], d["role"]) for d in deployments] == [("v7", "primary")]
    timeline = api.client.get(
        "/api/v1/systems/fraud-detector/timeline", headers=api.auth("vic")
    ).json()
    assert "routing.promote" in [e["action"] for e in timeline]
    assert api.client.get("/api/v1/systems/nope", headers=api.auth("vic")).status_code == 404


def test_mark_known_good_needs_an_approver_and_quarantine_a_responder(api: Api) -> None:
    seed_operations(api.store, api.clock)
    _batch(api)
    url = "/api/v1/systems/fraud-detector/versions/v7/known-good"
    refused = api.client.post(url, json={"reason": "ok"}, headers=api.auth("dana"))
    assert refused.status_code == 403
    marked = api.client.post(url, json={"reason": "passed review"}, headers=api.auth("sam"))
    assert marked.json()["known_good"] is True
    q = api.client.post(
        "/api/v1/batches/acme-17/quarantine",
        json={"reason": "flipped labels"},
        headers=api.auth("dana"),
    )
    assert q.json()["status"] == "quarantined"
    quarantined = api.client.get("/api/v1/batches?status=quarantined", headers=api.auth("vic"))
    assert [b["batch_id"] for b in quarantined.json()] == ["acme-17"]
    released = api.client.post(
        "/api/v1/batches/acme-17/release", json={"reason": "vendor fixed"}, headers=api.auth("dana")
    )
    assert released.json()["status"] == "released"
    again = api.client.post(
        "/api/v1/batches/acme-17/release", json={"reason": "again"}, headers=api.auth("dana")
    )
    assert again.status_code == 409
