"""A hostile label request is refused with a 4xx; nothing acknowledged is lost and telemetry
keeps flowing (the request that once stopped the event log's writer for good)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from airsoc.testing.faults import (
    LoadClients,
    UpProcess,
    account,
    config_text,
    prepare_system,
    wait_until,
    written_request_ids,
)
from airsoc.testing.receivers import http_sink

HOSTILE_BODIES = [
    b'{"labels": [{"request_id": "x", "label": 1, "row_index": 2147483648}]}',
    b'{"labels": [{"request_id": "\\ud800", "label": 1}]}',
]

pytestmark = pytest.mark.slow


def test_hostile_labels_are_refused_and_telemetry_keeps_flowing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare_system(data)
    with http_sink() as sink:
        config = tmp_path / "airsoc.yaml"
        config.write_text(config_text(sink.url + "/hook"), encoding="utf-8")
        with UpProcess(config=config, data_dir=data) as up:
            before = LoadClients(up.gateway_url, threads=2, prefix="before").start()
            wait_until(lambda: before.count() >= 20, "predictions before the hostile labels")
            before.stop()
            labels = f"{up.gateway_url}/v1/systems/fraud/labels"
            for body in HOSTILE_BODIES:
                response = httpx.post(
                    labels, content=body, headers={"Content-Type": "application/json"}
                )
                assert 400 <= response.status_code < 500, (body, response.text)
                # Named where it was sent: the body's first label (by the byte check or the model).
                loc = response.json()["loc"]
                assert loc.removeprefix("body.").startswith("labels[0]"), response.json()
            # The label route itself still works, and what it acknowledges reaches disk.
            valid = {"labels": [{"request_id": before.acknowledged[0], "label": 1}]}
            assert httpx.post(labels, json=valid).status_code == 202
            after = LoadClients(up.gateway_url, threads=2, prefix="after").start()
            wait_until(lambda: after.count() >= 20, "predictions after the hostile labels")
            after.stop()
            acknowledged = before.acknowledged + after.acknowledged
            telemetry = data / "telemetry"
            # Telemetry keeps flowing while the platform runs: no restart, no shutdown drain.
            wait_until(
                lambda: account(acknowledged, written_request_ids(telemetry)).lost == 0,
                "every acknowledged prediction on disk",
            )
            wait_until(
                lambda: (
                    written_request_ids(telemetry, kind="label")
                    == Counter({before.acknowledged[0]: 1})
                ),
                "the valid label on disk",
            )
            assert up.alive()
            status, readiness = up.readiness()
            assert status == 200, readiness
            assert up.stop() == 0, up.text()
    final = account(acknowledged, written_request_ids(telemetry))
    assert final.acknowledged == len(acknowledged) >= 40
    assert (final.lost, final.duplicated) == (0, 0)
    assert before.statuses.keys() == after.statuses.keys() == {200}
