"""Response actions' control plane over a real gateway and the registry."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from airsoc import lineage
from airsoc.audit.service import list_entries
from airsoc.clock import SimulatedClock
from airsoc.demo.controlplane import GatewayControlPlane
from airsoc.response import ControlPlane
from airsoc.serving import Gateway, get_route, promote
from airsoc.store import Store


def _fleet(store: Store, clock: SimulatedClock, folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1))
    with store.transaction() as s:
        lineage.register_system(s, clock=clock, actor="t", name="fraud", kind="tabular-classifier",
                                owner="risk")  # fmt: skip
        lineage.register_batch(s, clock=clock, actor="t", batch_id="acme/1", source="acme",
                               rows=200, sha256="0" * 64)  # fmt: skip
        for version in ("v1", "v2"):
            path = folder / f"{version}.joblib"
            joblib.dump(LogisticRegression().fit(x, x[:, 0] > 0), path)
            lineage.register_model_version(
                s, clock=clock, actor="t", system="fraud", version=version,
                artifact_uri=str(path), sha256=lineage.sha256_file(path),
                input_schema={"x": "number"}, training_batches=["acme/1"],
            )  # fmt: skip
        lineage.mark_known_good(s, clock=clock, actor="t", system="fraud", version="v1",
                                reason="reviewed")  # fmt: skip
        promote(s, clock=clock, actor="t", system="fraud", version="v2", reason="release")


def test_rollback_reaches_the_gateway_once_per_idempotency_key(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    _fleet(sqlite_store, clock, tmp_path)
    gateway = Gateway(store=sqlite_store, clock=clock)
    cp = GatewayControlPlane(gateway)
    assert isinstance(cp, ControlPlane)
    first = cp.rollback(system="fraud", to="last_known_good", idempotency_key="run-1/contain")
    again = cp.rollback(system="fraud", to="last_known_good", idempotency_key="run-1/contain")
    assert first == again == {"system": "fraud", "from": "v2", "to": "v1"}
    primary = gateway.snapshot.routes["fraud"].primary
    assert primary is not None
    assert primary.version == "v1"
    with sqlite_store.read() as s:
        actions = [e.action for e in list_entries(s, chain="system/fraud")]
    assert actions.count("routing.rollback") == 1


def test_isolation_and_quarantine_change_routing_and_lineage(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    _fleet(sqlite_store, clock, tmp_path)
    cp = GatewayControlPlane(Gateway(store=sqlite_store, clock=clock))
    isolated = cp.isolate(system="fraud", idempotency_key="k1")
    assert (isolated["previous_mode"], isolated["mode"]) == ("primary", "isolated")
    cp.quarantine_batch(batch="acme/1", reason="suspected poisoning", idempotency_key="k2")
    with sqlite_store.read() as s:
        assert get_route(s, system="fraud").mode == "isolated"
        assert lineage.get_batch(s, batch_id="acme/1").status == "quarantined"
