"""Source trust levels: batches of a source on probation train only once screened and
approved; a revoked source's batches never train; changes are audited; revoking needs an
approver."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airsoc import lineage as lin
from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError
from airsoc.store import Store
from tests.server.conftest import Api, make_api

PASSED = {"status": "ran", "decision": "ok", "method": "poisoning_screen"}


def _frame(rng: np.random.Generator, n: int, flip: float = 0.0) -> pd.DataFrame:
    x = rng.normal(size=(n, 4))
    label = (x[:, 0] + 0.5 * x[:, 1] > 0.3).astype(int)
    if flip:
        # One fraud pattern relabelled legitimate: the positives with a large first feature.
        target = (label == 1) & (x[:, 0] > 0.8)
        label = np.where(target & (rng.random(n) < flip), 0, label)
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(label=label)


def _register(
    store: Store, clock: SimulatedClock, tmp: Path, frames: dict[str, tuple[str, pd.DataFrame]]
) -> None:
    with store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="alice", name="fraud", kind="tabular-classifier", owner="risk"
        )
        for batch_id, (source, frame) in frames.items():
            path = tmp / f"{batch_id}.csv"
            frame.to_csv(path, index=False)
            lin.register_batch(
                s,
                clock=clock,
                actor="etl",
                batch_id=batch_id,
                source=source,
                rows=len(frame),
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                uri=str(path),
            )


def _train(store: Store, clock: SimulatedClock, version: str, batches: list[str]) -> None:
    with store.transaction() as s:
        lin.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="fraud",
            version=version,
            artifact_uri=f"s3://models/{version}",
            sha256=hashlib.sha256(version.encode()).hexdigest(),
            training_batches=batches,
        )


@pytest.fixture
def registry(store: Store, clock: SimulatedClock, tmp_path: Path) -> Store:
    rng = np.random.default_rng(7)
    _register(
        store,
        clock,
        tmp_path,
        {
            "acme-1": ("acme", _frame(rng, 600)),
            "acme-2": ("acme", _frame(rng, 600)),
            "globex-1": ("globex", _frame(rng, 600)),
            "globex-2": ("globex", _frame(rng, 600, flip=1.0)),
        },
    )
    return store


def test_a_source_is_trusted_until_someone_changes_it(registry: Store) -> None:
    with registry.read() as s:
        assert [(v.source, v.trust) for v in lin.list_sources(s)] == [
            ("acme", "trusted"),
            ("globex", "trusted"),
        ]
        lin.check_training_batches(s, batch_ids=["acme-1", "globex-2"], subject="fraud v1")


def test_probation_refuses_unapproved_batches_until_screened_and_approved(
    registry: Store, clock: SimulatedClock
) -> None:
    with registry.transaction() as s:
        view = lin.set_source_trust(
            s, clock=clock, actor="dana", source="globex", level="probation", reason="suspect"
        )
    assert (view.trust, view.updated_by) == ("probation", "dana")
    with pytest.raises(
        ConflictError,
        match="fraud v1: training batch globex-1 comes from source globex, which is on probation",
    ):
        _train(registry, clock, "v1", ["acme-1", "globex-1"])
    # A trusted source's batches are not touched by another's probation.
    _train(registry, clock, "v0", ["acme-1", "acme-2"])
    # An approval needs a screen that ran and passed.
    with registry.transaction() as s, pytest.raises(ConflictError, match="did not pass screening"):
        lin.approve_batch(
            s,
            clock=clock,
            actor="sam",
            batch_id="globex-1",
            reason="looks fine",
            screening={"status": "ran", "decision": "drift"},
        )
    with registry.transaction() as s:
        approved = lin.approve_batch(
            s, clock=clock, actor="sam", batch_id="globex-1", reason="screened", screening=PASSED
        )
    assert approved.approved_by == "sam"
    assert approved.screening == PASSED
    _train(registry, clock, "v1", ["acme-1", "globex-1"])
    with registry.read() as s:
        actions = [e.action for e in list_entries(s, chain="batch/globex-1")]
        trust = list_entries(s, chain=lin.source_chain("globex"))[-1]
    assert actions[-1] == "batch.approved"
    assert (trust.action, trust.actor, trust.data) == (
        "source.probation",
        "dana",
        {"from": "trusted", "to": "probation"},
    )


def test_a_revoked_source_never_trains_even_approved(
    registry: Store, clock: SimulatedClock
) -> None:
    with registry.transaction() as s:
        lin.set_source_trust(
            s, clock=clock, actor="dana", source="globex", level="probation", reason="suspect"
        )
        lin.approve_batch(
            s, clock=clock, actor="sam", batch_id="globex-1", reason="screened", screening=PASSED
        )
        lin.set_source_trust(
            s, clock=clock, actor="sam", source="globex", level="revoked", reason="confirmed"
        )
    with pytest.raises(
        ConflictError, match="batch globex-1 comes from source globex, which is revoked"
    ):
        _train(registry, clock, "v1", ["globex-1"])
    with registry.transaction() as s, pytest.raises(ConflictError, match="revoked"):
        lin.approve_batch(
            s, clock=clock, actor="sam", batch_id="globex-2", reason="x", screening=PASSED
        )
    with registry.transaction() as s, pytest.raises(InputError, match="trust level 'banned'"):
        lin.set_source_trust(
            s, clock=clock, actor="sam", source="globex", level="banned", reason="x"
        )


def test_the_screen_approves_a_clean_batch_and_refuses_flipped_labels(
    registry: Store, clock: SimulatedClock
) -> None:
    with registry.transaction() as s:
        lin.set_source_trust(
            s, clock=clock, actor="dana", source="globex", level="probation", reason="suspect"
        )
    trusted = ["acme-1", "acme-2"]
    with registry.transaction() as s:
        clean = lin.screen_and_approve_batch(
            s,
            clock=clock,
            actor="sam",
            reason="screened",
            batch_id="globex-1",
            trusted_batches=trusted,
        )
    assert clean.approved_by == "sam"
    assert clean.screening is not None
    assert clean.screening["decision"] in ("ok", "warn")
    with (
        registry.transaction() as s,
        pytest.raises(ConflictError, match="globex-2 from source globex did not pass"),
    ):
        lin.screen_and_approve_batch(
            s,
            clock=clock,
            actor="sam",
            reason="screened",
            batch_id="globex-2",
            trusted_batches=trusted,
        )
    with registry.read() as s:
        assert lin.get_batch(s, batch_id="globex-2").approved_by is None
    _train(registry, clock, "v1", ["acme-1", "globex-1"])
    with pytest.raises(ConflictError, match="globex-2"):
        _train(registry, clock, "v2", ["acme-1", "globex-2"])


@pytest.fixture
def api(registry: Store, clock: SimulatedClock) -> Iterator[Api]:
    yield from make_api(registry, clock)


def test_a_responder_puts_a_source_on_probation_and_only_an_approver_revokes(api: Api) -> None:
    url = "/api/v1/sources/globex/trust"
    put = api.client.post(
        url, json={"level": "probation", "reason": "suspect"}, headers=api.auth("dana")
    )
    assert put.status_code == 200, put.text
    assert put.json()["trust"] == "probation"
    refused = api.client.post(
        url, json={"level": "revoked", "reason": "confirmed"}, headers=api.auth("dana")
    )
    assert refused.status_code == 403
    assert "needs the approver role" in refused.json()["message"]
    revoked = api.client.post(
        url, json={"level": "revoked", "reason": "confirmed"}, headers=api.auth("sam")
    )
    assert revoked.status_code == 200
    assert revoked.json()["trust"] == "revoked"
    approve = api.client.post(
        "/api/v1/batches/globex-1/approve",
        json={"trusted_batches": ["acme-1"], "reason": "screened"},
        headers=api.auth("sam"),
    )
    assert approve.status_code == 409, approve.text
    assert "revoked" in approve.json()["message"]
