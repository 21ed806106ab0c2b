"""/healthz, /readyz and /metrics as a load balancer and Prometheus see them."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.incidents.service import (
    IncidentUpdate,
    declare_incident,
    transition_incident,
    update_incident,
)
from airsoc.server.app import METRIC_HOOKS, create_app
from airsoc.settings import Settings
from airsoc.store import Store
from tests.server.conftest import Api


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json()["status"] == "ok"
    assert api.client.get("/readyz").json() == {
        "status": "ready",
        "store": "sqlite",
        "detail": None,
    }


def test_readiness_fails_when_the_store_is_gone(tmp_path: object) -> None:
    settings = Settings(
        data_dir=__import__("pathlib").Path(str(tmp_path)),
        database_url=("postgresql+psycopg://nobody@127.0.0.1:1/none"),
    )
    store = Store(settings)  # not migrated: the server must still start and say why it is not ready
    app = create_app(settings, store=store)
    with TestClient(app) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    store.close()


def test_metrics_show_open_incidents_and_mean_times(api: Api) -> None:
    with api.store.transaction() as s:
        first = declare_incident(
            s,
            clock=api.clock,
            actor="system:monitor",
            system="fraud",
            failure_mode="data_drift",
            summary="psi up",
            severity="sev3",
        )
        declare_incident(
            s,
            clock=api.clock,
            actor="dana",
            system="bot",
            failure_mode="prompt_injection",
            summary="jailbreak",
            severity="sev1",
        )
        update_incident(
            s,
            clock=api.clock,
            incident_id=first.id,
            actor="dana",
            changes=IncidentUpdate(started_at=api.clock.now() - timedelta(minutes=30)),
        )
    api.clock.advance(timedelta(minutes=10))
    with api.store.transaction() as s:
        transition_incident(
            s, clock=api.clock, incident_id=first.id, to="contained", actor="dana", reason="x"
        )
    api.clock.advance(timedelta(minutes=20))
    with api.store.transaction() as s:
        transition_incident(
            s, clock=api.clock, incident_id=first.id, to="recovered", actor="dana", reason="y"
        )
    api.client.get("/api/v1/incidents", headers=api.auth("vic"))
    r = api.client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    got = samples(r.text)
    assert got[("airsoc_incidents_open", (("severity", "sev1"),))] == 1
    assert got[("airsoc_incidents_open", (("severity", "sev3"),))] == 1
    assert got[("airsoc_incidents_open", (("severity", "sev2"),))] == 0
    assert got[("airsoc_mttd_seconds", (("failure_mode", "data_drift"),))] == 1800
    assert got[("airsoc_mttc_seconds", (("failure_mode", "data_drift"),))] == 600
    assert got[("airsoc_mttr_seconds", (("failure_mode", "data_drift"),))] == 1800
    assert got[("airsoc_metrics_hook_up", (("hook", "incident_metrics"),))] == 1
    key = (
        "airsoc_http_requests_total",
        (("method", "GET"), ("route", "/api/v1/incidents"), ("status", "200")),
    )
    assert got[key] == 1


def test_a_domain_adds_metrics_with_a_hook_and_a_broken_hook_shows(api: Api) -> None:
    def gateway_requests(session: Session, clock: Clock) -> list[Metric]:
        family = GaugeMetricFamily("airsoc_gateway_requests", "requests", labels=["system"])
        family.add_metric(["fraud"], 42)
        return [family]

    def broken(session: Session, clock: Clock) -> list[Metric]:
        raise RuntimeError("notification log unreadable")

    app = create_app(
        api.store.settings,
        clock=api.clock,
        store=api.store,
        metric_hooks=(*METRIC_HOOKS, gateway_requests, broken),
    )
    with TestClient(app) as client:
        got = samples(client.get("/metrics").text)
    assert got[("airsoc_gateway_requests", (("system", "fraud"),))] == 42
    assert (
        got[
            (
                "airsoc_metrics_hook_up",
                (
                    (
                        "hook",
                        "test_a_domain_adds_metrics_with_a_hook_and_a_broken_hook_shows.<locals>.broken",
                    ),
                ),
            )
        ]
        == 0
    )
