"""``airsoc up``'s platform watches itself: a failing worker goes on and says so, a failing
telemetry writer fails ``/readyz``, and both raise ``platform_fault`` alerts at a receiver."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airsoc.clock import SystemClock
from airsoc.errors import StoreError
from airsoc.runtime.health import PartStatus
from airsoc.runtime.loop import LoopReport
from airsoc.runtime.platform import Platform, PlatformOptions
from airsoc.server.app import create_app
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import free_port
from airsoc.testing.receivers import HttpSink, http_sink


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def platform_alerts(sink: HttpSink) -> list[dict[str, Any]]:
    return [
        alert
        for request in sink.requests
        for alert in request.json().get("alerts", [])
        if alert["labels"].get("failure_mode") == "platform_fault"
    ]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Platform, HttpSink]]:
    with http_sink() as sink:
        config = tmp_path / "airsoc.yaml"
        config.write_text(
            "routes: {receiver: platform, group_wait: 0s, group_interval: 1s}\n"
            f"receivers: {{platform: {{webhook: {{url: '{sink.url}/hook', backoff: 0s}}}}}}\n",
            encoding="utf-8",
        )
        store = Store.open(Settings.resolve(data_dir=tmp_path / "data"))
        clock = SystemClock()

        def api_app(readiness: Callable[[], list[PartStatus]]) -> Any:
            return create_app(store.settings, clock=clock, store=store, readiness=readiness)

        platform = Platform(
            store=store,
            clock=clock,
            api_app=api_app,
            options=PlatformOptions(
                config_path=config,
                api_port=free_port(),
                gateway_port=free_port(),
                tick_interval=0.05,
                on_error=lambda _: None,
            ),
        )
        platform.start()
        try:
            yield platform, sink
        finally:
            platform.stop()
            store.close()


def test_a_worker_error_is_alerted_and_the_loop_goes_on(
    running: tuple[Platform, HttpSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, sink = running
    real_tick = platform.loop.tick
    failures = [RuntimeError("database is locked")] * 3

    def flaky_tick(**kw: Any) -> LoopReport:
        if failures:
            raise failures.pop()
        return real_tick(**kw)

    monkeypatch.setattr(platform.loop, "tick", flaky_tick)
    wait_for(lambda: platform.health.worker_errors == 3, "three failed rounds")
    wait_for(lambda: not failures and platform.health.ready(), "the worker to go on")
    wait_for(lambda: any(a["status"] == "resolved" for a in platform_alerts(sink)), "resolved")
    fired = platform_alerts(sink)
    assert fired[0]["labels"]["part"] == "worker"
    assert "database is locked" in fired[0]["annotations"]["description"]
    with httpx.Client(base_url=platform.api_url) as client:
        assert client.get("/readyz").status_code == 200


def test_a_failing_telemetry_writer_fails_readyz_and_alerts(
    running: tuple[Platform, HttpSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, sink = running
    log = platform.gateway.event_log
    assert log is not None
    healthy = log.health

    class Failing:
        def to_dict(self) -> dict[str, Any]:
            return {**healthy().to_dict(), "status": "failing", "last_error": "disk full"}

    monkeypatch.setattr(log, "health", Failing)
    with httpx.Client(base_url=platform.api_url) as client:
        wait_for(lambda: client.get("/readyz").status_code == 503, "/readyz to fail")
        body = client.get("/readyz").json()
        assert body["detail"] == "event-log writer is failing"
        assert 'airsoc_platform_part_up{part="event-log writer"} 0.0' in client.get("/metrics").text
        wait_for(lambda: bool(platform_alerts(sink)), "a platform_fault alert")
        assert platform_alerts(sink)[0]["labels"]["part"] == "event-log writer"
        monkeypatch.setattr(log, "health", healthy)
        wait_for(lambda: client.get("/readyz").status_code == 200, "/readyz to recover")


def test_a_store_that_refuses_the_worker_fails_readyz_until_it_accepts_again(
    running: tuple[Platform, HttpSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, sink = running
    real_tick = platform.loop.tick
    locked = [True]

    def locked_tick(**kw: Any) -> LoopReport:
        if locked[0]:
            raise StoreError("database is locked")
        return real_tick(**kw)

    monkeypatch.setattr(platform.loop, "tick", locked_tick)
    with httpx.Client(base_url=platform.api_url) as client:
        wait_for(lambda: client.get("/readyz").status_code == 503, "/readyz to fail")
        assert client.get("/readyz").json()["detail"] == "store is failing"
        locked[0] = False
        wait_for(lambda: client.get("/readyz").status_code == 200, "/readyz to recover")
    wait_for(
        lambda: any(
            a["status"] == "resolved" and a["labels"]["part"] == "store"
            for a in platform_alerts(sink)
        ),
        "the store's alert, fired then resolved",
    )
    store = [a for a in platform_alerts(sink) if a["labels"]["part"] == "store"]
    assert [a["status"] for a in store] == ["firing", "resolved"]


def test_the_telemetry_policy_comes_from_the_config_and_reloads(
    running: tuple[Platform, HttpSink],
) -> None:
    platform, _ = running
    log = platform.gateway.event_log
    assert log is not None
    assert (log.health().on_full, log.health().max_pending) == ("keep_serving", 200_000)
    config = platform.options.config_path
    config.write_text(
        config.read_text(encoding="utf-8") + "telemetry: {on_full: refuse, queue_size: 50}\n",
        encoding="utf-8",
    )
    wait_for(lambda: log.health().on_full == "refuse", "the reloaded policy")
    assert log.health().max_pending == 50
