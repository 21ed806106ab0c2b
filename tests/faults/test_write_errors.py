"""100 telemetry write errors in a running ``airsoc up``: nothing acknowledged is lost, the
platform says so (``/readyz`` 503, a ``platform_fault`` alert at a webhook) and recovers without a
restart. With the ``refuse`` policy and a full queue the gateway answers 503 with Retry-After."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from airsoc.testing.faults import (
    PREDICT_ROW,
    EventAccount,
    FaultPlan,
    LoadClients,
    UpProcess,
    account,
    config_text,
    platform_fault_alerts,
    prepare_system,
    wait_until,
    written_request_ids,
)
from airsoc.testing.receivers import http_sink

WRITER = "event-log writer"

pytestmark = pytest.mark.slow


def _injected(progress: Path) -> int:
    return int(progress.read_text(encoding="utf-8")) if progress.exists() else 0


def test_100_write_errors_lose_nothing_alert_and_recover(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare_system(data)
    trigger, progress = tmp_path / "fail-now", tmp_path / "injected"
    plan = FaultPlan(write_errors=100, write_errors_after=str(trigger), progress=str(progress))
    with http_sink() as sink:
        config = tmp_path / "airsoc.yaml"
        config.write_text(
            config_text(sink.url + "/hook", telemetry="{retry_max: 100ms}"), encoding="utf-8"
        )
        with UpProcess(config=config, data_dir=data, plan=plan, tick=0.2) as up:
            clients = LoadClients(up.gateway_url, threads=4, prefix="w").start()
            wait_until(lambda: clients.count() >= 20, "predictions before the fault")
            trigger.touch()
            wait_until(lambda: up.readyz() == 503, "/readyz to fail while writes fail")
            status, body = up.readiness()
            down = [p for p in body.get("parts", []) if not p["ok"]]
            assert status != 503 or [p["part"] for p in down] == [WRITER], body
            wait_until(lambda: bool(platform_fault_alerts(sink, part=WRITER)), "a self-alert")
            wait_until(lambda: _injected(progress) == 100, "100 injected write errors")
            wait_until(lambda: up.readyz() == 200, "/readyz to recover without a restart")
            acknowledged_during = clients.count()
            wait_until(lambda: clients.count() > acknowledged_during + 20, "serving after")
            clients.stop()
            telemetry = data / "telemetry"
            wait_until(
                lambda: account(clients.acknowledged, written_request_ids(telemetry)).lost == 0,
                "every acknowledged prediction on disk, while the platform runs",
            )
            wait_until(
                lambda: any(
                    a["status"] == "resolved" for a in platform_fault_alerts(sink, part=WRITER)
                ),
                "the self-alert to resolve",
            )
            assert up.alive()
            assert up.stop() == 0, up.text()
    final = account(clients.acknowledged, written_request_ids(telemetry))
    assert final.acknowledged >= 40
    assert (final.lost, final.duplicated) == (0, 0), final
    assert set(clients.statuses) == {200}
    fired = platform_fault_alerts(sink, part=WRITER)
    assert fired[0]["status"] == "firing"
    assert "injected write error" in fired[0]["annotations"]["description"]


def test_refuse_policy_answers_503_with_retry_after_while_the_disk_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare_system(data)
    trigger = tmp_path / "fail-now"
    plan = FaultPlan(write_errors=10**6, write_errors_after=str(trigger))
    with http_sink() as sink:
        config = tmp_path / "airsoc.yaml"
        config.write_text(
            config_text(sink.url + "/hook", telemetry="{on_full: refuse, queue_size: 5}"),
            encoding="utf-8",
        )
        with UpProcess(config=config, data_dir=data, plan=plan, tick=0.2) as up:
            trigger.touch()
            predict = f"{up.gateway_url}/v1/systems/fraud/predict"
            answers = []

            def refused() -> bool:
                response = httpx.post(predict, json={"rows": [PREDICT_ROW]}, timeout=60)
                answers.append(response)
                return response.status_code == 503

            wait_until(refused, "the gateway to refuse once its queue is full")
            last = answers[-1]
            assert last.json()["code"] == "telemetry_unavailable"
            assert int(last.headers["Retry-After"]) >= 1
            accepted = [a.headers["x-request-id"] for a in answers if a.status_code == 200]
            assert len(accepted) == 5
            assert up.readyz() == 503
            wait_until(lambda: bool(platform_fault_alerts(sink, part=WRITER)), "a self-alert")
            trigger.unlink()
            wait_until(lambda: up.readyz() == 200, "/readyz to recover once the disk writes")
            wait_until(lambda: not refused(), "the gateway to accept again")
            accepted.append(answers[-1].headers["x-request-id"])
            assert up.stop() == 0, up.text()
    written = written_request_ids(data / "telemetry")
    assert account(accepted, written) == EventAccount(6, 6, 0, 0)
