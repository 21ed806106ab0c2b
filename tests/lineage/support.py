"""The registry every lineage test starts from: three vendors, batches, versions, deployments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.store import Store

VENDORS = ("acme", "globex", "initech")
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)


def build_registry(store: Store, clock: SimulatedClock) -> None:
    """3 vendors deliver 30 daily batches; versions v1..v5 train on everything so far, every 6 days.

    v1, v2 and v3 are known-good. The suspect batch globex-day13 reached v3 (trained on days
    0..17), v4 and v5, and the credit system's c1; v5 serves fraud.
    """
    with store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="alice", name="fraud", kind="tabular-classifier", owner="risk"
        )
        lin.register_system(
            s, clock=clock, actor="alice", name="credit", kind="tabular-classifier", owner="risk"
        )
    trained: list[str] = []
    version = 0
    for day in range(30):
        clock.set(DAY0 + timedelta(days=day, hours=1))
        vendor = VENDORS[day % 3]
        batch_id = f"{vendor}-day{day:02d}"
        with store.transaction() as s:
            lin.register_batch(
                s,
                clock=clock,
                actor="etl",
                batch_id=batch_id,
                source=vendor,
                rows=1000 + day,
                sha256=f"{day:064x}",
                time_start=DAY0 + timedelta(days=day - 1),
                time_end=DAY0 + timedelta(days=day),
                validation={"passed": True},
            )
        trained.append(batch_id)
        if day % 6 == 5:
            version += 1
            clock.advance(timedelta(hours=2))
            with store.transaction() as s:
                lin.register_model_version(
                    s,
                    clock=clock,
                    actor="ci",
                    system="fraud",
                    version=f"v{version}",
                    artifact_uri=f"s3://models/fraud/v{version}.joblib",
                    sha256=f"{version:064x}",
                    training_batches=list(trained),
                    metrics={"auc": 0.9 + version / 100},
                )
                if version <= 3:
                    lin.mark_known_good(
                        s,
                        clock=clock,
                        actor="reviewer",
                        system="fraud",
                        version=f"v{version}",
                        reason="passed the holdout review",
                    )
    with store.transaction() as s:
        lin.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="credit",
            version="c1",
            artifact_uri="s3://models/credit/c1.joblib",
            sha256="e" * 64,
            training_batches=["globex-day13", "acme-day00"],
        )
        lin.record_deployment(
            s, clock=clock, actor="ci", system="fraud", version="v5", role="primary", reason="ship"
        )
