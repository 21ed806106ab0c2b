"""Registering a :class:`~tests.forensics.generators.FraudWorld` through the lineage service.

Batches are written to Parquet (without the generator's columns), registered with their sha256,
source and covered week; three versions are registered: ``v1`` on the first ``known_good_weeks``
weeks (marked known-good), ``v2`` on half of the weeks and ``v3`` on every week.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.store import Store
from tests.forensics.generators import FraudWorld


def register_world(
    store: Store, world: FraudWorld, folder: Path, *, known_good_weeks: int = 10
) -> list[str]:
    """Register the world's batches and versions; return the batch ids in time order."""
    paths = world.write(folder)
    order = sorted(world.batches, key=lambda b: (world.starts[b], b))
    weeks = 1 + max(world.week(b) for b in order)
    clock = SimulatedClock(world.starts[order[0]])
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="ml", name="fraud", kind="tabular-classifier", owner="risk"
        )
        for b in order:
            lineage.register_batch(
                s,
                clock=clock,
                actor="etl",
                batch_id=b,
                source=world.sources[b],
                rows=len(world.batches[b]),
                sha256=lineage.sha256_file(paths[b]),
                uri=str(paths[b]),
                time_start=world.starts[b],
                time_end=world.starts[b] + timedelta(weeks=1),
            )
        for version, upto in (("v1", known_good_weeks), ("v2", weeks // 2), ("v3", weeks)):
            lineage.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system="fraud",
                version=version,
                artifact_uri=f"s3://models/fraud/{version}",
                sha256=(version[-1] * 64),
                training_batches=[b for b in order if world.week(b) < upto],
            )
        lineage.mark_known_good(
            s, clock=clock, actor="ml", system="fraud", version="v1", reason="reviewed"
        )
    return order
