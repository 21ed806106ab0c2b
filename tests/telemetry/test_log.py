"""The event log: durable batches, nothing lost on a clean shutdown, a counted loss on a crash."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airsoc.errors import ConflictError
from airsoc.telemetry import Event, EventLog, LabelEvent, PredictionEvent, query_events, read_events

T0 = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)


def _event(i: int, *, system: str = "fraud", ts: datetime = T0) -> PredictionEvent:
    return PredictionEvent(
        request_id=f"r{i}",
        ts=ts,
        system=system,
        version="v1",
        inputs={"x": i},
        output=i % 2,
        score=i / 10,
    )


def test_clean_shutdown_writes_every_event_into_system_day_partitions(tmp_path: Path) -> None:
    log = EventLog(tmp_path, batch_size=100, flush_interval=5)
    for i in range(250):
        log.append(
            _event(i, system="fraud" if i % 2 else "credit", ts=T0 + timedelta(seconds=i % 3))
        )
    log.append(LabelEvent(request_id="r1", ts=T0, system="fraud", label=1))
    log.close()
    assert log.stats()["written"] == 251
    days = sorted(p.name for p in (tmp_path / "prediction" / "system=fraud").iterdir())
    assert days == ["date=2026-03-01", "date=2026-03-02"]
    fraud = read_events(tmp_path, "prediction", system="fraud")
    assert fraud.num_rows == 125
    assert set(fraud.column("request_id").to_pylist()) == {f"r{i}" for i in range(1, 250, 2)}
    late = read_events(tmp_path, "prediction", start=T0 + timedelta(seconds=1))
    assert late.num_rows == 166
    assert query_events(tmp_path, "label", "select label from events").fetchall() == [("1",)]
    assert not list(tmp_path.rglob("*.tmp"))


def test_append_never_waits_for_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = EventLog(tmp_path, batch_size=10, flush_interval=0.01)
    disk_free = threading.Event()
    original = log._write

    def slow_disk(batch: list[Event]) -> None:
        disk_free.wait(30)
        original(batch)

    monkeypatch.setattr(log, "_write", slow_disk)
    finished = threading.Event()

    def produce() -> None:
        for i in range(5000):
            log.append(_event(i))
        finished.set()

    producer = threading.Thread(target=produce)
    producer.start()
    # The producer finishes while the disk is still stuck.
    assert finished.wait(10)
    assert log.stats()["written"] == 0
    disk_free.set()
    log.flush()
    log.close()
    assert read_events(tmp_path, "prediction").num_rows == 5000


CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime, timezone
    from airsoc.telemetry import Event, EventLog, PredictionEvent
    log = EventLog(sys.argv[1], flush_interval=3600, batch_size=10**9)
    ts = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for i in range(300):
        log.append(PredictionEvent(request_id=f"a{i}", ts=ts, system="fraud"))
    log.flush()
    for i in range(42):
        log.append(PredictionEvent(request_id=f"b{i}", ts=ts, system="fraud"))
    os._exit(9)  # a crash: no close, no flush
    """
)


def test_a_crash_loses_only_the_unflushed_batch_and_the_next_writer_says_how_many(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(tmp_path)], capture_output=True, timeout=120
    )
    assert result.returncode == 9, result.stderr.decode()
    assert read_events(tmp_path, "prediction").num_rows == 300
    with caplog.at_level(logging.WARNING, logger="airsoc.telemetry"):
        log = EventLog(tmp_path)
    assert log.recovered_loss == 42
    assert "42 acknowledged events were lost" in caplog.text
    log.close()
    # a clean shutdown leaves nothing to report
    again = EventLog(tmp_path)
    assert again.recovered_loss == 0
    again.close()


def test_two_live_writers_cannot_share_a_name(tmp_path: Path) -> None:
    first = EventLog(tmp_path, name="gateway")
    with pytest.raises(ConflictError, match="open in another process"):
        EventLog(tmp_path, name="gateway")
    other = EventLog(tmp_path, name="replay")
    first.close()
    other.close()
    with pytest.raises(ConflictError, match="closed"):
        first.append(_event(1))


def test_half_written_files_of_dead_writers_are_removed_and_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "prediction" / "system=fraud" / "date=2026-03-01"
    folder.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = folder / f".part-{dead}-abc-00000001.parquet.tmp"
    live = folder / f".part-{os.getpid()}-abc-00000001.parquet.tmp"
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    assert read_events(tmp_path, "prediction").num_rows == 0
    EventLog(tmp_path).close()
    assert not stale.exists()
    assert live.exists()


FORGETFUL_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    from airsoc.telemetry import EventLog, PredictionEvent
    log = EventLog(sys.argv[1], flush_interval=3600, batch_size=10**9)
    ts = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for i in range(25):
        log.append(PredictionEvent(request_id=f"a{i}", ts=ts, system="fraud"))
    # the program ends normally without calling close()
    """
)


def test_a_normal_exit_without_close_still_writes_everything(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", FORGETFUL_WRITER, str(tmp_path)], check=True, timeout=120)
    assert read_events(tmp_path, "prediction").num_rows == 25
    log = EventLog(tmp_path)
    assert log.recovered_loss == 0
    log.close()
