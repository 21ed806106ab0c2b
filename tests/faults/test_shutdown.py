"""SIGTERM and SIGINT to ``airsoc up`` under load from 20 client threads: every acknowledged
prediction is on disk after the process exits (the event log is drained), and none twice."""

from __future__ import annotations

import signal
from pathlib import Path

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

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_under_load_loses_and_duplicates_nothing(
    tmp_path: Path, signum: signal.Signals
) -> None:
    data = tmp_path / "data"
    prepare_system(data)
    with http_sink() as sink:
        config = tmp_path / "airsoc.yaml"
        config.write_text(config_text(sink.url + "/hook"), encoding="utf-8")
        with UpProcess(config=config, data_dir=data) as up:
            clients = LoadClients(up.gateway_url, threads=20, prefix="s").start()
            wait_until(lambda: clients.count() >= 300, "load on the gateway")
            up.signal(signum)
            assert up.wait() == 0, up.text()
            clients.wait_gone()
    assert f"stopped ({signum.name})" in up.text()
    result = account(clients.acknowledged, written_request_ids(data / "telemetry"))
    assert result.acknowledged >= 300
    assert (result.lost, result.duplicated) == (0, 0), result
    # Requests after the drain began were refused or unanswered, never acknowledged and lost.
    assert set(clients.statuses) <= {200, 409, 503}, clients.statuses
