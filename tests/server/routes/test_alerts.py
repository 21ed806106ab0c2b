"""Alerts, silences and the Alertmanager webhook over the API."""

from __future__ import annotations

from datetime import timedelta

from airsoc.alerting import AlertingEngine, RecordingReceiver
from airsoc.runtime.config import parse_config
from airsoc.server.app import create_app
from tests.server.conftest import Api, seed_operations

AM_BODY = {
    "version": "4",
    "status": "firing",
    "receiver": "airsoc",
    "groupLabels": {"alertname": "GatewayLatencyHigh"},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "GatewayLatencyHigh",
                "system": "support-bot",
                "severity": "sev3",
            },
            "annotations": {"summary": "p99 latency 2.3s over 1s"},
            "startsAt": "2026-03-01T08:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
        }
    ],
}


def test_alerts_filter_by_status_system_and_label_matchers(api: Api) -> None:
    seed_operations(api.store, api.clock)
    api.client.post("/api/v1/alertmanager", json=AM_BODY, headers=api.auth("dana"))
    every = api.client.get("/api/v1/alerts", headers=api.auth("vic")).json()
    assert {a["labels"]["alertname"] for a in every} == {"fraud-input-drift", "GatewayLatencyHigh"}
    fraud = api.client.get(
        "/api/v1/alerts?system=fraud-detector&status=firing", headers=api.auth("vic")
    ).json()
    assert [a["labels"]["monitor"] for a in fraud] == ["fraud-input-drift"]
    matched = api.client.get(
        "/api/v1/alerts", params={"label": 'severity=~"sev2|sev1"'}, headers=api.auth("vic")
    ).json()
    assert [a["labels"]["system"] for a in matched] == ["fraud-detector"]
    bad = api.client.get("/api/v1/alerts", params={"label": "nonsense"}, headers=api.auth("vic"))
    assert bad.status_code == 422


def test_silences_are_added_listed_and_expired_with_author_and_reason(api: Api) -> None:
    r = api.client.post(
        "/api/v1/silences",
        json={"matchers": ["system=fraud-detector"], "comment": "backfill", "duration_minutes": 90},
        headers=api.auth("dana"),
    )
    assert r.status_code == 201, r.text
    silence = r.json()
    assert (silence["created_by"], silence["state"], silence["comment"]) == (
        "dana",
        "active",
        "backfill",
    )
    listed = api.client.get("/api/v1/silences", headers=api.auth("vic")).json()
    assert [s["id"] for s in listed] == [silence["id"]]
    r = api.client.post(
        f"/api/v1/silences/{silence['id'][:8]}/expire",
        json={"reason": "backfill done"},
        headers=api.auth("dana"),
    )
    assert (r.status_code, r.json()["expired_by"]) == (200, "dana")
    assert api.client.get("/api/v1/silences", headers=api.auth("vic")).json() == []
    expired = api.client.get("/api/v1/silences?include_expired=true", headers=api.auth("vic"))
    assert [s["state"] for s in expired.json()] == ["expired"]
    again = api.client.post(
        f"/api/v1/silences/{silence['id']}/expire", json={}, headers=api.auth("dana")
    )
    assert again.status_code == 409
    refused = api.client.post(
        "/api/v1/silences",
        json={"matchers": ["system=x"], "comment": "c", "duration_minutes": 5},
        headers=api.auth("vic"),
    )
    assert refused.status_code == 403


def test_the_alertmanager_webhook_stores_a_signal_and_an_alert(api: Api) -> None:
    assert api.client.post("/api/v1/alertmanager", json=AM_BODY).status_code == 401
    r = api.client.post("/api/v1/alertmanager", json=AM_BODY, headers=api.auth("dana"))
    assert r.status_code == 202, r.text
    assert (r.json()["accepted"], r.json()["routed"]) == (1, False)
    signals = api.client.get("/api/v1/signals?system=support-bot", headers=api.auth("vic")).json()
    assert [(s["monitor"], s["decision"], s["source"]) for s in signals] == [
        ("GatewayLatencyHigh", "drift", "alertmanager")
    ]
    bad = api.client.post(
        "/api/v1/alertmanager", json={"alerts": [{"labels": {}}]}, headers=api.auth("dana")
    )
    assert bad.status_code == 422


def test_with_an_alerting_engine_the_webhook_routes_to_receivers(api: Api) -> None:
    config = parse_config("routes: {receiver: ops, group_wait: 0s}\nreceivers: {ops: {}}")
    ops = RecordingReceiver("ops")
    engine = AlertingEngine(
        config=config, store=api.store, clock=api.clock, receivers={"ops": [ops]}
    )
    app = create_app(api.store.settings, clock=api.clock, store=api.store, alerting=engine)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        r = client.post("/api/v1/alertmanager", json=AM_BODY, headers=api.auth("dana"))
    assert r.json()["routed"] is True
    api.clock.advance(timedelta(seconds=1))
    engine.tick()
    assert ops.notifications[0].common_labels["alertname"] == "GatewayLatencyHigh"
