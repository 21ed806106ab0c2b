"""The gateway's own OpenAPI document is accurate: schemathesis finds no 5xx, no schema violation,
no valid request refused and no invalid one accepted, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.serving.adapters import RulesAdapter
from airsoc.serving.app import create_app
from airsoc.serving.gateway import Gateway
from airsoc.store import Store
from airsoc.telemetry import EventLog

from .conftest import run_requests

FEATURES = {"amount": "number", "hour": "integer", "channel": "string", "member": "boolean"}


@pytest.fixture
def gateway(store: Store, clock: SimulatedClock, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway routing ``fraud`` (four typed features) to a rules model."""
    with store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="ci", name="fraud", kind="tabular-classifier", owner="risk"
        )
        lin.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="fraud",
            version="v1",
            artifact_uri="mem://v1",
            sha256="1" * 64,
            input_schema=FEATURES,
        )
    gw = Gateway(
        store=store,
        clock=clock,
        event_log=EventLog(tmp_path / "telemetry", flush_interval=0.05),
        owns_event_log=True,
        max_rows=5,
        adapter_factory=lambda m: RulesAdapter(lambda row: (1, 0.9), features=m.input_schema),
    )
    gw.promote("fraud", "v1", actor="ci", reason="release")
    yield gw
    gw.close()


def test_the_document_names_each_routed_systems_features(gateway: Gateway) -> None:
    async def calls(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/openapi.json")

    doc = run_requests(gateway, calls).json()
    body = doc["paths"]["/v1/systems/fraud/predict"]["post"]["requestBody"]
    rows = body["content"]["application/json"]["schema"]["properties"]["rows"]
    assert rows["maxItems"] == 5
    assert rows["items"]["required"] == sorted(FEATURES)
    assert rows["items"]["properties"]["hour"] == {"type": "integer"}
    assert rows["items"]["additionalProperties"] is False
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op.get("summary"), f"{method} {path}"
            assert any(s.startswith("2") for s in op["responses"]), f"{method} {path}"


def _fuzz(operation: Any) -> Any:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case: Any) -> None:
        case.call_and_validate()

    return run


def test_schemathesis_finds_nothing_wrong_with_the_gateway(gateway: Gateway) -> None:
    schema: Any = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(gateway, manage_gateway=False)
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert "POST /v1/systems/fraud/predict" in labels
    assert len(operations) >= 6
    failures = []
    for operation in operations:
        try:
            _fuzz(operation)()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)
