"""Where monitors read their data in a deployment: the gateway's event log and the registry.

:class:`EventLogTelemetry` is the :class:`~airsoc.monitoring.monitors.TelemetrySource` over the
telemetry event log the gateway writes (``<data-dir>/telemetry``). A window is a pandas
DataFrame with one row per answered input row of the monitor's system: the input features as
columns, plus ``ts``, ``request_id``, ``row_index``, ``version``, ``role`` (``primary`` or
``canary``), ``client_id``, ``prediction``, ``score`` and ``label`` (the delayed label of that row
when one has arrived). Shadow answers and refusals are left out, so each input counts once.

A monitor's ``reference`` is one of:

- ``{model_version: production}`` (or ``known_good``, or a version name): the training batches
  the serving (last known-good, named) version was registered with, read from each batch's URI
  (Parquet or CSV), each row with its ``batch_id``;
- ``{validation: production}`` (or ``known_good``, or a version name): that version's own
  validation evidence (:class:`~airsoc.monitoring.evaluators.ValidationReference`), what
  ``release_regression`` and ``concept_drift`` compare with;
- ``{profile: PATH}``: a stored profile (``airsoc profile``);
- ``{range: {start, end}}`` (or ``{start, end}``): the system's telemetry in that time range.

A monitor with ``source: {spark: {path, time_column, system_column}}`` reads its window from a
Parquet dataset on Spark instead (extra ``spark``): the rows with ``start <= time < end`` (of
its system, when ``system_column`` is set) are profiled where they live, per partition, on the
reference's grid (:func:`airsoc.detection.spark.profile`), and the window is that
:class:`~airsoc.detection.profiles.DatasetProfile`; an empty window reads as no data. The drift
detector takes it as it takes rows, with the same verdicts.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.monitoring.config import MonitorConfig
    >>> from airsoc.telemetry import EventLog, LabelEvent, PredictionEvent
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> log = EventLog(store.settings.telemetry_dir)
    >>> log.append(PredictionEvent(request_id="r1", ts=clock.now(), system="fraud",
    ...                            version="v1", inputs={"amount": 9.5}, output=1, score=0.9))
    >>> log.append(LabelEvent(request_id="r1", ts=clock.now(), system="fraud", label=0))
    >>> log.close()
    >>> m = MonitorConfig(name="m", system="fraud", detector="data_drift", window="1h",
    ...                   every="1h")
    >>> frame = EventLogTelemetry(store=store).window(m, clock.now(), clock.now() + timedelta(1))
    >>> frame[["amount", "prediction", "score", "label"]].to_dict("records")
    [{'amount': 9.5, 'prediction': 1, 'score': 0.9, 'label': 0}]
    >>> store.close()
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.json as pa_json

from airsoc import lineage
from airsoc.clock import ensure_utc
from airsoc.detection import DatasetProfile, load_profile
from airsoc.errors import AirsocError, DetectionError
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.evaluators import ValidationReference
from airsoc.monitoring.monitors import ServedModel
from airsoc.monitoring.security import security_reference, security_window
from airsoc.serving import control
from airsoc.serving.adapters import load_adapter
from airsoc.store import Store
from airsoc.telemetry import read_events
from airsoc.telemetry.readers import part_files
from airsoc.telemetry.schemas import EVENT_SCHEMAS

__all__ = ["EventLogTelemetry"]

_META = [
    "ts", "request_id", "row_index", "version", "client_id", "prediction", "score", "latency_ms"
]  # fmt: skip
#: The logged columns a window keeps as they are, in the window's order.
_WINDOW_META = ["ts", "request_id", "row_index", "version", "client_id", "score", "latency_ms"]
#: Rows of each kind (predictions, labels) the telemetry source keeps read, by default.
CACHE_ROWS = 3_000_000
#: Assembled windows the telemetry source keeps (the monitors of a round share them).
WINDOWS_KEPT = 8


def _decode(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _decoded(texts: pd.Series) -> pd.Series:
    """Return JSON texts decoded, each distinct text once (outputs and labels repeat a few).

    >>> _decoded(pd.Series(['1', '0', '1', None, '"fraud"', '[0.2, 0.8]'])).tolist()
    [1, 0, 1, None, 'fraud', [0.2, 0.8]]
    """
    codes, uniques = pd.factorize(texts)
    # Each distinct text decoded once; a missing text (None, NaN) has code -1: None.
    decoded = np.empty(len(uniques) + 1, dtype=object)
    for i, text in enumerate(uniques):  # one by one: a decoded list is one value, not a row
        decoded[i] = _decode(text)
    decoded[-1] = None
    return pd.Series(decoded[codes], index=texts.index, dtype=object)


def _inputs(texts: pd.Series) -> pd.DataFrame:
    """Return the logged input rows (JSON objects) as a table, parsed at C speed.

    >>> rows = pd.Series(['{"amount": 9.5, "m": "fuel"}', '{"amount": 2.0, "m": "pub"}'])
    >>> _inputs(rows).to_dict("list")
    {'amount': [9.5, 2.0], 'm': ['fuel', 'pub']}
    """
    if texts.empty:
        return pd.DataFrame(index=texts.index)
    try:
        table = pa_json.read_json(
            # Joined from a list: iterating the column itself costs a Python call per row.
            io.BytesIO("\n".join(texts.tolist()).encode("utf-8")),
            parse_options=pa_json.ParseOptions(newlines_in_values=False),
        )
        frame: pd.DataFrame = table.to_pandas()
        frame.index = texts.index
        return frame
    except (pa.ArrowInvalid, ValueError):
        # Rows whose fields change type from row to row: decoded one by one.
        return pd.DataFrame([json.loads(t) for t in texts], index=texts.index)


def _micros_at(when: datetime) -> int:
    """Return ``when`` as microseconds since the epoch, as the log's ``ts`` column holds it.

    >>> from datetime import timezone
    >>> _micros_at(datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc))
    1000000
    """
    return int(pa.scalar(when, EVENT_SCHEMAS["prediction"].field("ts").type).value)


def _joined(labels: pd.DataFrame, out: pd.DataFrame) -> pd.Series:
    """Return, for each row of ``out``, the last of ``labels`` (in time order) for its request
    and row, decoded (None when it has none).

    >>> labels = pd.DataFrame({"request_id": ["r1", "r1"], "row_index": [0, 0],
    ...                        "label": ["0", "1"]})
    >>> out = pd.DataFrame({"request_id": ["r1", "r2"], "row_index": [0, 0]})
    >>> _joined(labels, out).tolist()
    [1, None]
    >>> labels = pd.DataFrame({"request_id": ["r1", "r2", "r3", "r3"], "row_index": [0, 0, 1, 0],
    ...                        "label": ["[0, 1]", None, "[0, 1]", "null"]})
    >>> out = pd.DataFrame({"request_id": ["r3", "r2", "r1", "r3", "r4"],
    ...                     "row_index": [0, 0, 0, 1, 0]})
    >>> _joined(labels, out).tolist()
    [None, None, [0, 1], [0, 1], None]
    """
    # One integer key per (request, row): the requests numbered together, the row beside.
    n = len(out)
    codes, _ = pd.factorize(pd.concat([out["request_id"], labels["request_id"]], ignore_index=True))
    rows = np.concatenate(
        [out["row_index"].to_numpy(dtype=np.int64), labels["row_index"].to_numpy(dtype=np.int64)]
    )
    keys = (codes.astype(np.int64) << 32) + (rows + (1 << 31))
    wanted, given = keys[:n], keys[n:]
    last = ~pd.Series(given).duplicated(keep="last").to_numpy()  # the latest label of each row
    # Each distinct label text decoded once; a row takes its label's code (-1: no label, or a
    # missing text), and the codes pick from the decoded values with None at position -1.
    codes, uniques = pd.factorize(labels["label"][last])
    values = np.empty(len(uniques) + 1, dtype=object)
    for i, text in enumerate(uniques):  # one by one: a decoded list is one value
        value = _decode(text)
        values[i] = None if value is None or value is np.nan else value
    values[-1] = None
    at = pd.Index(given[last]).get_indexer(wanted)
    picked = np.where(at >= 0, codes[at], -1)
    return pd.Series(values[picked], index=out.index, dtype=object)


def _reparsed(path: str, positions: np.ndarray) -> pd.DataFrame:
    """Return the inputs of the rows at ``positions`` of a prediction file, parsed together."""
    table = ds.dataset([path], schema=EVENT_SCHEMAS["prediction"], format="parquet").to_table(
        columns=["inputs"]
    )
    texts = table.column("inputs").take(pa.array(positions, pa.int64())).to_pandas()
    return _inputs(texts.reset_index(drop=True)).reset_index(drop=True)


class _PredictionPart:
    """One prediction file of the event log, read once: the answered rows (primary and canary,
    status ok) with their decoded outputs and parsed inputs, and every row's time."""

    __slots__ = ("all_ts", "features", "kept", "meta", "rows", "stamp", "ts")

    def __init__(self, path: str, stamp: tuple[int, int]) -> None:
        schema = EVENT_SCHEMAS["prediction"]
        table = ds.dataset([path], schema=schema, format="parquet").to_table()
        frame = table.to_pandas()
        self.stamp = stamp
        self.all_ts = _micros(table.column("ts"))
        keep = (frame["role"].isin(["primary", "canary"]) & (frame["status"] == "ok")).to_numpy()
        kept = frame[keep]
        #: Positions in the file of the answered rows (to read their inputs again).
        self.kept = np.flatnonzero(keep)
        self.ts = self.all_ts[self.kept]
        meta = kept[_WINDOW_META].copy()
        meta["role"] = kept["role"]
        meta["prediction"] = _decoded(kept["output"])
        self.meta = meta.reset_index(drop=True)
        self.features = _inputs(kept["inputs"]).reset_index(drop=True)
        self.rows = len(frame)


class _LabelPart:
    """One label file of the event log, read once: its rows and the requests they label."""

    __slots__ = ("frame", "requests", "rows", "stamp", "ts")

    def __init__(self, path: str, stamp: tuple[int, int]) -> None:
        schema = EVENT_SCHEMAS["label"]
        table = ds.dataset([path], schema=schema, format="parquet").to_table(
            columns=["ts", "request_id", "row_index", "label"]
        )
        self.stamp = stamp
        self.ts = _micros(table.column("ts"))
        self.frame = table.to_pandas()
        self.requests = frozenset(self.frame["request_id"].unique().tolist())
        self.rows = len(self.frame)


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    """Return a timestamp column as int64 microseconds since the epoch (nulls as the smallest)."""
    values = column.cast(pa.int64()).fill_null(np.iinfo(np.int64).min)
    return np.asarray(values.to_numpy(), dtype=np.int64)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns)


class _PartCache:
    """The event log's prediction and label files of each system, each read once while it is
    unchanged, and the requests each label file labels.

    A file of the log is written under a temporary name and renamed when complete, and never
    rewritten; still, each file is identified by its path, size and modification time, so a file
    that changes or goes away is read again or forgotten. The least recently used files are let
    go when more than ``max_rows`` rows of either kind are held.
    """

    def __init__(self, root: Path, *, max_rows: int) -> None:
        self.root = root
        self.max_rows = max_rows
        self.lock = threading.RLock()
        self.predictions: OrderedDict[str, _PredictionPart] = OrderedDict()
        self.labels: OrderedDict[str, _LabelPart] = OrderedDict()
        #: Per system: request id -> label files holding labels of it.
        self.labelled: dict[str, dict[str, set[str]]] = {}

    def prediction_parts(
        self, system: str, start: datetime, end: datetime
    ) -> list[tuple[str, _PredictionPart]]:
        files = part_files(self.root, "prediction", system=system, start=start, end=end)
        out = []
        for path in files:
            stamp = _stamp(path)
            if stamp is None:
                continue
            part = self.predictions.get(path)
            if part is None or part.stamp != stamp:
                part = _PredictionPart(path, stamp)
                self.predictions[path] = part
            self.predictions.move_to_end(path)
            out.append((path, part))
        return out

    def label_parts(self, system: str, start: datetime) -> dict[str, _LabelPart]:
        files = part_files(self.root, "label", system=system, start=start)
        index = self.labelled.setdefault(system, {})
        out = {}
        for path in files:
            stamp = _stamp(path)
            if stamp is None:
                continue
            part = self.labels.get(path)
            if part is None or part.stamp != stamp:
                if part is not None:
                    self._unindex(path, part)
                part = _LabelPart(path, stamp)
                self.labels[path] = part
                for request in part.requests:
                    index.setdefault(request, set()).add(path)
            self.labels.move_to_end(path)
            out[path] = part
        return out

    def label_files(self, system: str, requests: Iterable[str]) -> set[str]:
        index = self.labelled.get(system, {})
        found: set[str] = set()
        for request in requests:
            found |= index.get(request, set())
        return found

    def _unindex(self, path: str, part: _LabelPart) -> None:
        for index in self.labelled.values():
            for request in part.requests:
                paths = index.get(request)
                if paths is not None:
                    paths.discard(path)
                    if not paths:
                        del index[request]

    def evict(self, *, used: set[str]) -> None:
        """Let the least recently used files go, past the bound, but those just ``used``."""
        self._evict(self.predictions, keep=used)
        self._evict(self.labels, keep=used)

    def _evict(self, parts: OrderedDict[str, Any], *, keep: set[str]) -> None:
        held = sum(p.rows for p in parts.values())
        for path in list(parts):
            if held <= self.max_rows:
                break
            if path in keep:
                continue
            part = parts.pop(path)
            held -= part.rows
            if isinstance(part, _LabelPart):
                self._unindex(path, part)


class EventLogTelemetry:
    """A :class:`~airsoc.monitoring.monitors.TelemetrySource` over the event log and lineage."""

    def __init__(
        self,
        *,
        store: Store,
        root: str | Path | None = None,
        base_dir: str | Path = ".",
        cache_rows: int = CACHE_ROWS,
    ) -> None:
        self.store = store
        self.root = Path(root) if root is not None else Path(store.settings.telemetry_dir)
        self.base_dir = Path(base_dir)
        self._validation_cache: dict[tuple[str, str], pd.DataFrame] = {}
        self._served_cache: dict[tuple[str, str], ServedModel] = {}
        # Each file of the log is read once (hourly monitors otherwise read every row of their
        # window again each run), and each training batch once per version of its file.
        self._parts = _PartCache(self.root, max_rows=cache_rows)
        self._batches: dict[tuple[str, str, int, int], pd.DataFrame] = {}
        self._references: dict[tuple[str, str], tuple[list[pd.DataFrame], pd.DataFrame]] = {}
        self._windows: OrderedDict[tuple[str, datetime, datetime], tuple[Any, pd.DataFrame]] = (
            OrderedDict()
        )

    # ------------------------------------------------------------------ windows

    def window(self, monitor: MonitorConfig, start: datetime, end: datetime) -> Any:
        """Return the system's answered rows in ``[start, end)`` with their delayed labels
        (LLM turns or new data batches for the security monitors that read those; a
        :class:`~airsoc.detection.profiles.DatasetProfile` for a monitor with a Spark source)."""
        if monitor.source is not None:
            return self._spark_window(monitor, start, end)
        special = security_window(
            store=self.store,
            root=self.root,
            monitor=monitor,
            start=start,
            end=end,
            base_dir=self.base_dir,
        )
        return special if special is not None else self._telemetry(monitor.system, start, end)

    def _spark_window(
        self, monitor: MonitorConfig, start: datetime, end: datetime
    ) -> pd.DataFrame | DatasetProfile:
        """Return the window's profile computed on Spark (an empty frame when no row is in it)."""
        from airsoc.detection import spark as on_spark
        from airsoc.detection.profiles import profile as profile_local

        assert monitor.source is not None
        config = monitor.source.spark
        try:
            session = on_spark.spark_session()
            frame = on_spark.read_parquet(session, self._location(config.path))
            if config.time_column not in frame.columns:
                raise DetectionError(
                    f"monitor {monitor.name!r}: source.spark: no column {config.time_column!r} "
                    f"in {config.path} (columns: {', '.join(frame.columns)})"
                )
            from pyspark.sql import functions as F  # noqa: N812 - the usual Spark spelling

            when = F.col(config.time_column)
            rows = frame.where((when >= F.lit(start)) & (when < F.lit(end)))
            if config.system_column is not None:
                rows = rows.where(F.col(config.system_column) == F.lit(monitor.system))
            reference = self.reference(monitor)
            if not isinstance(reference, DatasetProfile):
                reference = profile_local(reference)
            wanted = monitor.params.get("columns") or [
                c for c in reference.names if c in rows.columns
            ]
            skip = {config.time_column, config.system_column}
            columns = [str(c) for c in wanted if c not in skip]
            window = on_spark.profile(
                rows, grid_from=reference, columns=columns, source=config.path
            )
        except DetectionError:
            raise
        except AirsocError as exc:
            raise DetectionError(f"monitor {monitor.name!r}: source.spark: {exc.message}") from None
        if window.n_rows == 0:
            return pd.DataFrame()
        return window

    def _location(self, path: str) -> str:
        if "://" in path or Path(path).is_absolute():
            return path
        return str(self.base_dir / path)

    def _telemetry(self, system: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Return the window's answered rows with their labels, from the files already read
        (each new file of the log is read once)."""
        with self._parts.lock:
            # The monitors of a system that run together mostly judge the same window: it is
            # assembled once while no file of it changed (and copied out: pandas copies on
            # write, so a monitor that changes its copy changes nothing else).
            files = (
                tuple(
                    (p, part.stamp) for p, part in self._parts.prediction_parts(system, start, end)
                ),
                tuple(
                    (p, part.stamp) for p, part in self._parts.label_parts(system, start).items()
                ),
            )
            key = (system, start, end)
            known = self._windows.get(key)
            if known is not None and known[0] == files:
                self._windows.move_to_end(key)
                return known[1].copy(deep=False)
            used: set[str] = set()
            try:
                window = self._cached_window(system, start, end, used)
            finally:
                self._parts.evict(used=used)
            if window is None:
                window = self._read_window(system, start, end)
            self._windows[key] = (files, window)
            while len(self._windows) > WINDOWS_KEPT:
                self._windows.popitem(last=False)
        return window.copy(deep=False)

    def _cached_window(
        self, system: str, start: datetime, end: datetime, used: set[str]
    ) -> pd.DataFrame | None:
        """Assemble the window from the files' rows read before; None when the window needs the
        whole-window read (no answered row, or inputs whose types differ from file to file),
        which gives the same frame :meth:`_read_window` gives."""
        low, high = _micros_at(start), _micros_at(end)
        metas: list[pd.DataFrame] = []
        features: list[pd.DataFrame] = []
        times: list[np.ndarray] = []
        seen = False
        for path, part in self._parts.prediction_parts(system, start, end):
            if not ((part.all_ts >= low) & (part.all_ts < high)).any():
                continue
            seen = True
            used.add(path)
            inside = (part.ts >= low) & (part.ts < high)
            count = int(inside.sum())
            if count == 0:
                continue
            if count == len(part.ts):
                metas.append(part.meta)
                features.append(part.features)
                times.append(part.ts)
            else:  # a file across the window's edge: its inputs parsed as the window's
                metas.append(part.meta[inside])
                features.append(_reparsed(path, part.kept[inside]))
                times.append(part.ts[inside])
        if not seen:
            return pd.DataFrame(columns=[*_META, "label"])
        if not metas:
            return None
        kinds = dict(features[0].dtypes)
        if any(dict(f.dtypes) != kinds for f in features[1:]):
            return None  # parsed apart, the files typed a feature differently
        rows = sum(len(m) for m in metas)
        out = pd.concat(metas, ignore_index=True)
        inputs = (
            pd.concat(features, ignore_index=True)
            if kinds
            else pd.DataFrame(index=pd.RangeIndex(rows))
        )
        stamps = np.concatenate(times)
        if len(stamps) > 1 and bool((np.diff(stamps) < 0).any()):
            # Files in path order, rows in time order (stable: ties keep the file order).
            order = np.argsort(stamps, kind="stable")
            out = out.take(order).reset_index(drop=True)
            inputs = inputs.take(order).reset_index(drop=True)
        out["label"] = self._labels(system, start, out, used)
        drop = [c for c in inputs.columns if c in out.columns]
        window: pd.DataFrame = pd.concat([inputs.drop(columns=drop), out], axis=1)
        return window

    def _labels(self, system: str, start: datetime, out: pd.DataFrame, used: set[str]) -> pd.Series:
        """Return the latest label of each of the window's rows (None when none came), from
        the label files that hold labels of the window's requests."""
        low = _micros_at(start)
        requests = out["request_id"].unique().tolist()
        parts = self._parts.label_parts(system, start)
        found = sorted(p for p in self._parts.label_files(system, requests) if p in parts)
        frames: list[pd.DataFrame] = []
        times: list[np.ndarray] = []
        used.update(found)
        for path in found:
            part = parts[path]
            rows = (part.ts >= low) & part.frame["request_id"].isin(requests).to_numpy()
            if rows.any():
                frames.append(part.frame[rows])
                times.append(part.ts[rows])
        if not frames:
            return pd.Series([None] * len(out), index=out.index, dtype=object)
        labels = pd.concat(frames, ignore_index=True)
        stamps = np.concatenate(times)
        if len(stamps) > 1 and bool((np.diff(stamps) < 0).any()):
            labels = labels.take(np.argsort(stamps, kind="stable"))
        return _joined(labels, out)

    def _read_window(self, system: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Return the window read whole from the log (what :meth:`_cached_window` assembles)."""
        events = read_events(self.root, "prediction", system=system, start=start, end=end)
        frame = events.to_pandas()
        if frame.empty:
            return pd.DataFrame(columns=[*_META, "label"])
        # A canary answer is the answer its input got; a shadow answer is a copy nobody saw.
        frame = frame[frame["role"].isin(["primary", "canary"]) & (frame["status"] == "ok")]
        inputs = _inputs(frame["inputs"])
        out = frame[
            ["ts", "request_id", "row_index", "version", "client_id", "score", "latency_ms"]
        ].copy()
        out["role"] = frame["role"]
        out["prediction"] = _decoded(frame["output"])
        # Only the labels of the window's requests: posted after their predictions, so none
        # older than the window (a long run does not reread its history).
        labels = read_events(
            self.root,
            "label",
            system=system,
            start=start,
            request_ids=out["request_id"].unique().tolist(),
        ).to_pandas()
        out["label"] = None if labels.empty else _joined(labels, out)
        features = inputs.drop(columns=[c for c in inputs.columns if c in out.columns])
        window: pd.DataFrame = pd.concat([features, out], axis=1).reset_index(drop=True)
        return window

    # ------------------------------------------------------------------ references

    def reference(self, monitor: MonitorConfig) -> Any:
        """Return the monitor's reference: training data, validation evidence, a stored profile or
        a telemetry range (None when the monitor names none)."""
        ref = monitor.reference
        if (settings := security_reference(monitor, base_dir=self.base_dir)) is not None:
            return settings
        if not ref:
            return None  # a threshold needs none; a detector that does says so itself
        span = ref.get("range", ref if "start" in ref and "end" in ref else None)
        try:
            if "validation" in ref:
                return self._validation(monitor, str(ref["validation"]))
            if "model_version" in ref:
                return self._training_data(monitor, str(ref["model_version"]))
            if "profile" in ref:
                path = Path(str(ref["profile"]))
                return load_profile(path if path.is_absolute() else self.base_dir / path)
            if isinstance(span, dict) and "start" in span and "end" in span:
                start = ensure_utc(datetime.fromisoformat(str(span["start"])))
                end = ensure_utc(datetime.fromisoformat(str(span["end"])))
                return self._telemetry(monitor.system, start, end)
        except DetectionError:
            raise
        except AirsocError as exc:
            raise DetectionError(f"monitor {monitor.name!r}: reference: {exc.message}") from None
        except ValueError as exc:
            raise DetectionError(f"monitor {monitor.name!r}: reference: {exc}") from None
        raise DetectionError(
            f"monitor {monitor.name!r}: reference must be {{model_version: production}}, "
            f"{{validation: production}}, {{profile: PATH}} or {{range: {{start, end}}}}, "
            f"got {ref!r}"
        )

    # ------------------------------------------------------------------ the served model

    def served_model(self, monitor: MonitorConfig) -> ServedModel:
        """Return the model the monitor's system serves now (its primary version), loaded.

        A local scikit-learn model is loaded through its adapter after its sha256 is checked,
        once per (system, version). An HTTP, chat or MLflow upstream, or a version that cannot be
        loaded, comes back without an adapter and with the reason (the monitor then falls back
        to a surrogate).
        """
        try:
            with self.store.read() as s:
                version = self._version(s, monitor, "production")
                model = lineage.get_model_version(s, system=monitor.system, version=version)
        except AirsocError as exc:
            return ServedModel(system=monitor.system, version=None, reason=exc.message)
        key = (monitor.system, version)
        if (cached := self._served_cache.get(key)) is not None:
            return cached
        if model.framework not in ("sklearn", "joblib"):
            return ServedModel(
                system=monitor.system,
                version=version,
                reason=f"{version} is a {model.framework!r} model, no local one to call",
            )
        try:
            adapter = load_adapter(model)
        except AirsocError as exc:
            return ServedModel(
                system=monitor.system, version=version, reason=f"cannot load: {exc.message}"
            )
        except (OSError, ValueError, ImportError) as exc:
            return ServedModel(
                system=monitor.system,
                version=version,
                reason=f"cannot load: {type(exc).__name__}: {exc}",
            )
        served = ServedModel(system=monitor.system, version=version, adapter=adapter)
        self._served_cache[key] = served
        return served

    def _version(self, s: Any, monitor: MonitorConfig, version: str) -> str:
        """Resolve ``production`` (the primary version now) and ``known_good`` (the last
        version an operator marked known-good)."""
        if version == "production":
            serving = control.get_route(s, system=monitor.system).primary_version
            if serving is None:
                raise DetectionError(f"monitor {monitor.name!r}: {monitor.system} serves none")
            return serving
        if version == "known_good":
            return lineage.last_known_good(s, system=monitor.system).version
        return version

    def _validation(self, monitor: MonitorConfig, version: str) -> ValidationReference:
        with self.store.read() as s:
            version = self._version(s, monitor, version)
            model = lineage.get_model_version(s, system=monitor.system, version=version)
        record = lineage.validation_record(model.metrics)
        if record is None:
            return ValidationReference(system=monitor.system, version=version)
        key = (record["uri"], record["sha256"])
        table = self._validation_cache.get(key)
        if table is None:
            table = lineage.read_validation(record)
            self._validation_cache[key] = table
        return ValidationReference(
            system=monitor.system,
            version=version,
            table=table,
            metrics=dict(record.get("metrics", {})),
        )

    def _training_data(self, monitor: MonitorConfig, version: str) -> pd.DataFrame:
        with self.store.read() as s:
            version = self._version(s, monitor, version)
            batches = lineage.batches_for_model(s, system=monitor.system, version=version)
        if not batches:
            raise DetectionError(
                f"monitor {monitor.name!r}: {monitor.system} {version} has no registered "
                "training batches to use as the reference"
            )
        frames = []
        for batch in batches:
            if not batch.uri:
                raise DetectionError(
                    f"monitor {monitor.name!r}: training batch {batch.batch_id} has no data URI"
                )
            frames.append(self._batch(monitor, batch.batch_id, batch.uri))
        # Monitors of one version read the same batches every round: joined once (a copy
        # out, as pandas copies on write).
        key = (monitor.system, version)
        known = self._references.get(key)
        if (
            known is None
            or len(known[0]) != len(frames)
            or any(a is not b for a, b in zip(known[0], frames, strict=True))
        ):
            known = self._references[key] = (frames, pd.concat(frames, ignore_index=True))
        return known[1].copy(deep=False)

    def _batch(self, monitor: MonitorConfig, batch: str, uri: str) -> pd.DataFrame:
        """Return a training batch's rows with its ``batch_id``, read once per version of its
        file (a file rewritten in place is read again)."""
        path = Path(uri.removeprefix("file://"))
        if not path.is_absolute():
            path = self.base_dir / path
        stamp = _stamp(str(path))
        key = (batch, str(path), *stamp) if stamp is not None else None
        if key is not None and (cached := self._batches.get(key)) is not None:
            return cached
        frame = self._read(monitor, batch, path, uri).assign(batch_id=batch)
        if key is not None:
            # One version of each batch's file is kept.
            for old in [k for k in self._batches if k[:2] == key[:2]]:
                del self._batches[old]
            self._batches[key] = frame
        return frame

    def _read(self, monitor: MonitorConfig, batch: str, path: Path, uri: str) -> pd.DataFrame:
        try:
            if path.suffix == ".parquet":
                return pd.read_parquet(path)
            if path.suffix == ".csv":
                return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise DetectionError(
                f"monitor {monitor.name!r}: batch {batch}: cannot read {path}: {exc}"
            ) from None
        raise DetectionError(
            f"monitor {monitor.name!r}: batch {batch}: {uri} is not a .parquet or .csv file"
        )
