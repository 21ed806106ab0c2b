"""/metrics: signals, notification failures and gateway traffic read at scrape time."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from airsoc.alerting.notification import Delivery
from airsoc.alerting.service import record_delivery
from airsoc.telemetry.log import EventLog
from airsoc.telemetry.schemas import PredictionEvent
from tests.server.conftest import Api, seed_operations


def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = api.client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_signals_by_monitor_and_decision_and_the_latest_statistic(api: Api) -> None:
    seed_operations(api.store, api.clock)
    got = samples(api)
    labels = (("decision", "ok"), ("monitor", "fraud-input-drift"), ("system", "fraud-detector"))
    assert got["airsoc_signals", labels] == 4
    drift = (("decision", "drift"), ("monitor", "fraud-input-drift"), ("system", "fraud-detector"))
    assert got["airsoc_signals", drift] == 1
    monitor = (("monitor", "fraud-input-drift"), ("system", "fraud-detector"))
    assert got["airsoc_monitor_statistic", monitor] == 0.31
    assert got["airsoc_monitor_threshold", monitor] == 0.2


def test_notification_failures_come_from_recorded_deliveries(api: Api) -> None:
    with api.store.transaction() as s:
        for status in ("delivered", "failed", "failed"):
            record_delivery(
                s,
                delivery=Delivery(
                    receiver="ml-oncall",
                    integration="slack",
                    group_key="g",
                    status=status,
                    attempts=3,
                    at=api.clock.now(),
                    error=None if status == "delivered" else "503 from Slack",
                ),
            )
    got = samples(api)
    key = (("integration", "slack"), ("receiver", "ml-oncall"))
    assert got["airsoc_notification_failures", key] == 2
    assert got["airsoc_notification_deliveries", (*key, ("status", "delivered"))] == 1
    assert got["airsoc_metrics_hook_up", (("hook", "notification_metrics"),)] == 1


def test_gateway_request_rates_and_latencies_from_the_event_log(api: Api) -> None:
    log = EventLog(api.store.settings.telemetry_dir)
    now = api.clock.now()
    for i, ms in enumerate([10.0, 20.0, 30.0, 400.0]):
        for row in range(2):  # two rows of one request count once
            log.append(
                PredictionEvent(
                    request_id=f"r{i}",
                    ts=now - timedelta(seconds=30),
                    system="fraud-detector",
                    row_index=row,
                    latency_ms=ms,
                    status="ok" if i < 3 else "error",
                )
            )
    log.append(
        PredictionEvent(request_id="old", ts=now - timedelta(hours=1), system="fraud-detector")
    )
    log.close()
    got = samples(api)
    ok = (("status", "ok"), ("system", "fraud-detector"))
    assert got["airsoc_gateway_request_rate", ok] == 3 / 300
    assert (
        got["airsoc_gateway_request_rate", (("status", "error"), ("system", "fraud-detector"))]
        == 1 / 300
    )
    p99 = (("quantile", "0.99"), ("system", "fraud-detector"))
    assert got["airsoc_gateway_latency_seconds", p99] == 0.4
    p50 = (("quantile", "0.5"), ("system", "fraud-detector"))
    assert got["airsoc_gateway_latency_seconds", p50] in (0.02, 0.03)
