"""The event log: durable batches, nothing lost on a clean shutdown, a counted loss on a crash."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airsoc.errors import ConflictError, InvalidEventError, TelemetryUnavailableError
from airsoc.telemetry import (
    EventLog,
    LabelEvent,
    LLMTurnEvent,
    PredictionEvent,
    query_events,
    read_events,
)

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

    def slow_disk(batch: list[Any]) -> None:
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


# ---------------------------------------------------------------------- survival


def _wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait on a condition (polled on an Event, not a sleep); fail after a generous timeout."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        pause.wait(0.005)


class FlakyDisk:
    """Wraps the log's writer: the first ``failures`` writes raise, or every write until healed."""

    def __init__(self, log: EventLog, failures: int | None = None) -> None:
        self.original = log._write
        self.failures = failures
        self.failed = 0
        self.healed = threading.Event()

    def __call__(self, group: list[Any]) -> None:
        if (self.failures is None and not self.healed.is_set()) or (
            self.failures is not None and self.failed < self.failures
        ):
            self.failed += 1
            raise OSError(28, "No space left on device")
        self.original(group)


def test_hostile_labels_are_refused_at_append_and_the_writer_keeps_writing(
    tmp_path: Path,
) -> None:
    log = EventLog(tmp_path, batch_size=10, flush_interval=0.01)
    log.extend([LabelEvent(request_id=f"ok{i}", ts=T0, system="fraud", label=1) for i in range(5)])
    with pytest.raises(InvalidEventError) as too_big:
        log.extend(
            [
                LabelEvent(request_id="x", ts=T0, system="fraud", label=1),
                LabelEvent(request_id="x", ts=T0, system="fraud", label=1, row_index=2147483648),
            ]
        )
    assert too_big.value.loc == "events[1].row_index"
    with pytest.raises(InvalidEventError) as surrogate:
        log.append(LabelEvent(request_id="\ud800", ts=T0, system="fraud", label=1))
    assert surrogate.value.loc == "request_id"
    log.extend(
        [LabelEvent(request_id=f"late{i}", ts=T0, system="fraud", label=1) for i in range(5)]
    )
    log.flush()
    health = log.health()
    assert (health.alive, health.status, health.errors, health.written) == (True, "ok", 0, 10)
    log.close()
    ids = read_events(tmp_path, "label").column("request_id").to_pylist()
    assert sorted(ids) == sorted([f"ok{i}" for i in range(5)] + [f"late{i}" for i in range(5)])


def test_a_hundred_write_errors_lose_no_acknowledged_event(tmp_path: Path) -> None:
    log = EventLog(
        tmp_path, batch_size=50, flush_interval=0.01, retry_initial=0.0005, retry_max=0.002
    )
    disk = FlakyDisk(log, failures=100)
    log._write = disk  # type: ignore[method-assign]
    acknowledged = []
    for i in range(1000):
        log.append(_event(i))
        acknowledged.append(f"r{i}")
    _wait_until(lambda: disk.failed == 100)
    log.flush(timeout=120)
    health = log.health()
    assert health.errors == 100
    assert health.written == 1000
    assert (health.alive, health.status, health.dropped, health.lag_seconds) == (True, "ok", 0, 0)
    assert "No space left" in str(health.last_error)
    assert log.drain().complete
    ids = read_events(tmp_path, "prediction").column("request_id").to_pylist()
    assert sorted(ids) == sorted(acknowledged)  # 0 lost, 0 duplicated
    assert not list(tmp_path.rglob("*.tmp"))


def test_while_the_disk_is_down_health_shows_lag_and_the_error(tmp_path: Path) -> None:
    log = EventLog(tmp_path, batch_size=5, flush_interval=0.01, retry_initial=0.001, retry_max=0.01)
    disk = FlakyDisk(log)
    log._write = disk  # type: ignore[method-assign]
    log.extend(_event(i) for i in range(20))
    _wait_until(lambda: log.health().errors >= 3)
    down = log.health()
    assert (down.alive, down.status, down.pending, down.written) == (True, "failing", 20, 0)
    assert down.lag_seconds > 0
    assert down.consecutive_errors >= 3
    with pytest.raises(TimeoutError, match="No space left"):
        log.flush(timeout=0.05)
    disk.healed.set()
    log.flush(timeout=120)
    assert log.health().status == "ok"
    log.close()
    assert read_events(tmp_path, "prediction").num_rows == 20


def test_keep_serving_bounds_memory_and_counts_what_it_drops(tmp_path: Path) -> None:
    log = EventLog(tmp_path, flush_interval=0.01, max_pending=10, retry_initial=0.001)
    disk = FlakyDisk(log)
    log._write = disk  # type: ignore[method-assign]
    assert log.extend(_event(i) for i in range(8)) == 8
    assert log.extend(_event(i) for i in range(8, 15)) == 2
    log.append(_event(99))
    health = log.health()
    assert (health.accepted, health.dropped, health.pending) == (10, 6, 10)
    disk.healed.set()
    report = log.drain(timeout=120)
    assert (report.complete, report.written, report.unwritten, report.dropped) == (True, 10, 0, 6)
    assert read_events(tmp_path, "prediction").num_rows == 10


def test_the_memory_bound_counts_bytes_too(tmp_path: Path) -> None:
    log = EventLog(tmp_path, flush_interval=0.01, max_pending_bytes=3000, retry_initial=0.001)
    disk = FlakyDisk(log)
    log._write = disk  # type: ignore[method-assign]
    big = [
        LLMTurnEvent(request_id=f"t{i}", ts=T0, system="bot", messages=["x" * 1000])
        for i in range(5)
    ]
    assert log.extend(big) == 2
    health = log.health()
    assert (health.pending, health.dropped) == (2, 3)
    assert 2000 < health.pending_bytes <= 3000
    disk.healed.set()
    assert log.drain(timeout=120).complete
    assert log.health().pending_bytes == 0


def test_refuse_raises_a_503_error_while_full_and_accepts_again_once_written(
    tmp_path: Path,
) -> None:
    log = EventLog(
        tmp_path, flush_interval=0.01, max_pending=5, on_full="refuse", retry_initial=0.001
    )
    disk = FlakyDisk(log)
    log._write = disk  # type: ignore[method-assign]
    log.extend(_event(i) for i in range(5))
    with pytest.raises(TelemetryUnavailableError, match=r"No space left|refuses") as refused:
        log.append(_event(5))
    assert (refused.value.code, refused.value.http_status) == ("telemetry_unavailable", 503)
    assert log.health().dropped == 0
    disk.healed.set()
    log.flush(timeout=120)
    log.append(_event(5))
    log.close()
    assert read_events(tmp_path, "prediction").num_rows == 6


def test_a_dead_writer_thread_is_reported_and_restarted_by_the_next_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = EventLog(tmp_path, batch_size=1, flush_interval=0.01)
    # Whatever ends the thread (here: its loop told to stop), nothing queued is lost.
    monkeypatch.setattr(log, "_cycle", lambda: False)
    _wait_until(lambda: not log.health().alive)
    assert log.health().status == "stopped"
    monkeypatch.undo()
    log.append(_event(1))
    log.flush(timeout=120)
    health = log.health()
    assert (health.alive, health.restarts, health.written) == (True, 1, 1)
    log.close()
    assert read_events(tmp_path, "prediction").column("request_id").to_pylist() == ["r1"]


def test_the_writer_survives_even_a_base_exception(tmp_path: Path) -> None:
    log = EventLog(tmp_path, batch_size=1, flush_interval=0.01, retry_initial=0.001)
    original = log._write
    calls = []

    def exits_once(group: list[Any]) -> None:
        calls.append(len(group))
        if len(calls) == 1:
            raise SystemExit("a stray sys.exit() in a plugin")
        original(group)

    log._write = exits_once  # type: ignore[method-assign]
    log.append(_event(1))
    log.flush(timeout=120)
    health = log.health()
    assert (health.alive, health.restarts, health.errors, health.written) == (True, 0, 1, 1)
    log.close()


def test_a_drain_that_times_out_reports_what_is_not_on_disk(tmp_path: Path) -> None:
    log = EventLog(tmp_path, flush_interval=0.01, retry_initial=0.001, retry_max=0.01)
    disk = FlakyDisk(log)
    log._write = disk  # type: ignore[method-assign]
    log.extend(_event(i) for i in range(7))
    report = log.drain(timeout=0.05)
    assert (report.complete, report.accepted, report.unwritten) == (False, 7, 7)
    with pytest.raises(ConflictError, match="closed"):
        log.append(_event(8))
    disk.healed.set()  # the writer goes on trying after a drain gave up waiting
    assert log.drain(timeout=120).complete
    assert read_events(tmp_path, "prediction").num_rows == 7


DRAINED_ON_SIGTERM = textwrap.dedent(
    """
    import signal, sys, threading
    from datetime import datetime, timezone
    from airsoc.telemetry import EventLog, PredictionEvent
    log = EventLog(sys.argv[1], flush_interval=3600, batch_size=10**9)
    ts = datetime(2026, 3, 1, tzinfo=timezone.utc)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    acknowledged = [0] * 8

    def client(n):
        i = 0
        while not stop.is_set():
            log.append(PredictionEvent(request_id=f"c{n}-{i}", ts=ts, system="fraud"))
            i += 1
            acknowledged[n] = i

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    while sum(acknowledged) < 5000:
        stop.wait(0.001)
    print("ready", flush=True)
    stop.wait()
    for t in threads:
        t.join()
    report = log.drain(timeout=120)
    print(sum(acknowledged), report.written, report.complete, flush=True)
    """
)


def test_a_log_drained_on_sigterm_loses_nothing_acknowledged(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", DRAINED_ON_SIGTERM, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    acknowledged, written, complete = out.split()
    assert (written, complete) == (acknowledged, "True")
    ids = read_events(tmp_path, "prediction").column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == int(acknowledged)
    assert EventLog(tmp_path).recovered_loss == 0


# ------------------------------------------------------------------ batches given as columns


def _shared(request_id: str = "b1") -> dict[str, Any]:
    return {"request_id": request_id, "ts": T0, "system": "fraud", "version": "v1"}


def _columns(n: int, start: int = 0) -> dict[str, list[Any]]:
    return {
        "row_index": list(range(n)),
        "inputs": [{"x": i} for i in range(start, start + n)],
        "output": [i % 2 for i in range(start, start + n)],
        "score": [i / 10 for i in range(start, start + n)],
    }


def test_a_batch_given_as_columns_is_written_as_its_events_would_be(tmp_path: Path) -> None:
    by_row, by_column = tmp_path / "rows", tmp_path / "columns"
    rows = EventLog(by_row, flush_interval=5)
    rows.extend(
        PredictionEvent(**_shared(), **{k: v[i] for k, v in _columns(3).items()}) for i in range(3)
    )
    rows.close()
    columns = EventLog(by_column, flush_interval=5)
    columns.append(_event(7))  # events queued one by one and batches share a file
    assert columns.extend_columns("prediction", _shared(), _columns(3)) == 3
    columns.close()
    assert columns.stats() == {"accepted": 4, "written": 4, "pending": 0, "files": 1}
    expected = read_events(by_row, "prediction").to_pylist()
    written = read_events(by_column, "prediction").to_pylist()
    assert written[0]["request_id"] == "r7"
    assert written[1:] == expected


def test_a_bad_row_of_a_batch_is_named_and_nothing_of_its_batch_is_queued(
    tmp_path: Path,
) -> None:
    log = EventLog(tmp_path, flush_interval=0.01)
    assert log.extend_columns("prediction", _shared("ok"), _columns(4)) == 4
    with pytest.raises(InvalidEventError) as surrogate:
        log.extend_columns(
            "label",
            {"ts": T0, "system": "fraud"},
            {"request_id": ["r1", "r2", "\ud800"], "label": [1, 0, 1]},
        )
    assert surrogate.value.loc == "events[2].request_id"
    bad = _columns(4)
    bad["score"][3] = "high"
    with pytest.raises(InvalidEventError) as score:
        log.extend_columns("prediction", _shared("bad"), bad)
    assert score.value.loc == "events[3].score"
    huge = _columns(3)
    huge["inputs"][1] = {"x": "y" * 200}
    small = EventLog(tmp_path / "small", max_event_bytes=100)
    with pytest.raises(InvalidEventError) as too_big:
        small.extend_columns("prediction", _shared(), huge)
    assert too_big.value.loc == "events[1].inputs"
    small.close()
    with pytest.raises(InvalidEventError) as shared_ts:
        log.extend_columns("prediction", {"request_id": "r", "system": "fraud"}, {"ts": [T0]})
    assert shared_ts.value.loc == "ts"
    with pytest.raises(InvalidEventError) as unknown:
        log.extend_columns("prediction", _shared(), {"colour": ["red"]})
    assert unknown.value.loc == "colour"
    log.close()
    assert log.stats()["written"] == 4
    ids = set(read_events(tmp_path, "prediction").column("request_id").to_pylist())
    assert ids == {"ok"}


def test_keep_serving_takes_the_head_of_a_batch_that_does_not_fit(tmp_path: Path) -> None:
    log = EventLog(tmp_path, flush_interval=0.01, max_pending=10, retry_initial=0.001)
    disk = FlakyDisk(log)
    log._write = disk  # type: ignore[method-assign]
    assert log.extend_columns("prediction", _shared("a"), _columns(6)) == 6
    assert log.extend_columns("prediction", _shared("b"), _columns(7)) == 4
    health = log.health()
    assert (health.accepted, health.dropped, health.pending) == (10, 3, 10)
    disk.healed.set()
    report = log.drain(timeout=120)
    assert (report.complete, report.written, report.dropped) == (True, 10, 3)
    table = read_events(tmp_path, "prediction")
    assert table.column("request_id").to_pylist() == ["a"] * 6 + ["b"] * 4
    assert table.column("row_index").to_pylist() == [*range(6), *range(4)]


def test_batches_survive_write_errors_without_loss_or_duplicates(tmp_path: Path) -> None:
    log = EventLog(
        tmp_path, batch_size=50, flush_interval=0.01, retry_initial=0.0005, retry_max=0.002
    )
    disk = FlakyDisk(log, failures=20)
    log._write = disk  # type: ignore[method-assign]
    for b in range(40):
        log.extend_columns("prediction", _shared(f"b{b}"), _columns(25, start=25 * b))
    _wait_until(lambda: disk.failed == 20)
    log.flush(timeout=120)
    assert (log.health().written, log.health().errors) == (1000, 20)
    log.close()
    table = read_events(tmp_path, "prediction")
    assert sorted(table.column("inputs").to_pylist()) == sorted(
        f'{{"x": {i}}}' for i in range(1000)
    )
