"""The durable, batched telemetry event log: Parquet partitions by kind, system and day.

Layout: ``<root>/<kind>/system=<name>/date=<YYYY-MM-DD>/part-<writer>-<seq>.parquet``. Each file is
written under a temporary name and renamed, so a reader never sees half a file.

``append`` never touches the disk: it queues the event and bumps a counter in a memory-mapped
file. A background thread writes the queue every ``flush_interval`` seconds (or as soon as
``batch_size`` events wait) and then records how many events are on disk in the same mapped file.
A clean ``close()`` writes everything. After a crash the kernel still holds the mapped counters,
so the next writer of the same log name knows exactly how many acknowledged events never reached
disk (at most the last unflushed batch), logs a warning and exposes it as ``recovered_loss``.

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
import fcntl
import logging
import mmap
import os
import struct
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from airsoc.errors import ConflictError
from airsoc.telemetry.schemas import EVENT_SCHEMAS, Event

__all__ = ["EventLog", "partition_dir"]

logger = logging.getLogger("airsoc.telemetry")

_COUNTERS = struct.Struct("<QQ")  # accepted, written


def partition_dir(root: str | Path, kind: str, system: str, day: str) -> Path:
    """Return the folder of one partition.

    >>> partition_dir("t", "prediction", "fraud", "2026-03-01").as_posix()
    't/prediction/system=fraud/date=2026-03-01'
    """
    return Path(root) / kind / f"system={system}" / f"date={day}"


class EventLog:
    """An append-only event log under ``root`` with one background writer thread."""

    def __init__(
        self,
        root: str | Path,
        *,
        name: str = "events",
        batch_size: int = 2000,
        flush_interval: float = 0.1,
        fsync: bool = True,
    ) -> None:
        self.root = Path(root)
        self.name = name
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.fsync = fsync
        self._writer_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._files = 0
        self._pending: list[Event] = []
        self._accepted = 0
        self._written = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._flushed = threading.Condition(self._lock)
        self._closed = False
        self._error: BaseException | None = None
        self.root.mkdir(parents=True, exist_ok=True)
        self._state_file, self._counters = self._open_state()
        self.recovered_loss = self._recover()
        self._thread = threading.Thread(target=self._run, name=f"event-log-{name}", daemon=True)
        self._thread.start()
        # An interpreter that exits normally without close() still writes what it acknowledged.
        atexit.register(self.close)

    # ------------------------------------------------------------------ public

    def append(self, event: Event) -> None:
        """Queue ``event`` for the next batch; returns at once and never waits for the disk."""
        self.extend((event,))

    def extend(self, events: Iterable[Event]) -> None:
        """Queue several events at once (one lock, one counter update)."""
        batch = list(events)
        with self._lock:
            if self._closed:
                raise ConflictError(f"event log {self.name} is closed")
            self._pending.extend(batch)
            self._accepted += len(batch)
            _COUNTERS.pack_into(self._counters, 0, self._accepted, self._written)
            if len(self._pending) >= self.batch_size:
                self._wake.notify()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every event appended so far is on disk."""
        with self._lock:
            target = self._accepted
            self._wake.notify()
            if not self._flushed.wait_for(
                lambda: self._written >= target or self._error is not None, timeout
            ):
                raise TimeoutError(f"event log {self.name}: flush did not finish in {timeout}s")
            self._raise_writer_error()

    def close(self) -> None:
        """Write every queued event, stop the writer and release the log's name."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify()
        atexit.unregister(self.close)
        self._thread.join()
        self._counters.flush()
        self._counters.close()
        fcntl.flock(self._state_file, fcntl.LOCK_UN)
        self._state_file.close()
        self._raise_writer_error()

    def stats(self) -> dict[str, int]:
        """Return counts: events accepted, written, still pending, and files written."""
        with self._lock:
            return {
                "accepted": self._accepted,
                "written": self._written,
                "pending": self._accepted - self._written,
                "files": self._files,
            }

    # ------------------------------------------------------------------ writer

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closed and len(self._pending) < self.batch_size:
                    self._wake.wait(self.flush_interval)
                batch, self._pending = self._pending, []
                closing = self._closed
            if batch:
                try:
                    self._write(batch)
                except BaseException as exc:  # the writer must report, not die silently
                    logger.exception(
                        "event log %s: writing %d events failed", self.name, len(batch)
                    )
                    with self._lock:
                        self._error = exc
                        self._flushed.notify_all()
                    return
                with self._lock:
                    self._written += len(batch)
                    _COUNTERS.pack_into(self._counters, 0, self._accepted, self._written)
                    self._flushed.notify_all()
            elif closing:
                return

    def _write(self, batch: list[Event]) -> None:
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for event in batch:
            groups[(event.kind, event.system, event.ts.strftime("%Y-%m-%d"))].append(
                event.to_record()
            )
        for (kind, system, day), records in groups.items():
            schema = EVENT_SCHEMAS[kind]
            table = pa.table(
                {name: [r[name] for r in records] for name in schema.names}, schema=schema
            )
            folder = partition_dir(self.root, kind, system, day)
            folder.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            final = folder / f"part-{self._writer_id}-{self._seq:08d}.parquet"
            tmp = folder / f".{final.name}.tmp"
            pq.write_table(table, tmp)
            if self.fsync:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(tmp, final)
            self._files += 1

    def _raise_writer_error(self) -> None:
        if self._error is not None:
            raise ConflictError(
                f"event log {self.name} stopped writing: {self._error}"
            ) from self._error

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


def _alive(pid: int) -> bool:
    """Return whether a process with ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
