"""A batch screen limited to sources at some trust levels, and a monitor window that lags the
run (for labels that come back later)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.errors import DetectionError
from airsoc.fleet.systems import fraud_transactions
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import window_bounds
from airsoc.monitoring.security import security_window
from airsoc.store import Store


def screen(**params: object) -> MonitorConfig:
    return MonitorConfig(
        name="screen",
        system="fraud",
        detector="data_poisoning",
        window="2h",
        window_kind="sliding",
        every="1h",
        params={"source": "*", "label": "is_fraud", **params},
    )


def deliver(store: Store, clock: SimulatedClock, folder: Path, batch: str, source: str) -> None:
    path = folder / (batch.replace("/", "_") + ".parquet")
    fraud_transactions(200, seed=len(batch)).to_parquet(path, index=False)
    with store.transaction() as s:
        lineage.register_batch(
            s,
            clock=clock,
            actor="etl",
            batch_id=batch,
            source=source,
            rows=200,
            sha256=lineage.sha256_file(path),
            uri=str(path),
        )


def test_a_probation_only_screen_reads_only_the_batches_of_sources_on_probation(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    deliver(sqlite_store, clock, tmp_path, "acme/w1", "acme")
    deliver(sqlite_store, clock, tmp_path, "bright/w1", "bright")
    with sqlite_store.transaction() as s:
        lineage.set_source_trust(
            s, clock=clock, actor="soc", source="bright", level="probation", reason="new vendor"
        )
    start, end = clock.now() - timedelta(hours=1), clock.now() + timedelta(hours=1)

    def read(monitor: MonitorConfig) -> list[str]:
        frame = security_window(
            store=sqlite_store, root=tmp_path, monitor=monitor, start=start, end=end
        )
        assert frame is not None
        return sorted(set(frame["batch_id"]))

    assert read(screen()) == ["acme/w1", "bright/w1"]
    assert read(screen(trust=["probation"])) == ["bright/w1"]
    assert read(screen(trust="trusted")) == ["acme/w1"]
    with pytest.raises(DetectionError, match="'vetted' is not a trust level"):
        read(screen(trust=["vetted"]))


def test_a_lagging_window_ends_that_long_before_the_run(clock: SimulatedClock) -> None:
    monitor = screen().model_copy(update={"lag": timedelta(days=1)})
    start, end = window_bounds(monitor, clock.now())
    assert end == clock.now() - timedelta(days=1)
    assert end - start == timedelta(hours=2)
    with pytest.raises(ValueError, match="lag"):
        MonitorConfig.model_validate({**screen().model_dump(), "lag": "-1h"})
