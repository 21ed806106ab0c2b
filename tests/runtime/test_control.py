"""The live control plane against the real gateway controls, registry and retrieval controls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from airsoc import lineage
from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.incidents.service import declare_incident
from airsoc.response.actions import ActionResult
from airsoc.response.controlplane import CONTROL_METHODS, ControlPlane
from airsoc.response.models import ActionEffectRow
from airsoc.runtime.control import LiveControlPlane, live_control_plane
from airsoc.serving import Gateway, control, create_app, get_retrieval
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import CliResult
from tests.response.wiring import SYSTEM, build_registry


@pytest.fixture
def plane(sqlite_store: Store, clock: SimulatedClock, tmp_path: Path) -> LiveControlPlane:
    build_registry(sqlite_store, clock, tmp_path)
    return live_control_plane(store=sqlite_store, clock=clock)


def _routing(store: Store, action: str) -> list[str]:
    with store.read() as s:
        return [e.actor for e in lineage.system_timeline(s, name=SYSTEM) if e.action == action]


def test_it_is_a_control_plane_with_every_method(plane: LiveControlPlane) -> None:
    assert isinstance(plane, ControlPlane)
    assert all(callable(getattr(plane, m)) for m in CONTROL_METHODS)


def test_rollback_applies_once_per_key_on_every_store(
    store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    build_registry(store, clock, tmp_path)
    cp = live_control_plane(store=store, clock=clock)
    first = cp.rollback(system=SYSTEM, to="last_known_good", idempotency_key="run-3/contain")
    again = cp.rollback(system=SYSTEM, to="last_known_good", idempotency_key="run-3/contain")
    assert first == again == {"system": SYSTEM, "from": "v2", "to": "v1"}
    with store.read() as s:
        assert control.get_route(s, system=SYSTEM).primary_version == "v1"
        effect = s.get(ActionEffectRow, "run-3/contain")
        assert effect is not None
        # A resumed playbook reads the recorded effect as the step's result.
        assert ActionResult.model_validate(effect.result).output == first
    # The gateway service wrote the one audit entry; the control plane added none.
    assert _routing(store, "routing.rollback") == ["playbook:3"]
    undo = cp.rollback(system=SYSTEM, to="v2", idempotency_key="run-3/contain/undo")
    assert undo == {"system": SYSTEM, "from": "v1", "to": "v2"}


def test_containment_modes_and_canary(plane: LiveControlPlane) -> None:
    fallback = plane.fallback(system=SYSTEM, mode="scripted", idempotency_key="k1")
    assert fallback == {
        "system": SYSTEM,
        "previous_mode": "primary",
        "mode": "fallback",
        "type": "scripted",
    }
    assert plane.isolate(system=SYSTEM, idempotency_key="k2")["mode"] == "isolated"
    assert plane.restore(system=SYSTEM, idempotency_key="k3") == {
        "system": SYSTEM,
        "previous_mode": "isolated",
        "mode": "primary",
    }
    canary = plane.set_canary(system=SYSTEM, version="v1", percent=10, idempotency_key="k4")
    assert canary["previous"] is None
    with plane.store.read() as s:
        route = control.get_route(s, system=SYSTEM)
    assert (route.mode, route.candidate_version, route.candidate_share) == ("canary", "v1", 0.1)
    with pytest.raises(InputError, match="no rules fallback"):
        plane.fallback(system=SYSTEM, mode="rules", idempotency_key="k5")


def test_client_controls_reach_the_gateway_rules(plane: LiveControlPlane) -> None:
    plane.block_client(system=SYSTEM, client="mallory", seconds=3600, idempotency_key="k1")
    plane.rate_limit_client(system=SYSTEM, client="eve", per_minute=30, idempotency_key="k2")
    with plane.store.read() as s:
        rules = {r.client_id: r for r in control.list_client_rules(s)}
        entries = list_entries(s, chain="client/mallory")
    assert rules["mallory"].blocked
    assert rules["eve"].rate_per_second == pytest.approx(0.5)
    assert "asked for 3600s" in entries[-1].reason


def test_batches_and_sources_change_lineage(plane: LiveControlPlane) -> None:
    first = plane.quarantine_batch(batch="b2", reason="poisoned", idempotency_key="k1")
    second = plane.quarantine_batch(batch="b2", reason="poisoned", idempotency_key="k2")
    assert (first["was_quarantined"], second["was_quarantined"]) == (False, True)
    assert plane.release_batch(batch="b2", reason="clean", idempotency_key="k3") == {"batch": "b2"}
    revoked = plane.revoke_source(source="acme", reason="breach", idempotency_key="k4")
    assert revoked == {"source": "acme", "quarantined": ["b1"]}
    with plane.store.read() as s:
        assert lineage.get_batch(s, batch_id="b1").status == "quarantined"
        assert [e.action for e in list_entries(s, chain="batch/b2")][-2:] == [
            "batch.quarantined",
            "batch.released",
        ]
    with pytest.raises(ConflictError):
        plane.release_batch(batch="b2", reason="again", idempotency_key="k5")


def test_retrieval_actions_reach_a_running_gateway(
    plane: LiveControlPlane, sqlite_store: Store, clock: SimulatedClock
) -> None:
    gateway = Gateway(store=sqlite_store, clock=clock)
    cp = live_control_plane(store=sqlite_store, clock=clock, gateway=gateway)
    assert cp.disable_retrieval(system="bot", idempotency_key="k1") == {
        "system": "bot",
        "was_enabled": True,
    }
    cp.remove_document(system="bot", document="policy-17", idempotency_key="k2")
    view = gateway.snapshot.retrieval["bot"]
    assert (view.enabled, view.removed_documents) == (False, ["policy-17"])
    with sqlite_store.read() as s:
        assert not get_retrieval(s, system="bot").allows("faq-1")
    # A RAG app behind the gateway reads its control from the status endpoint.
    cp.remove_document(system=SYSTEM, document="kb-9", idempotency_key="k3")
    with TestClient(create_app(gateway, manage_gateway=False)) as client:
        systems = client.get("/v1/status").json()["systems"]
    assert systems[SYSTEM]["retrieval"] == {"enabled": True, "removed_documents": ["kb-9"]}
    gateway.close()


def test_errors_name_what_is_wrong(plane: LiveControlPlane) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        plane.isolate(system="nope", idempotency_key="k1")
    with pytest.raises(InputError, match="idempotency key"):
        plane.isolate(system=SYSTEM, idempotency_key="")
    # A failed change records no effect: the same key can be retried.
    with plane.store.read() as s:
        assert s.get(ActionEffectRow, "k1") is None


def test_playbooks_run_acts_on_the_real_gateway(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    clock = SimulatedClock()
    build_registry(store, clock, tmp_path)
    with store.transaction() as s:
        incident = declare_incident(
            s,
            clock=clock,
            actor="alice",
            system=SYSTEM,
            failure_mode="data_poisoning",
            summary="b2 is poisoned",
        )
    store.close()
    (tmp_path / "contain.yaml").write_text(
        "name: contain\non: {failure_mode: data_poisoning}\nsteps:\n"
        "  - {id: rollback, action: rollback, with: {system: fraud}}\n"
        "  - {id: quarantine, action: quarantine_batch, with: {batch: b2}}\n"
    )
    result = cli("playbooks", "run", "contain.yaml", "--incident", str(incident.id))
    assert result.exit_code == 0, result.stderr
    assert "succeeded" in result.stdout
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    with store.read() as s:
        assert control.get_route(s, system=SYSTEM).primary_version == "v1"
        assert lineage.get_batch(s, batch_id="b2").status == "quarantined"
    store.close()
