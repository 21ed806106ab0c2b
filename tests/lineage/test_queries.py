"""Lineage walks answer the poisoning questions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.errors import NotFoundError
from airsoc.store import Store
from tests.lineage.support import DAY0, build_registry


def test_lineage_queries_answer_the_poisoning_questions(
    store: Store, clock: SimulatedClock
) -> None:
    build_registry(store, clock)
    with store.read() as s:
        assert len(lin.list_batches(s)) == 30
        assert len(lin.list_model_versions(s, system="fraud")) == 5
        # the batches a version was trained on
        v2_batches = [b.batch_id for b in lin.batches_for_model(s, system="fraud", version="v2")]
        assert len(v2_batches) == 12
        assert v2_batches[0] == "acme-day00"
        assert v2_batches[-1] == "initech-day11"
        # the versions a batch reached, across systems
        reached = [(m.system, m.version) for m in lin.models_for_batch(s, batch_id="globex-day13")]
        assert reached == [("credit", "c1"), ("fraud", "v3"), ("fraud", "v4"), ("fraud", "v5")]
        # the batches of a vendor in a time range (by the time each batch covers)
        window = lin.batches_from_source(
            s, source="globex", start=DAY0 + timedelta(days=10), end=DAY0 + timedelta(days=20)
        )
        assert [b.batch_id for b in window] == [
            "globex-day10",
            "globex-day13",
            "globex-day16",
            "globex-day19",
        ]
        # the last known-good version before the poisoned batch arrived
        assert lin.last_known_good(s, system="fraud", before_batch="globex-day13").version == "v2"
        assert lin.last_known_good(s, system="fraud").version == "v3"
        # every version so far was trained on acme-day03
        with pytest.raises(NotFoundError, match="no known-good model version before batch"):
            lin.last_known_good(s, system="fraud", before_batch="acme-day03")
        # the blast radius of quarantining the batch
        radius = lin.blast_radius(s, batch_id="globex-day13")
        assert [m.version for m in radius.model_versions] == ["c1", "v3", "v4", "v5"]
        by_system = {i.system: i for i in radius.systems}
        assert by_system["fraud"].serving == {"primary": "v5"}
        assert by_system["fraud"].serving_affected
        assert by_system["fraud"].rollback_to == "v2"
        assert by_system["credit"].rollback_to is None
        assert not by_system["credit"].serving_affected
