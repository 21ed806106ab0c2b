"""The telemetry source reads each file of the event log once: its windows must equal the
windows read whole from the log, whatever was appended, relabelled, rewritten or removed."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.store import Store
from airsoc.telemetry import EventLog, LabelEvent, PredictionEvent
from airsoc.telemetry.readers import part_files

T0 = datetime(2026, 3, 1, 22, tzinfo=UTC)
SYSTEM = "fraud"


class Log:
    """Writes events one file per call, as the gateway's log does per flush."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def predictions(
        self, at: datetime, count: int, *, every: timedelta = timedelta(minutes=1), **kw: Any
    ) -> list[str]:
        log = EventLog(self.root, fsync=False)
        ids = []
        for i in range(count):
            self.n += 1
            rid = f"r{self.n}"
            ids.append(rid)
            amount = kw.get("amount", float(self.n))
            for role in kw.get("roles", ("primary",)):
                log.append(
                    PredictionEvent(
                        request_id=rid,
                        ts=at + i * every,
                        system=SYSTEM,
                        version=kw.get("version", "v1"),
                        role=role,
                        client_id="c",
                        inputs={"amount": amount, "merchant": "fuel" if i % 2 else "pub"},
                        output=self.n % 2,
                        score=0.25,
                        status=kw.get("status", "ok"),
                    )
                )
        log.close()
        return ids

    def labels(self, at: datetime, ids: list[str], label: Any) -> None:
        log = EventLog(self.root, fsync=False)
        for rid in ids:
            log.append(LabelEvent(request_id=rid, ts=at, system=SYSTEM, label=label))
        log.close()


def same(source: EventLogTelemetry, start: datetime, end: datetime) -> pd.DataFrame:
    cached = source._telemetry(SYSTEM, start, end)
    whole = source._read_window(SYSTEM, start, end)
    pd.testing.assert_frame_equal(cached, whole)
    return cached


@pytest.fixture
def setup(sqlite_store: Store, tmp_path: Path) -> tuple[Log, EventLogTelemetry]:
    root = tmp_path / "telemetry"
    return Log(root), EventLogTelemetry(store=sqlite_store, root=root)


def test_windows_equal_the_whole_read_as_the_log_grows_and_labels_arrive(
    setup: tuple[Log, EventLogTelemetry],
) -> None:
    log, source = setup
    hour = timedelta(hours=1)
    first = log.predictions(T0, 60, roles=("primary", "shadow"))
    assert len(same(source, T0, T0 + hour)) == 60
    # A new hour (across midnight: a new day partition), a canary, refusals, late labels.
    second = log.predictions(T0 + hour, 60, roles=("primary", "canary"))
    log.predictions(T0 + hour, 5, status="error")
    log.labels(T0 + 2 * hour, first[:30], 1)
    frame = same(source, T0, T0 + 2 * hour)
    assert len(frame) == 180
    assert frame["label"].notna().sum() == 30
    assert source._cached_window(SYSTEM, T0, T0 + 2 * hour, set()) is not None  # not re-read
    # A relabelled row: the latest label wins, in the cached read as in the whole one.
    log.labels(T0 + 3 * hour, first[:10], 0)
    log.labels(T0 + 3 * hour, second[:5], "fraud")
    frame = same(source, T0, T0 + 2 * hour)
    assert frame["label"].tolist()[:12] == [0] * 10 + [1, 1]
    # Windows across a file's edge, inside a file, with no rows, with only shadow rows.
    for start, end in [
        (T0 + timedelta(minutes=30), T0 + timedelta(minutes=90)),
        (T0 + timedelta(minutes=5), T0 + timedelta(minutes=6)),
        (T0 - hour, T0),
    ]:
        same(source, start, end)
    log.predictions(T0 + 5 * hour, 3, roles=("shadow",))
    same(source, T0 + 5 * hour, T0 + 6 * hour)
    assert source._telemetry(SYSTEM, T0 - hour, T0).empty


def test_a_file_that_changes_or_goes_away_is_read_again_or_forgotten(
    setup: tuple[Log, EventLogTelemetry],
) -> None:
    log, source = setup
    hour = timedelta(hours=1)
    ids = log.predictions(T0, 10)
    log.labels(T0 + hour, ids, 1)
    assert same(source, T0, T0 + hour)["label"].tolist() == [1] * 10
    labels = part_files(log.root, "label", system=SYSTEM)
    predictions = part_files(log.root, "prediction", system=SYSTEM)
    # The label file goes away (retention): its labels are no longer joined.
    os.unlink(labels[0])
    assert same(source, T0, T0 + hour)["label"].tolist() == [None] * 10
    # The prediction file is replaced by another one's content under its name.
    log.predictions(T0, 4, amount=-1.0)
    newest = [p for p in part_files(log.root, "prediction", system=SYSTEM) if p not in predictions]
    os.replace(newest[0], predictions[0])
    frame = same(source, T0, T0 + hour)
    assert frame["amount"].tolist() == [-1.0] * 4


def test_inputs_typed_differently_per_file_read_as_the_whole_window(
    setup: tuple[Log, EventLogTelemetry],
) -> None:
    log, source = setup
    log.predictions(T0, 3, amount=5)  # integers in this file
    log.predictions(T0 + timedelta(minutes=10), 3, amount=None)  # nothing in this one
    log.predictions(T0 + timedelta(minutes=20), 3, amount=2.5)
    frame = same(source, T0, T0 + timedelta(hours=1))
    assert frame["amount"].tolist()[:3] == [5.0, 5.0, 5.0]


def test_the_cache_lets_old_files_go_past_its_bound(sqlite_store: Store, tmp_path: Path) -> None:
    log = Log(tmp_path / "telemetry")
    source = EventLogTelemetry(store=sqlite_store, root=log.root, cache_rows=15)
    for h in range(4):
        log.predictions(T0 + timedelta(hours=h), 10)
    for h in range(4):
        same(source, T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1))
    held = sum(p.rows for p in source._parts.predictions.values())
    assert held <= 15
    assert len(source._parts.predictions) == 1
    assert len(same(source, T0, T0 + timedelta(hours=4))) == 40
