"""A system's gateway traffic over time, read from the telemetry event log: requests, latency
quantiles and errors per served version in equal time buckets, the share of each version, and
(for chat systems) the guard's decisions per bucket.

One request is one bucket entry, whatever its rows: a prediction request logs one event per
row, and they are folded by request id (the slowest row's latency, the worst row's status).
Shadow answers are their own series (``v2 (shadow)``): they were computed, never served.

What is unknown stays unknown: a bucket without requests of a version has no latency and no
error rate (``None``), and before a version's first request and after its last one its request
count is ``None`` too, not 0.

Example:
    >>> import tempfile
    >>> from datetime import UTC, datetime, timedelta
    >>> from airsoc.telemetry import EventLog
    >>> from airsoc.telemetry.schemas import PredictionEvent
    >>> root = tempfile.mkdtemp()
    >>> log = EventLog(root)
    >>> t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    >>> for i in range(6):
    ...     log.append(PredictionEvent(request_id=f"r{i}", ts=t0 + timedelta(minutes=10 * i),
    ...                                system="fraud", version="v1" if i < 4 else "v2",
    ...                                latency_ms=10.0 * (i + 1), status="ok" if i else "error"))
    >>> log.close()
    >>> t = system_traffic(root, system="fraud", start=t0, end=t0 + timedelta(hours=1), buckets=6)
    >>> [v.name for v in t.versions], t.requests
    (['v1', 'v2'], 6)
    >>> t.versions[0].requests, t.versions[0].error_rate[:2]
    ([1, 1, 1, 1, None, None], [1.0, 0.0])
    >>> t.share("v2")
    [0.0, 0.0, 0.0, 0.0, 100.0, 100.0]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airsoc.telemetry.readers import read_events

__all__ = [
    "ERROR_STATUSES",
    "GUARD_OUTCOMES",
    "SystemTraffic",
    "VersionTraffic",
    "guard_outcome",
    "quantile",
    "system_traffic",
]

#: Statuses of a logged request that count as errors (the model failed, or the system refused).
ERROR_STATUSES = frozenset({"error", "refused", "failed"})
#: What the guard did with a chat turn, in the order the console shows them.
GUARD_OUTCOMES = ("allowed", "warned", "blocked")
_STATUS_RANK = {"ok": 0}  # any other status is worse than ok; errors are worst
_WARNING_ACTIONS = frozenset({"log", "redact", "fail_open"})
_BLOCKING_ACTIONS = frozenset({"block", "fail_closed"})


def quantile(sorted_values: Sequence[float] | np.ndarray, q: float) -> float:
    """Return the nearest-rank ``q`` quantile of ``sorted_values`` (ascending, not empty).

    >>> quantile([10.0, 20.0, 30.0, 40.0], 0.5), quantile([10.0, 20.0, 30.0, 40.0], 0.99)
    (30.0, 40.0)
    """
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def guard_outcome(decisions: Sequence[dict[str, Any]], status: str) -> str | None:
    """Return what the guard did with a turn: ``blocked``, ``warned`` (it flagged, redacted or
    failed open), ``allowed``, or ``None`` when the turn was not checked.

    >>> guard_outcome([{"action": "allow", "decision": "ok"}], "ok")
    'allowed'
    >>> guard_outcome([{"action": "allow", "decision": "warn"}], "ok")
    'warned'
    >>> guard_outcome([{"action": "block", "decision": "drift"}], "blocked")
    'blocked'
    >>> guard_outcome([], "ok") is None
    True
    """
    if not decisions:
        return None
    actions = {str(d.get("action")) for d in decisions}
    if status == "blocked" or actions & _BLOCKING_ACTIONS:
        return "blocked"
    if actions & _WARNING_ACTIONS or any(d.get("decision") in ("warn", "drift") for d in decisions):
        return "warned"
    return "allowed"


@dataclass
class VersionTraffic:
    """One version's (or fallback's) requests per bucket and what they cost."""

    name: str
    requests: list[int | None]
    errors: list[int | None]
    p50: list[float | None]
    p95: list[float | None]
    p99: list[float | None]

    @property
    def error_rate(self) -> list[float | None]:
        """Return the share of requests that failed per bucket (None: no requests)."""
        return [
            None if not n or e is None else e / n
            for n, e in zip(self.requests, self.errors, strict=True)
        ]

    @property
    def served(self) -> bool:
        """Return whether these answers reached callers (a shadow's never do)."""
        return not self.name.endswith("(shadow)")


@dataclass
class SystemTraffic:
    """A system's traffic in ``len(times)`` buckets of ``step`` from ``start`` to ``end``;
    ``times`` are the buckets' middles."""

    system: str
    start: datetime
    end: datetime
    step: timedelta
    times: list[datetime]
    versions: list[VersionTraffic]
    requests: int
    guard: dict[str, list[int | None]] = field(default_factory=dict)
    guard_unchecked: int = 0

    def total(self) -> list[int | None]:
        """Return the served requests per bucket (shadow answers not counted)."""
        out: list[int | None] = []
        for i in range(len(self.times)):
            counts = [v.requests[i] for v in self.versions if v.served]
            known = [c for c in counts if c is not None]
            out.append(sum(known) if known else None)
        return out

    def share(self, name: str) -> list[float | None]:
        """Return the percentage of served requests that version ``name`` answered per bucket
        (None: no requests at all in that bucket)."""
        mine = next(v for v in self.versions if v.name == name)
        return [
            None if not total else 100.0 * (n or 0) / total
            for n, total in zip(mine.requests, self.total(), strict=True)
        ]


def _label(version: str | None, role: str) -> str:
    if role == "shadow":
        return f"{version} (shadow)"
    return version or role


def _bucket(ts: datetime, start: datetime, step: timedelta, count: int) -> int | None:
    index = int((ts - start) / step)
    return index if 0 <= index < count else None


@dataclass(frozen=True)
class _Requests:
    """One entry per request (id and role): its bucket, version label (``names[codes[i]]``),
    latency and error; ``label`` lists the labels present."""

    bucket: np.ndarray
    label: list[str]
    codes: np.ndarray
    names: list[str]
    latency: np.ndarray
    error: np.ndarray

    def of(self, name: str) -> np.ndarray:
        """Return a mask of the entries labelled ``name``."""
        if name not in self.names:
            return np.zeros(len(self.bucket), dtype=bool)
        return np.asarray(self.codes == self.names.index(name))


def _fold(table: pa.Table, start: datetime, step: timedelta, count: int) -> _Requests:
    """Return one entry per request id and role of ``table`` (a request's earliest event, its
    slowest row's latency, an error when any row failed), in Arrow and numpy: a busy hour is
    a hundred thousand requests, read every few seconds."""
    errors = pa.array(sorted(ERROR_STATUSES))
    table = table.select(["request_id", "role", "ts", "version", "latency_ms", "status"])
    table = table.append_column(
        "error", pc.cast(pc.is_in(table.column("status"), value_set=errors), pa.int8())
    ).append_column("us", pc.cast(table.column("ts"), pa.int64()))
    grouped = table.group_by(["request_id", "role"]).aggregate(
        [("us", "min"), ("version", "min"), ("latency_ms", "max"), ("error", "max")]
    )
    start_us = int(start.timestamp() * 1_000_000)
    step_us = step.total_seconds() * 1_000_000
    us = grouped.column("us_min").to_numpy()
    bucket = np.floor((us - start_us) / step_us).astype(np.int64)
    inside = (bucket >= 0) & (bucket < count)
    keep = np.flatnonzero(inside)
    role = grouped.column("role")
    version = grouped.column("version_min")
    shadow = pc.binary_join_element_wise(version, pa.scalar(" (shadow)"), "")
    label = pc.if_else(pc.equal(role, "shadow"), shadow, pc.coalesce(version, role))
    encoded = pc.dictionary_encode(label).combine_chunks()
    names = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy(zero_copy_only=False)[keep]
    latency = np.nan_to_num(grouped.column("latency_ms_max").to_numpy(zero_copy_only=False))
    return _Requests(
        bucket=bucket[keep],
        label=[names[c] for c in np.unique(codes)],
        codes=codes,
        names=names,
        latency=latency[keep],
        error=grouped.column("error_max").to_numpy(zero_copy_only=False)[keep],
    )


def _versions(parts: Sequence[_Requests], count: int) -> list[VersionTraffic]:
    out = []
    labels = {name for p in parts for name in p.label}
    for name in sorted(labels, key=lambda n: (not n[:1].isalnum() or "(" in n, n)):
        masks = [p.of(name) for p in parts]
        cells = np.concatenate([p.bucket[m] for p, m in zip(parts, masks, strict=True)])
        latencies = np.concatenate([p.latency[m] for p, m in zip(parts, masks, strict=True)])
        errors = np.concatenate([p.error[m] for p, m in zip(parts, masks, strict=True)])
        counts = np.bincount(cells, minlength=count)
        failed = np.bincount(cells, weights=errors, minlength=count)
        first, last = int(cells.min()), int(cells.max())
        order = np.lexsort((latencies, cells))
        by_bucket = np.split(latencies[order], np.cumsum(counts)[:-1])
        quantiles: dict[float, list[float | None]] = {0.5: [], 0.95: [], 0.99: []}
        for values in by_bucket:
            for q, column in quantiles.items():
                column.append(float(quantile(values, q)) if len(values) else None)
        served = range(first, last + 1)
        out.append(
            VersionTraffic(
                name=name,
                requests=[int(counts[i]) if i in served else None for i in range(count)],
                errors=[int(failed[i]) if i in served else None for i in range(count)],
                p50=quantiles[0.5],
                p95=quantiles[0.95],
                p99=quantiles[0.99],
            )
        )
    return out


def _guard(
    columns: dict[str, list[Any]], start: datetime, step: timedelta, count: int
) -> tuple[dict[str, list[int | None]], int]:
    counts: dict[str, list[int | None]] = {k: [0] * count for k in GUARD_OUTCOMES}
    unchecked = 0
    seen: list[int] = []
    for ts, raw, status in zip(columns["ts"], columns["guard"], columns["status"], strict=True):
        index = _bucket(ts, start, step, count)
        if index is None:
            continue
        decisions = json.loads(raw) if raw else []
        outcome = guard_outcome(decisions if isinstance(decisions, list) else [], status)
        if outcome is None:
            unchecked += 1
            continue
        row = counts[outcome]
        row[index] = (row[index] or 0) + 1
        seen.append(index)
    if not seen:
        return {}, unchecked
    first, last = min(seen), max(seen)
    return {
        k: [v if first <= i <= last else None for i, v in enumerate(values)]
        for k, values in counts.items()
    }, unchecked


def system_traffic(
    root: str | Path,
    *,
    system: str,
    start: datetime,
    end: datetime,
    buckets: int = 60,
    fit: timedelta | None = None,
) -> SystemTraffic:
    """Return ``system``'s gateway traffic from ``start`` to ``end`` in ``buckets`` buckets
    (predictions and chat turns alike; the guard's decisions from the chat turns).

    With ``fit``, the span starts at the first request after ``start`` instead (a system that
    began serving a minute ago fills the chart), but spans at least ``fit``.
    """
    start = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
    end = end.astimezone(UTC) if end.tzinfo else end.replace(tzinfo=UTC)
    tables = {
        kind: read_events(root, kind, system=system, start=start, end=end)
        for kind in ("prediction", "llm_turn")
    }
    if fit is not None:
        firsts = [t.column("ts")[0].as_py() for t in tables.values() if t.num_rows]
        if firsts:
            first = min(firsts).replace(microsecond=0)
            start = max(start, min(first, end - fit))
    step = (end - start) / buckets
    parts: list[_Requests] = []
    guard: dict[str, list[int | None]] = {}
    unchecked = 0
    for kind, table in tables.items():
        if not table.num_rows:
            continue
        parts.append(_fold(table, start, step, buckets))
        if kind == "llm_turn":
            guard, unchecked = _guard(
                table.select(["ts", "guard", "status"]).to_pydict(), start, step, buckets
            )
    return SystemTraffic(
        system=system,
        start=start,
        end=end,
        step=step,
        times=[start + step * (i + 0.5) for i in range(buckets)],
        versions=_versions(parts, buckets),
        requests=sum(len(p.bucket) for p in parts),
        guard=guard,
        guard_unchecked=unchecked,
    )
