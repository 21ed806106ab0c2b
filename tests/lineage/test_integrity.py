"""Integrity: artifacts checked against the registered sha256."""

from __future__ import annotations

from pathlib import Path

import pytest

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.errors import HashMismatchError
from airsoc.store import Store


def test_verify_artifact_flags_a_supply_chain_mismatch(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    artifact = tmp_path / "model.joblib"
    artifact.write_bytes(b"trained weights")
    with sqlite_store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="risk"
        )
        model = lin.register_model_version(
            s, clock=clock, actor="ci", system="fraud", version="v1", artifact_uri=str(artifact)
        )
    with sqlite_store.read() as s:
        good = lin.verify_artifact(s, system="fraud", version="v1")
        assert good.ok
        assert good.actual == model.sha256
        assert good.failure_mode is None
        artifact.write_bytes(b"trained weights with a backdoor")
        bad = lin.verify_artifact(s, system="fraud", version="v1")
    assert not bad.ok
    assert bad.failure_mode == "supply_chain"
    with pytest.raises(HashMismatchError, match="supply_chain"):
        bad.raise_for_mismatch()
