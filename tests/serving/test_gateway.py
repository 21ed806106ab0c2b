"""The gateway core: routing changes from elsewhere arrive quickly and never half-applied."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from airsoc.serving import control
from airsoc.store import Store
from airsoc.telemetry import read_events

from .conftest import ROW, CountingFactory, Registry, make_gateway, run_requests


def test_a_change_made_through_another_connection_is_seen_within_the_poll_interval(
    registry: Registry, tmp_path: Path
) -> None:
    gateway = make_gateway(
        registry, tmp_path, adapter_factory=CountingFactory(), poll_interval=0.005
    )
    gateway.promote("fraud", "v2", actor="ci", reason="release")
    gateway.start()
    other = Store.open(registry.store.settings)  # as the CLI in another process would
    try:
        with other.transaction() as s:
            route = control.rollback(
                s, clock=registry.clock, actor="oncall", system="fraud", reason="poisoned"
            )
        committed = time.perf_counter()
        while gateway.snapshot.revision < route.revision:
            assert time.perf_counter() - committed < 2.0
            time.sleep(0.001)
        seen_after = time.perf_counter() - committed
    finally:
        other.close()
        gateway.close()
    assert gateway.snapshot.routes["fraud"].primary is not None
    assert gateway.snapshot.routes["fraud"].primary.version == "v1"
    assert seen_after < 0.5


def test_no_request_sees_a_half_switched_routing(registry: Registry, tmp_path: Path) -> None:
    gateway = make_gateway(registry, tmp_path, adapter_factory=CountingFactory())
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    expected: dict[int, str] = {}
    done = threading.Event()

    def flip() -> None:
        for i in range(40):
            version = "v2" if i % 2 == 0 else "v1"
            route = gateway.promote("fraud", version, actor="ci", reason=f"flip {i}")
            expected[route.revision] = version
        done.set()

    async def hammer(client: httpx.AsyncClient) -> list[tuple[int, str, str]]:
        seen = []
        while not done.is_set():
            r = await client.post("/v1/systems/fraud/predict", json={"rows": [ROW]})
            body = r.json()
            # The answering adapter (predictions) and the reported version come from one route.
            seen.append(
                (int(r.headers["x-airsoc-revision"]), body["version"], body["predictions"][0])
            )
        return seen

    flipper = threading.Thread(target=flip)
    flipper.start()
    seen = run_requests(gateway, hammer)
    flipper.join()
    gateway.close()
    assert len({rev for rev, _, _ in seen}) > 3
    for revision, version, answered_by in seen:
        assert answered_by == version
        if revision in expected:
            assert expected[revision] == version


def test_a_version_that_cannot_load_fails_its_requests_only(
    registry: Registry, tmp_path: Path
) -> None:
    registry.v2.write_bytes(b"not the registered artifact")
    gateway = make_gateway(registry, tmp_path)
    gateway.promote("fraud", "v2", actor="ci", reason="release")

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.post("/v1/systems/fraud/predict", json={"rows": [ROW]})]

    (broken,) = run_requests(gateway, calls)
    assert broken.status_code == 502
    assert "supply_chain" in broken.json()["message"]
    gateway.change(control.rollback, system="fraud", actor="oncall", reason="artifact tampered")
    (fixed,) = run_requests(gateway, calls)
    gateway.close()
    assert (fixed.status_code, fixed.json()["version"]) == (200, "v1")
    logged = read_events(tmp_path / "telemetry", "prediction").to_pylist()
    assert [(e["version"], e["status"]) for e in logged] == [("v2", "error"), ("v1", "ok")]
