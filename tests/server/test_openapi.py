"""The OpenAPI spec is complete, and schemathesis finds no 5xx and no schema violation in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from airsoc.clock import SimulatedClock
from airsoc.server.app import create_app
from airsoc.settings import Settings
from airsoc.store import Store
from tests.server.conftest import Api, seed_users

TOKENS: dict[str, str] = {}

#: Operations where a schema-valid request may still be refused with 422, and the rule why.
#: Only the "schema-valid data is accepted" check is skipped for them; every other check runs.
SEMANTIC_422 = {
    "POST /api/v1/incidents/{incident_id}/merge": "an incident cannot merge into itself",
    "POST /api/v1/incidents/{incident_id}/findings": "a chart needs one value per x position",
    "POST /api/v1/incidents/{incident_id}/roles": "a person cannot get a role they hold",
    "POST /api/v1/silences": "a silence must end after it starts (ends_at in the future)",
}


@pytest.fixture
def app_and_tokens(store_settings: Settings) -> Iterator[Any]:
    """The app on SQLite and on PostgreSQL (a NUL byte that SQLite keeps is a 500 on PostgreSQL
    unless it is refused)."""
    from datetime import UTC, datetime

    clock = SimulatedClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    settings_ = store_settings
    store = Store.open(settings_)
    TOKENS.update(seed_users(store, clock))
    app = create_app(settings_, clock=clock, store=store)
    yield app
    store.close()


@pytest.fixture
def api_schema(app_and_tokens: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app_and_tokens)


def fuzz(operation: Any, excluded: list[Any], *, examples: int = 15) -> Any:
    """Return a hypothesis test that calls ``operation`` and runs schemathesis' checks."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {TOKENS['ada']}"}, excluded_checks=excluded
        )

    return run


def test_no_server_error_and_no_schema_violation(api_schema: Any, store_settings: Settings) -> None:
    # PostgreSQL round trips are slower; fewer examples there keep the suite's time in bounds.
    examples = 15 if store_settings.is_sqlite else 8
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        excluded = [positive_data_acceptance] if operation.label in SEMANTIC_422 else []
        try:
            fuzz(operation, excluded, examples=examples)()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)


def test_every_operation_documents_its_answers(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    operations = [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]
    api_ops = [o for o in operations if o[1].startswith("/api/v1/")]
    assert len(api_ops) >= 25
    for method, path, op in api_ops:
        where = f"{method} {path}"
        assert op.get("description") or op.get("summary"), where
        ok = [s for s in op["responses"] if s.startswith("2")]
        assert len(ok) == 1, where
        content = op["responses"][ok[0]].get("content", {})
        assert content, f"{where} has no documented answer body"
        assert all("schema" in c or ct.startswith("text/plain") for ct, c in content.items()), where
        assert "401" in op["responses"], where
        assert op.get("security") == [{"ApiToken": []}], where
        error = op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
        assert error == "#/components/schemas/ErrorBody", where
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            assert "403" in op["responses"], f"{where} must document the role refusal"
    assert not any(p.startswith(("/login", "/incidents", "/postmortems")) for p in spec["paths"])
