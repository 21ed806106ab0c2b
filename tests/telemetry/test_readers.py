"""Reading the event log: time windows, pandas and polars frames, CSV and Parquet exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from airsoc.errors import InputError
from airsoc.telemetry import (
    EventLog,
    FeedbackEvent,
    export_events,
    query_events,
    read_events,
    read_frame,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    log = EventLog(tmp_path)
    for i in range(6):
        log.append(
            FeedbackEvent(
                request_id=f"r{i}",
                ts=T0 + timedelta(hours=i),
                system="bot",
                score=1.0 if i % 2 else -1.0,
                comment=f"c{i}",
            )
        )
    log.close()
    return tmp_path


def test_frames_and_exports_agree(root: Path, tmp_path: Path) -> None:
    frame = read_frame(root, "feedback", start=T0 + timedelta(hours=2))
    assert isinstance(frame, pd.DataFrame)
    assert frame["request_id"].tolist() == ["r2", "r3", "r4", "r5"]
    polars = read_frame(root, "feedback", library="polars", end=T0 + timedelta(hours=1))
    assert isinstance(polars, pl.DataFrame)
    assert polars["comment"].to_list() == ["c0"]
    assert export_events(root, "feedback", tmp_path / "out.csv") == 6
    assert pd.read_csv(tmp_path / "out.csv")["score"].sum() == 0
    assert export_events(root, "feedback", tmp_path / "out.parquet", system="bot") == 6
    assert query_events(root, "feedback", "select avg(score) from events").fetchone() == (0.0,)


def test_readers_name_what_is_wrong(root: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown event kind 'clicks'"):
        read_events(root, "clicks")
    with pytest.raises(InputError, match=r"export to a \.csv or \.parquet file"):
        export_events(root, "feedback", tmp_path / "out.json")
    with pytest.raises(InputError, match="not one of pandas, polars"):
        read_frame(root, "feedback", library="spark")
    assert read_events(root, "label").num_rows == 0
    assert read_events(root, "feedback", system="other").num_rows == 0


def test_turns_written_before_the_trace_columns_still_read(tmp_path: Path) -> None:
    """Files of the llm_turn schema before trace ids existed read with those columns null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airsoc.telemetry import EventLog, LLMTurnEvent, query_events, read_events
    from airsoc.telemetry.log import partition_dir
    from airsoc.telemetry.schemas import EVENT_SCHEMAS

    ts = datetime(2026, 1, 1, tzinfo=UTC)
    new_names = {"trace_id", "span_id", "session_id", "user_id", "document_ids", "content_captured"}
    old_schema = pa.schema([f for f in EVENT_SCHEMAS["llm_turn"] if f.name not in new_names])
    old = LLMTurnEvent(request_id="old", ts=ts, system="bot").to_record()
    folder = partition_dir(tmp_path, "llm_turn", "bot", "2026-01-01")
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table({n: [old[n]] for n in old_schema.names}, schema=old_schema),
        folder / "part-old-0.parquet",
    )
    log = EventLog(tmp_path)
    log.append(
        LLMTurnEvent(request_id="new", ts=ts, system="bot", trace_id="ab", content_captured=False)
    )
    log.close()
    rows = {r["request_id"]: r for r in read_events(tmp_path, "llm_turn").to_pylist()}
    assert rows["old"]["trace_id"] is None
    assert rows["old"]["content_captured"] is None
    assert (rows["new"]["trace_id"], rows["new"]["content_captured"]) == ("ab", False)
    sql = "select request_id, content_captured from events order by request_id"
    assert query_events(tmp_path, "llm_turn", sql).fetchall() == [("new", False), ("old", None)]


def test_read_events_reads_only_the_columns_asked_in_time_order(root: Path) -> None:
    whole = read_events(root, "feedback", system="bot", start=T0 + timedelta(hours=1))
    some = read_events(
        root, "feedback", system="bot", start=T0 + timedelta(hours=1), columns=["comment"]
    )
    assert some.column_names == ["ts", "comment"]
    assert some.to_pydict() == whole.select(["ts", "comment"]).to_pydict()
    empty = read_events(root, "feedback", system="nobody", columns=["comment"])
    assert empty.column_names == ["ts", "comment"]
    assert empty.num_rows == 0
