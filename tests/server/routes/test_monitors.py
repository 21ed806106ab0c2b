"""Monitors and their signal history over the API."""

from __future__ import annotations

from tests.server.conftest import Api, seed_operations


def test_monitors_show_their_latest_verdict_and_history(api: Api) -> None:
    seed_operations(api.store, api.clock)
    monitors = api.client.get("/api/v1/monitors", headers=api.auth("vic")).json()
    assert [
        (m["monitor"], m["system"], m["signals"], m["breaches"], m["last_decision"])
        for m in monitors
    ] == [("fraud-input-drift", "fraud-detector", 5, 1, "drift")]
    history = api.client.get(
        "/api/v1/monitors/fraud-input-drift/signals", headers=api.auth("vic")
    ).json()
    assert [s["statistic"] for s in history] == [0.04, 0.05, 0.06, 0.19, 0.31]
    assert {s["threshold"] for s in history} == {0.2}
    assert history[0]["at"] < history[-1]["at"]
    last_two = api.client.get(
        "/api/v1/signals?monitor=fraud-input-drift&limit=2", headers=api.auth("vic")
    ).json()
    assert [s["statistic"] for s in last_two] == [0.19, 0.31]
    missing = api.client.get("/api/v1/monitors/nope/signals", headers=api.auth("vic"))
    assert missing.status_code == 404
    assert api.client.get("/api/v1/monitors?system=other", headers=api.auth("vic")).json() == []
