"""A monitor whose window is a Parquet dataset on Spark: profiled where it lives, judged like
rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsoc.clock import SimulatedClock
from airsoc.detection import check_drift
from airsoc.detection.profiles import profile
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.builtin import BUILTIN_EVALUATORS
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import MonitorScheduler
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.store import Store
from tests.detection.conftest import SPARK_WARNINGS, spark  # noqa: F401 - the shared session

pytestmark = [pytest.mark.filterwarnings(SPARK_WARNINGS), pytest.mark.slow]

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _rows(seed: int, shift: float, start: datetime, n: int = 6_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3 + shift, 1, n),
            "country": rng.choice(["de", "fr", "it"], n, p=[0.5 - shift, 0.3, 0.2 + shift]),
            "ts": pd.Series(start + pd.to_timedelta(rng.integers(0, 3600, n), unit="s")),
            "system": rng.choice(["fraud", "credit"], n),
        }
    )


@pytest.fixture
def lake(tmp_path: Path) -> dict[str, Any]:
    reference = _rows(1, 0.0, T0 - timedelta(days=1)).drop(columns=["ts", "system"])
    saved = tmp_path / "reference.profile"
    profile(reference).save(saved)
    folder = tmp_path / "transactions"
    folder.mkdir()
    calm = _rows(2, 0.0, T0)  # 00:00-01:00: like the reference
    shifted = _rows(3, 0.25, T0 + timedelta(hours=1))  # 01:00-02:00: drifted
    for i, part in enumerate((calm, shifted)):
        pq.write_table(
            pa.Table.from_pandas(part, preserve_index=False), folder / f"part-{i}.parquet"
        )
    return {"reference": reference, "profile": saved, "folder": folder, "shifted": shifted}


def _monitor(time_column: str = "ts") -> MonitorConfig:
    return MonitorConfig.model_validate(
        {
            "name": "fraud-lake-drift",
            "system": "fraud",
            "detector": "data_drift",
            "window": "1h",
            "every": "1h",
            "severity": "sev3",
            "reference": {"profile": "reference.profile"},
            "source": {
                "spark": {
                    "path": "transactions",
                    "time_column": time_column,
                    "system_column": "system",
                }
            },
        }
    )


def test_a_spark_source_window_gives_the_local_verdicts_and_fires(
    sqlite_store: Store,
    lake: dict[str, Any],
    tmp_path: Path,
    spark: Any,  # noqa: F811
) -> None:
    clock = SimulatedClock(T0 + timedelta(hours=2, minutes=1))  # judges 01:00-02:00
    fired: list[Alert] = []
    scheduler = MonitorScheduler(
        evaluators=BUILTIN_EVALUATORS,
        monitors=[_monitor()],
        store=sqlite_store,
        clock=clock,
        source=EventLogTelemetry(store=sqlite_store, base_dir=tmp_path),
        sink=fired.append,
    )
    (run,) = scheduler.run_all()
    assert run.error is None, run.error
    assert [a.labels["failure_mode"] for a in fired] == ["data_drift"]
    rows = lake["shifted"]
    local = check_drift(lake["reference"], rows[rows["system"] == "fraud"][["amount", "country"]])
    on_spark = {v.subject: v.decision for v in run.verdicts if v.method != "diagnosis"}
    assert {v.subject: v.decision for v in local.columns} == {
        k: on_spark[k] for k in ("amount", "country")
    }
    assert local.dataset.decision == "drift"
    window = next(v for v in run.verdicts if v.subject == "amount")
    assert window.n_current == int((rows["system"] == "fraud").sum())


def test_an_empty_spark_window_is_skipped_and_a_bad_column_is_named(
    sqlite_store: Store,
    lake: dict[str, Any],
    tmp_path: Path,
    spark: Any,  # noqa: F811
) -> None:
    source = EventLogTelemetry(store=sqlite_store, base_dir=tmp_path)
    empty = SimulatedClock(T0 + timedelta(hours=6))  # no rows there
    (run,) = MonitorScheduler(
        evaluators=BUILTIN_EVALUATORS,
        monitors=[_monitor()],
        store=sqlite_store,
        clock=empty,
        source=source,
        sink=lambda _a: None,
    ).run_all()
    assert run.status == "skipped"
    bad = _monitor(time_column="when")
    (failed,) = MonitorScheduler(
        evaluators=BUILTIN_EVALUATORS,
        monitors=[bad],
        store=sqlite_store,
        clock=empty,
        source=source,
        sink=lambda _a: None,
    ).run_all()
    assert failed.status == "failed"
    assert "no column 'when'" in (failed.error or "")
