"""The durable, batched telemetry event log: Parquet partitions by kind, system and day.

Layout: ``<root>/<kind>/system=<name>/date=<YYYY-MM-DD>/part-<writer>-<seq>.parquet``. Each file is
written under a temporary name and renamed, so a reader never sees half a file.

``append`` never touches the disk: it queues the event and bumps a counter in a memory-mapped
file. A background thread writes the queue every ``flush_interval`` seconds (or as soon as
``batch_size`` events wait) and then records how many events are on disk in the same mapped file.
A clean ``close()`` writes everything. After a crash the kernel still holds the mapped counters,
so the next writer of the same log name knows exactly how many acknowledged events never reached
disk (at most the last unflushed batch), logs a warning and exposes it as ``recovered_loss``.

Every event is checked against its schema in ``append``/``extend`` (:func:`validate_event`), so a
hostile value (an integer too large for its column, a lone surrogate) is refused with
:class:`~airsoc.errors.InvalidEventError` naming the field and never reaches the writer.

The writer never gives up while the process lives: a failed write is counted, logged and retried
with exponential backoff, and the events it holds stay queued, in order. Memory is bounded by
``max_pending``; when the disk stays unwritable that long, the ``on_full`` policy applies:
``keep_serving`` (new events are dropped and counted) or ``refuse`` (``append`` raises
:class:`~airsoc.errors.TelemetryUnavailableError`, which the gateway answers with 503).
:meth:`EventLog.health` is the snapshot self-monitoring reads (alive, lag, dropped, last error);
:meth:`EventLog.drain` writes everything acknowledged before the process exits.

Example:
    >>> import tempfile
    >>> from datetime import datetime, timezone
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.telemetry.readers import read_events
    >>> from airsoc.telemetry.schemas import PredictionEvent
    >>> root = tempfile.mkdtemp()
    >>> log = EventLog(root)
    >>> ts = SimulatedClock().now()
    >>> for i in range(3):
    ...     log.append(PredictionEvent(request_id=f"r{i}", ts=ts, system="fraud", output=i))
    >>> log.close()
    >>> log.stats()
    {'accepted': 3, 'written': 3, 'pending': 0, 'files': 1}
    >>> read_events(root, "prediction").num_rows
    3
"""

from __future__ import annotations

import atexit
import bisect
import fcntl
import itertools
import logging
import mmap
import os
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from airsoc.errors import ConflictError, InputError, InvalidEventError, TelemetryUnavailableError
from airsoc.telemetry.schemas import (
    EVENT_SCHEMAS,
    MAX_EVENT_BYTES,
    CheckedColumns,
    Event,
    checked_columns,
    checked_record,
)

__all__ = ["DrainReport", "EventLog", "OverflowPolicy", "WriterHealth", "partition_dir"]

logger = logging.getLogger("airsoc.telemetry")

_COUNTERS = struct.Struct("<QQ")  # accepted, written

#: What ``append`` does when ``max_pending`` events already wait for the disk.
OverflowPolicy = Literal["keep_serving", "refuse"]
_POLICIES: tuple[str, ...] = ("keep_serving", "refuse")


def partition_dir(root: str | Path, kind: str, system: str, day: str) -> Path:
    """Return the folder of one partition.

    >>> partition_dir("t", "prediction", "fraud", "2026-03-01").as_posix()
    't/prediction/system=fraud/date=2026-03-01'
    """
    return Path(root) / kind / f"system={system}" / f"date={day}"


class _Queued(NamedTuple):
    """Accepted events: when they were queued (monotonic seconds), their partition, and one
    event's row (``record``) or a batch's columns (``block``), with their size in bytes."""

    queued_at: float
    key: tuple[str, str, str]
    record: dict[str, Any] | None
    size: int
    block: CheckedColumns | None = None

    @property
    def events(self) -> int:
        """Return how many events this holds."""
        return 1 if self.block is None else self.block.n

    def head(self, k: int) -> _Queued:
        """Return the first ``k`` events of a batch."""
        assert self.block is not None
        block = self.block.head(k)
        return self._replace(block=block, size=sum(block.sizes))


@dataclass(frozen=True)
class WriterHealth:
    """A snapshot of the event log's writer, as the runtime's self-monitoring reads it.

    ``status`` is ``ok`` (alive, last write succeeded), ``failing`` (alive, the last attempt
    failed and is being retried) or ``stopped`` (the writer thread is gone, or the log is closed
    with events it could not write). ``lag_seconds`` is the age of the oldest event not yet on
    disk (0 when nothing waits). ``dropped`` counts events refused because ``max_pending`` were
    waiting (``keep_serving``); ``discarded`` counts accepted events the writer could not encode
    (never expected: events are validated when appended).

    >>> WriterHealth(alive=True, closed=False, status="ok", accepted=0, written=0, pending=0,
    ...              dropped=0, discarded=0, attempts=0, errors=0, consecutive_errors=0,
    ...              restarts=0, lag_seconds=0.0, last_error=None, on_full="keep_serving",
    ...              max_pending=10).ok
    True
    """

    alive: bool
    closed: bool
    status: str
    accepted: int
    written: int
    pending: int
    dropped: int
    discarded: int
    attempts: int
    errors: int
    consecutive_errors: int
    restarts: int
    lag_seconds: float
    last_error: str | None
    on_full: str
    max_pending: int
    pending_bytes: int = 0
    max_pending_bytes: int = 0

    @property
    def ok(self) -> bool:
        """Return whether the writer is alive and its last attempt succeeded."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """Return the snapshot as JSON-ready values.

        >>> sorted(WriterHealth(True, False, "ok", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, None,
        ...                     "refuse", 1).to_dict())[:3]
        ['accepted', 'alive', 'attempts']
        """
        return asdict(self)


@dataclass(frozen=True)
class DrainReport:
    """What a drain achieved: whether every acknowledged event reached disk, and the counts.

    >>> DrainReport(complete=True, accepted=3, written=3, unwritten=0, dropped=0, seconds=0.0)
    DrainReport(complete=True, accepted=3, written=3, unwritten=0, dropped=0, seconds=0.0)
    """

    complete: bool
    accepted: int
    written: int
    unwritten: int
    dropped: int
    seconds: float


class EventLog:
    """An append-only event log under ``root`` with one background writer thread.

    Parameters
    ----------
    root
        The folder of the log's partitions.
    name
        The writer's name; two live writers of one folder need different names.
    batch_size, flush_interval
        The writer writes as soon as ``batch_size`` events wait, or every ``flush_interval`` s.
    fsync
        Whether each file is synced to disk before it is renamed into place.
    max_pending, max_pending_bytes
        The most events, and the most bytes of event text, that may wait for the disk (the
        memory bound).
    on_full
        ``keep_serving``: past ``max_pending``, new events are dropped and counted;
        ``refuse``: ``append`` raises :class:`~airsoc.errors.TelemetryUnavailableError`.
    max_event_bytes
        The largest event accepted (UTF-8 bytes of its text fields).
    retry_initial, retry_max
        Backoff between failed write attempts: doubles from ``retry_initial`` to ``retry_max`` s.
    drain_timeout
        How long a drain at interpreter exit waits for the disk.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        name: str = "events",
        batch_size: int = 2000,
        flush_interval: float = 0.1,
        fsync: bool = True,
        max_pending: int = 200_000,
        max_pending_bytes: int = 256 << 20,
        on_full: OverflowPolicy = "keep_serving",
        max_event_bytes: int = MAX_EVENT_BYTES,
        retry_initial: float = 0.05,
        retry_max: float = 1.0,
        drain_timeout: float = 30.0,
    ) -> None:
        if on_full not in _POLICIES:
            raise InputError(
                f"on_full must be one of {', '.join(_POLICIES)}, got {on_full!r}", loc="on_full"
            )
        if max_pending < 1:
            raise InputError("max_pending must be at least 1", loc="max_pending")
        self.root = Path(root)
        self.name = name
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.fsync = fsync
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.on_full = on_full
        self.max_event_bytes = max_event_bytes
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.drain_timeout = drain_timeout
        self._writer_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._files = 0
        self._pending: list[_Queued] = []
        self._pending_count = 0
        self._inflight: list[list[_Queued]] = []
        self._inflight_count = 0
        self._unwritten_bytes = 0
        self._accepted = 0
        self._written = 0
        self._dropped = 0
        self._discarded = 0
        self._discarded_in_write = 0
        self._attempts = 0
        self._errors = 0
        self._consecutive_errors = 0
        self._restarts = 0
        self._last_error: str | None = None
        self._flush_requested = False
        # Re-entrant: a signal handler that drains may interrupt this thread inside ``extend``.
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._flushed = threading.Condition(self._lock)
        self._pause = threading.Event()
        self._closed = False
        self._released = False
        self.root.mkdir(parents=True, exist_ok=True)
        self._state_file, self._counters = self._open_state()
        self.recovered_loss = self._recover()
        self._thread = self._start_writer()
        # An interpreter that exits normally without close() still writes what it acknowledged.
        atexit.register(self._drain_at_exit)

    # ------------------------------------------------------------------ public

    def append(self, event: Event) -> None:
        """Queue ``event`` for the next batch; returns at once and never waits for the disk.

        Raises :class:`~airsoc.errors.InvalidEventError` (``loc`` names the field) for an event
        that does not fit its schema, and :class:`~airsoc.errors.TelemetryUnavailableError` when
        the log is full and its policy is ``refuse``.
        """
        self._queue([self._checked(event, None, None)])

    def extend(self, events: Iterable[Event]) -> int:
        """Queue several events at once and return how many were queued.

        Every event is checked first: one bad event refuses the whole call (``loc`` is
        ``events[i].field``) and nothing of it is queued. With ``keep_serving`` and a full log the
        events past the bound are dropped (counted in :meth:`health`), so the result may be less
        than the number given.
        """
        seen: dict[str, tuple[Any, int]] = {}  # texts the batch's events share, checked once
        return self._queue([self._checked(e, i, seen) for i, e in enumerate(events)])

    def extend_columns(
        self, kind: str, shared: Mapping[str, Any], columns: Mapping[str, Sequence[Any]]
    ) -> int:
        """Queue a batch of events of ``kind`` given column by column and return how many
        were queued: what :meth:`extend` does with the same events, without an object per
        event (a gateway logs each request's rows this way).

        ``shared`` holds the fields every event has (``ts`` and ``system`` among them: a
        batch is one partition), ``columns`` one sequence per field that differs; see
        :func:`~airsoc.telemetry.schemas.checked_columns`. One bad value refuses the whole
        call (``loc`` is ``events[i].field``, ``i`` the event's place in the batch) and
        nothing of it is queued; events queued before stay queued.

        >>> import tempfile
        >>> from airsoc.clock import SimulatedClock
        >>> from airsoc.telemetry.readers import read_events
        >>> root = tempfile.mkdtemp()
        >>> log = EventLog(root)
        >>> shared = {"request_id": "r1", "ts": SimulatedClock().now(), "system": "fraud"}
        >>> log.extend_columns("prediction", shared, {"row_index": [0, 1], "output": [1, 0]})
        2
        >>> log.extend_columns("prediction", shared, {"row_index": [0, -1.5]})
        Traceback (most recent call last):
        ...
        airsoc.errors.InvalidEventError: events[1].row_index: prediction event: expected an \
integer, got float
        >>> log.close()
        >>> read_events(root, "prediction").column("output").to_pylist()
        ['1', '0']
        """
        block = checked_columns(kind, shared, columns, max_event_bytes=self.max_event_bytes)
        if block.n == 0:
            return 0
        key = (kind, block.system, block.ts.date().isoformat())
        return self._queue([_Queued(time.monotonic(), key, None, sum(block.sizes), block)])

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every event appended so far is on disk.

        Raises ``TimeoutError`` (naming the writer's last error) when that takes longer than
        ``timeout`` seconds; the events stay queued and the writer keeps trying.
        """
        with self._lock:
            target = self._accepted
            self._flush_requested = True
            self._wake.notify_all()
            if not self._flushed.wait_for(lambda: self._resolved() >= target, timeout):
                raise TimeoutError(
                    f"event log {self.name}: flush did not finish in {timeout}s "
                    f"({self._accepted - self._resolved()} events unwritten; "
                    f"last error: {self._last_error})"
                )

    def drain(self, timeout: float | None = 30.0) -> DrainReport:
        """Stop accepting events, write every acknowledged one, and release the log's name.

        Meant for shutdown (SIGTERM, SIGINT, the end of a program): it waits at most ``timeout``
        seconds (``None``: as long as it takes). When the disk does not come back in time, the
        unwritten events are reported (and logged) and the writer keeps trying until the process
        exits; the next writer of the same name then reports them as lost. Draining twice is
        harmless.
        """
        started = time.monotonic()
        with self._lock:
            self._closed = True
            self._flush_requested = True
            self._wake.notify_all()
            self._pause.set()
            complete = self._flushed.wait_for(lambda: self._resolved() >= self._accepted, timeout)
            report = DrainReport(
                complete=complete,
                accepted=self._accepted,
                written=self._written,
                unwritten=self._accepted - self._written,
                dropped=self._dropped,
                seconds=round(time.monotonic() - started, 6),
            )
        atexit.unregister(self._drain_at_exit)
        if complete:
            self._release()
        else:
            logger.error(
                "event log %s: drained for %.1fs but %d acknowledged events are not on disk "
                "(last error: %s); the writer keeps trying until the process exits",
                self.name,
                report.seconds,
                report.unwritten,
                self._last_error,
            )
        return report

    def close(self, timeout: float | None = 30.0) -> None:
        """Drain the log (see :meth:`drain`); use :meth:`drain` to see what was written."""
        self.drain(timeout)

    def set_policy(
        self,
        *,
        on_full: OverflowPolicy,
        max_pending: int,
        retry_max: float | None = None,
        retry_initial: float | None = None,
    ) -> None:
        """Change the on-full policy, the memory bound and the backoff of a running log (a
        reloaded configuration); events already queued stay queued.

        >>> import tempfile
        >>> log = EventLog(tempfile.mkdtemp())
        >>> log.set_policy(on_full="refuse", max_pending=10)
        >>> log.health().on_full, log.health().max_pending
        ('refuse', 10)
        >>> _ = log.drain()
        """
        if on_full not in _POLICIES:
            raise InputError(
                f"on_full must be one of {', '.join(_POLICIES)}, got {on_full!r}", loc="on_full"
            )
        if max_pending < 1:
            raise InputError("max_pending must be at least 1", loc="max_pending")
        with self._lock:
            self.on_full = on_full
            self.max_pending = max_pending
            if retry_max is not None:
                self.retry_max = retry_max
            if retry_initial is not None:
                self.retry_initial = retry_initial

    def stats(self) -> dict[str, int]:
        """Return counts: events accepted, written, still pending, and files written."""
        with self._lock:
            return {
                "accepted": self._accepted,
                "written": self._written,
                "pending": self._accepted - self._written,
                "files": self._files,
            }

    def health(self) -> WriterHealth:
        """Return the writer's health: alive, status, lag, counts and the last error.

        >>> import tempfile
        >>> log = EventLog(tempfile.mkdtemp())
        >>> h = log.health()
        >>> h.alive, h.status, h.lag_seconds, h.dropped
        (True, 'ok', 0.0, 0)
        >>> _ = log.drain()
        """
        with self._lock:
            alive = self._thread.is_alive()
            unwritten = self._accepted - self._resolved()
            oldest = [g[0].queued_at for g in self._inflight if g]
            if self._pending:
                oldest.append(self._pending[0].queued_at)
            lag = max(time.monotonic() - min(oldest), 0.0) if oldest else 0.0
            if not alive and (not self._closed or unwritten):
                status = "stopped"
            elif self._consecutive_errors:
                status = "failing"
            else:
                status = "ok"
            return WriterHealth(
                alive=alive,
                closed=self._closed,
                status=status,
                accepted=self._accepted,
                written=self._written,
                pending=unwritten,
                dropped=self._dropped,
                discarded=self._discarded,
                attempts=self._attempts,
                errors=self._errors,
                consecutive_errors=self._consecutive_errors,
                restarts=self._restarts,
                lag_seconds=round(lag, 6),
                last_error=self._last_error,
                on_full=self.on_full,
                max_pending=self.max_pending,
                pending_bytes=self._unwritten_bytes,
                max_pending_bytes=self.max_pending_bytes,
            )

    # ------------------------------------------------------------------ accepting

    def _checked(
        self, event: Event, index: int | None, seen: dict[str, tuple[Any, int]] | None
    ) -> _Queued:
        try:
            record, size = checked_record(event, max_event_bytes=self.max_event_bytes, seen=seen)
        except InvalidEventError as exc:
            if index is None:
                raise
            raise InvalidEventError(exc.message, loc=f"events[{index}].{exc.loc}") from None
        key = (event.kind, record["system"], event.ts.date().isoformat())
        return _Queued(time.monotonic(), key, record, size)

    def _queue(self, items: list[_Queued]) -> int:
        with self._lock:
            if self._closed:
                raise ConflictError(f"event log {self.name} is closed")
            self._ensure_writer()
            given = sum(item.events for item in items)
            kept = self._room(items)
            room = sum(item.events for item in kept)
            if given > room:
                if self.on_full == "refuse":
                    raise TelemetryUnavailableError(
                        f"event log {self.name} holds {self._accepted - self._resolved()} "
                        "unwritten events (its memory bound) and refuses more until its disk "
                        "is writable again "
                        f"(last error: {self._last_error})"
                    )
                self._dropped += given - room
                if self._dropped == given - room:
                    logger.error(
                        "event log %s is full (%d unwritten events); dropping new events "
                        "(last error: %s)",
                        self.name,
                        self._accepted - self._resolved(),
                        self._last_error,
                    )
            self._pending.extend(kept)
            self._pending_count += room
            self._unwritten_bytes += sum(item.size for item in kept)
            self._accepted += room
            _COUNTERS.pack_into(self._counters, 0, self._accepted, self._written)
            if self._pending_count >= self.batch_size:
                self._wake.notify_all()
            return room

    def _room(self, items: list[_Queued]) -> list[_Queued]:
        """Return the first of ``items`` (events, then the head of a batch) that fit the
        memory bounds, ``max_pending`` events and ``max_pending_bytes``."""
        room = max(self.max_pending - self._pending_count - self._inflight_count, 0)
        budget = self.max_pending_bytes - self._unwritten_bytes
        kept: list[_Queued] = []
        for item in items:
            fits = min(item.events, room)
            if item.block is not None:
                # Events while their running size stays within the budget.
                running = itertools.accumulate(item.block.sizes[:fits])
                fits = bisect.bisect_right(list(running), budget)
            elif item.size > budget:
                fits = 0
            if fits < item.events:
                if fits:
                    kept.append(item.head(fits))
                break
            kept.append(item)
            room -= item.events
            budget -= item.size
        return kept

    def _ensure_writer(self) -> None:
        if self._thread.is_alive():
            return
        self._restarts += 1
        logger.error(
            "event log %s: the writer thread had stopped; starting it again (restart %d)",
            self.name,
            self._restarts,
        )
        self._thread = self._start_writer()

    def _start_writer(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name=f"event-log-{self.name}", daemon=True)
        thread.start()
        return thread

    def _resolved(self) -> int:
        return self._written + self._discarded

    # ------------------------------------------------------------------ writer

    def _run(self) -> None:
        while True:
            try:
                if not self._cycle():
                    return
            except BaseException as exc:  # the writer reports, backs off and goes on; never dies
                self._failed(exc, during="the writer loop")

    def _cycle(self) -> bool:
        """Write the oldest waiting partition once; return False when closed with nothing left."""
        with self._lock:
            if not self._inflight:
                self._wake.wait_for(
                    lambda: (
                        self._closed
                        or self._flush_requested
                        or self._pending_count >= self.batch_size
                    ),
                    self.flush_interval,
                )
                self._flush_requested = False
                groups: dict[tuple[str, str, str], list[_Queued]] = {}
                for item in self._pending:
                    groups.setdefault(item.key, []).append(item)
                self._inflight = list(groups.values())
                self._inflight_count = self._pending_count
                self._pending = []
                self._pending_count = 0
            if not self._inflight:
                return not self._closed
            group = self._inflight[0]
            self._attempts += 1
            self._discarded_in_write = 0
        try:
            self._write(group)
        except BaseException as exc:
            self._failed(exc, during=f"writing {sum(item.events for item in group)} events")
            return True
        count = sum(item.events for item in group)
        with self._lock:
            self._inflight.pop(0)
            self._inflight_count -= count
            self._unwritten_bytes -= sum(item.size for item in group)
            self._discarded += self._discarded_in_write
            self._written += count - self._discarded_in_write
            if self._consecutive_errors:
                logger.warning(
                    "event log %s: writing again after %d failed attempts",
                    self.name,
                    self._consecutive_errors,
                )
            self._consecutive_errors = 0
            _COUNTERS.pack_into(self._counters, 0, self._accepted, self._written)
            self._flushed.notify_all()
        return True

    def _failed(self, exc: BaseException, *, during: str) -> None:
        with self._lock:
            self._errors += 1
            self._consecutive_errors += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            attempt = self._consecutive_errors
            self._flushed.notify_all()
        if attempt == 1 or attempt % 100 == 0:
            logger.error(
                "event log %s: %s failed (attempt %d); retrying with backoff",
                self.name,
                during,
                attempt,
                exc_info=exc,
            )
        delay = min(self.retry_max, self.retry_initial * 2 ** min(attempt - 1, 30))
        # Waits the backoff; a drain shortens it once, so shutdown retries at once.
        if self._pause.wait(delay):
            self._pause.clear()

    def _write(self, group: list[_Queued]) -> None:
        """Write one partition's events into one new file (temporary name, then rename)."""
        kind, system, day = group[0].key
        table = self._table(kind, group)
        if table.num_rows == 0:
            return
        folder = partition_dir(self.root, kind, system, day)
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        final = folder / f"part-{self._writer_id}-{self._seq:08d}.parquet"
        tmp = folder / f".{final.name}.tmp"
        try:
            pq.write_table(table, tmp)
            if self.fsync:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with self._lock:
            self._files += 1

    def _table(self, kind: str, group: list[_Queued]) -> pa.Table:
        schema = EVENT_SCHEMAS[kind]
        try:
            return pa.table(_columns(schema, group), schema=schema)
        except (pa.ArrowException, ValueError, TypeError, OverflowError):
            pass
        # Validation should make this unreachable; if not, one bad row must not block the rest.
        records: list[dict[str, Any]] = []
        for item in group:
            if item.block is not None:
                records += item.block.records()
            elif item.record is not None:
                records.append(item.record)
        good = []
        for record in records:
            try:
                _to_table(schema, [record])
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
                self._discarded_in_write += 1
                logger.error(
                    "event log %s: discarding a %s event the schema cannot hold (request %r): %s",
                    self.name,
                    kind,
                    record.get("request_id"),
                    exc,
                )
            else:
                good.append(record)
        return _to_table(schema, good)

    def _drain_at_exit(self) -> None:
        self.drain(self.drain_timeout)

    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._thread.join()
        self._counters.flush()
        self._counters.close()
        fcntl.flock(self._state_file, fcntl.LOCK_UN)
        self._state_file.close()

    # ------------------------------------------------------------------ crash accounting
    def _open_state(self) -> tuple[Any, mmap.mmap]:
        state_dir = self.root / "_writers"
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / f"{self.name}.state"
        fh = open(path, "a+b")  # noqa: SIM115 - held open for the log's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise ConflictError(
                f"event log {self.name!r} in {self.root} is open in another process; "
                "give each writer its own name"
            ) from None
        if os.fstat(fh.fileno()).st_size < _COUNTERS.size:
            fh.truncate(_COUNTERS.size)
        return fh, mmap.mmap(fh.fileno(), _COUNTERS.size)

    def _recover(self) -> int:
        accepted, written = _COUNTERS.unpack_from(self._counters, 0)
        lost = max(accepted - written, 0)
        # Half-written files of crashed writers (readers never see them: leading dot). A file
        # name carries its writer's pid; files of live writers are left alone.
        for tmp in self.root.glob("*/system=*/date=*/.part-*.tmp"):
            pid = tmp.name.removeprefix(".part-").split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)
        if lost:
            logger.warning(
                "event log %s: the previous writer stopped without a clean shutdown; "
                "%d acknowledged events were lost (%d had been written)",
                self.name,
                lost,
                written,
            )
        _COUNTERS.pack_into(self._counters, 0, 0, 0)
        self._counters.flush()
        return int(lost)


def _columns(schema: pa.Schema, group: list[_Queued]) -> dict[str, list[Any]]:
    """Return the values of each column of ``schema`` over the events of ``group``, in order
    (events queued one by one and batches queued as columns)."""
    out: dict[str, list[Any]] = {name: [] for name in schema.names}
    for single, run in itertools.groupby(group, key=lambda item: item.block is None):
        if single:
            records = [item.record for item in run if item.record is not None]
            for name, values in out.items():
                values += [r[name] for r in records]
        else:
            for item in run:
                assert item.block is not None
                for name, values in out.items():
                    values += item.block.columns[name]
    return out


def _to_table(schema: pa.Schema, records: list[dict[str, Any]]) -> pa.Table:
    return pa.table({name: [r[name] for r in records] for name in schema.names}, schema=schema)


def _alive(pid: int) -> bool:
    """Return whether a process with ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
