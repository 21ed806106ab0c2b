"""Gateway routing and controls over the API."""

from __future__ import annotations

from tests.server.conftest import Api, seed_operations


def test_routing_status_and_containment_controls(api: Api) -> None:
    seed_operations(api.store, api.clock)
    base = "/api/v1/gateway/routes/fraud-detector"
    route = api.client.get(base, headers=api.auth("vic")).json()
    assert (route["mode"], route["primary_version"]) == ("primary", "v7")
    r = api.client.post(f"{base}/rollback", json={"reason": "drift"}, headers=api.auth("dana"))
    assert (r.json()["mode"], r.json()["primary_version"], r.json()["updated_by"]) == (
        "primary",
        "v6",
        "dana",
    )
    r = api.client.post(
        f"{base}/fallback",
        json={"reason": "still odd", "type": "scripted", "message": "Try again later."},
        headers=api.auth("dana"),
    )
    assert (r.json()["mode"], r.json()["fallback"]["message"]) == ("fallback", "Try again later.")
    r = api.client.post(
        f"{base}/canary",
        json={"reason": "x", "version": "v7", "share": 0.1},
        headers=api.auth("sam"),
    )
    assert r.status_code == 409  # restore first
    r = api.client.post(f"{base}/restore", json={"reason": "fixed"}, headers=api.auth("dana"))
    assert r.json()["mode"] == "primary"
    r = api.client.post(f"{base}/isolate", json={"reason": "leak"}, headers=api.auth("dana"))
    assert r.json()["mode"] == "isolated"
    api.client.post(f"{base}/restore", json={"reason": "ok"}, headers=api.auth("dana"))
    refused = api.client.post(
        f"{base}/canary",
        json={"reason": "try", "version": "v7", "share": 0.1},
        headers=api.auth("dana"),
    )
    assert refused.status_code == 403
    r = api.client.post(
        f"{base}/canary",
        json={"reason": "try", "version": "v7", "share": 0.1},
        headers=api.auth("sam"),
    )
    assert (r.json()["mode"], r.json()["candidate_version"]) == ("canary", "v7")
    r = api.client.post(f"{base}/restore", json={"reason": "done"}, headers=api.auth("dana"))
    r = api.client.post(
        f"{base}/shadow", json={"reason": "compare", "version": "v7"}, headers=api.auth("sam")
    )
    assert (r.json()["mode"], r.json()["candidate_share"]) == ("shadow", 1.0)
    routes = api.client.get("/api/v1/gateway/routes", headers=api.auth("vic")).json()
    assert [x["system"] for x in routes] == ["fraud-detector"]
    missing = api.client.post(
        "/api/v1/gateway/routes/nope/isolate", json={"reason": "x"}, headers=api.auth("dana")
    )
    assert missing.status_code == 404
