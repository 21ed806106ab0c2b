"""Quarantine and source revocation: audited, and they change the known-good version."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc import lineage as lin
from airsoc.audit import list_entries, verify_chains
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError
from airsoc.store import Store
from tests.lineage.support import DAY0, build_registry


def test_quarantine_and_revocation_are_audited_and_change_known_good(
    store: Store, clock: SimulatedClock
) -> None:
    build_registry(store, clock)
    with store.transaction() as s:
        lin.quarantine_batch(
            s,
            clock=clock,
            actor="analyst",
            batch_id="globex-day13",
            reason="label flips",
            cascade=True,
        )
    with store.read() as s:
        assert lin.get_batch(s, batch_id="globex-day13").status == "quarantined"
        assert lin.get_model_version(s, system="fraud", version="v3").status == "quarantined"
        # v3 is quarantined, so the newest known-good is v2 even without a batch given
        assert lin.last_known_good(s, system="fraud").version == "v2"
        entry = list_entries(s, chain="batch/globex-day13")[-1]
        assert (entry.actor, entry.action, entry.reason) == (
            "analyst",
            "batch.quarantined",
            "label flips",
        )
    with store.transaction() as s, pytest.raises(ConflictError, match="quarantined"):
        lin.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="fraud",
            version="v6",
            artifact_uri="s3://x",
            sha256="f" * 64,
            training_batches=["globex-day13"],
        )
    with store.transaction() as s:
        touched = lin.revoke_source(
            s,
            clock=clock,
            actor="analyst",
            source="initech",
            reason="vendor breached",
            start=DAY0 + timedelta(days=20),
        )
        released = lin.release_batch(
            s, clock=clock, actor="analyst", batch_id="globex-day13", reason="false alarm"
        )
    assert [b.batch_id for b in touched] == [
        "initech-day20",
        "initech-day23",
        "initech-day26",
        "initech-day29",
    ]
    assert released.status == "released"
    with store.read() as s:
        assert all(r.ok for r in verify_chains(s))
        assert lin.get_batch(s, batch_id="initech-day17").status == "accepted"
