"""Reading the event log back: Arrow tables (and from them pandas), or DuckDB relations.

Example:
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.telemetry.log import EventLog
    >>> from airsoc.telemetry.schemas import LabelEvent
    >>> root = tempfile.mkdtemp()
    >>> log = EventLog(root)
    >>> log.append(LabelEvent(request_id="r1", ts=SimulatedClock().now(), system="fraud", label=1))
    >>> log.close()
    >>> read_events(root, "label", system="fraud").column("label").to_pylist()
    ['1']
    >>> query_events(root, "label", "select count(*) from events").fetchone()
    (1,)
    >>> read_frame(root, "label")["request_id"].tolist()
    ['r1']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from airsoc.clock import ensure_utc
from airsoc.errors import InputError
from airsoc.telemetry.schemas import EVENT_SCHEMAS

__all__ = ["export_events", "part_files", "query_events", "read_events", "read_frame"]


def _kind_schema(kind: str) -> pa.Schema:
    try:
        return EVENT_SCHEMAS[kind]
    except KeyError:
        raise InputError(
            f"unknown event kind {kind!r}; one of {', '.join(sorted(EVENT_SCHEMAS))}"
        ) from None


def read_events(
    root: str | Path,
    kind: str,
    *,
    system: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    request_ids: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Return the events of ``kind`` (of one system, with ``start <= ts < end``, of the
    requests ``request_ids`` when given) as a table: every field of the kind's schema, or only
    ``columns`` (and ``ts``, which orders the rows)."""
    schema = _kind_schema(kind)
    fields = None if columns is None else list(dict.fromkeys(["ts", *columns]))
    files = part_files(root, kind, system=system, start=start, end=end)
    if not files:
        empty = schema.empty_table()
        return empty if fields is None else empty.select(fields)
    dataset = ds.dataset(files, schema=schema, format="parquet")
    condition: Any = None
    for clause in (
        pc.field("ts") >= pa.scalar(start, schema.field("ts").type) if start else None,
        pc.field("ts") < pa.scalar(end, schema.field("ts").type) if end else None,
        pc.field("request_id").isin(pa.array(list(request_ids), pa.string()))
        if request_ids is not None
        else None,
    ):
        if clause is not None:
            condition = clause if condition is None else condition & clause
    return dataset.to_table(columns=fields, filter=condition).sort_by("ts")


def part_files(
    root: str | Path,
    kind: str,
    *,
    system: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[str]:
    """Return the finished files of ``kind`` (of one system) whose day partition can hold events
    in ``[start, end)``, sorted by path (the order :func:`read_events` reads them in).

    Day folders outside the range are not listed at all, so a long log costs a window only the
    folders of its days. Files being written (``.part-*.tmp``) are never listed.

    >>> import tempfile
    >>> from datetime import datetime, timezone
    >>> from airsoc.telemetry.log import partition_dir
    >>> root = tempfile.mkdtemp()
    >>> for day in ("2026-03-01", "2026-03-02"):
    ...     folder = partition_dir(root, "label", "fraud", day)
    ...     folder.mkdir(parents=True)
    ...     _ = (folder / "part-1-00000001.parquet").write_bytes(b"")
    >>> [Path(f).parent.name for f in part_files(root, "label", system="fraud",
    ...                                          start=datetime(2026, 3, 2, tzinfo=timezone.utc))]
    ['date=2026-03-02']
    """
    folder = Path(root) / kind
    if system is not None:
        folder = folder / f"system={system}"
    first = ensure_utc(start).date().isoformat() if start is not None else None
    last = ensure_utc(end).date().isoformat() if end is not None else None
    found: list[str] = []

    def walk(path: str, in_day: bool) -> None:
        try:
            entries = list(os.scandir(path))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=True):
                if name.startswith("date="):
                    day = name[5:]
                    if (first is not None and day < first) or (last is not None and day > last):
                        continue
                    walk(entry.path, True)
                else:
                    walk(entry.path, in_day)
            elif name.startswith("part-") and name.endswith(".parquet"):
                found.append(entry.path)

    walk(str(folder), False)
    return sorted(found)


def query_events(root: str | Path, kind: str, sql: str, *, connection: Any = None) -> Any:
    """Run ``sql`` in DuckDB over the events of ``kind``, visible as the view ``events``."""
    import duckdb

    schema = _kind_schema(kind)
    con = connection or duckdb.connect()
    files = sorted((Path(root) / kind).rglob("part-*.parquet"))
    if files:
        listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        # By name: files written before a column was added to the kind's schema lack it.
        con.execute(
            "create or replace view events as select * from "
            f"read_parquet([{listing}], union_by_name = true)"
        )
    else:
        empty = schema.empty_table()
        con.register("events", empty)
    return con.execute(sql)


def read_frame(
    root: str | Path,
    kind: str,
    *,
    library: str = "pandas",
    system: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Any:
    """Return the events as a pandas (default) or polars DataFrame."""
    table = read_events(root, kind, system=system, start=start, end=end)
    if library == "pandas":
        return table.to_pandas()
    if library == "polars":
        try:
            import polars as pl
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise InputError("polars is not installed (pip install 'airsoc[polars]')") from None
        return pl.from_arrow(table)
    raise InputError(f"library {library!r} is not one of pandas, polars")


def export_events(
    root: str | Path,
    kind: str,
    path: str | Path,
    *,
    system: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Write the events to a ``.csv`` or ``.parquet`` file and return how many were written."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    target = Path(path)
    table = read_events(root, kind, system=system, start=start, end=end)
    if target.suffix == ".csv":
        pacsv.write_csv(table, target)
    elif target.suffix == ".parquet":
        pq.write_table(table, target)
    else:
        raise InputError(f"{target}: export to a .csv or .parquet file")
    return int(table.num_rows)
