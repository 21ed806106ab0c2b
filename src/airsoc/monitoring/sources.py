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
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
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

__all__ = ["EventLogTelemetry"]

_META = [
    "ts", "request_id", "row_index", "version", "client_id", "prediction", "score", "latency_ms"
]  # fmt: skip


def _decode(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _decoded(texts: pd.Series) -> pd.Series:
    """Return JSON texts decoded, each distinct text once (outputs and labels repeat a few).

    >>> _decoded(pd.Series(['1', '0', '1', None, '"fraud"'])).tolist()
    [1, 0, 1, None, 'fraud']
    """
    cache = {t: _decode(t) for t in texts.dropna().unique()}
    # A missing text (None, NaN) is in no cache: None.
    return pd.Series([cache.get(t) for t in texts], index=texts.index, dtype=object)


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
            io.BytesIO("\n".join(texts).encode("utf-8")),
            parse_options=pa_json.ParseOptions(newlines_in_values=False),
        )
        frame: pd.DataFrame = table.to_pandas()
        frame.index = texts.index
        return frame
    except (pa.ArrowInvalid, ValueError):
        # Rows whose fields change type from row to row: decoded one by one.
        return pd.DataFrame([json.loads(t) for t in texts], index=texts.index)


class EventLogTelemetry:
    """A :class:`~airsoc.monitoring.monitors.TelemetrySource` over the event log and lineage."""

    def __init__(
        self, *, store: Store, root: str | Path | None = None, base_dir: str | Path = "."
    ) -> None:
        self.store = store
        self.root = Path(root) if root is not None else Path(store.settings.telemetry_dir)
        self.base_dir = Path(base_dir)
        self._validation_cache: dict[tuple[str, str], pd.DataFrame] = {}
        self._served_cache: dict[tuple[str, str], ServedModel] = {}

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
        if labels.empty:
            out["label"] = None
        else:
            latest = labels.drop_duplicates(["request_id", "row_index"], keep="last")
            keyed = pd.Series(
                _decoded(latest["label"]).to_numpy(),
                index=pd.MultiIndex.from_arrays(
                    [latest["request_id"], latest["row_index"].astype("int64")]
                ),
                dtype=object,
            )
            wanted = pd.MultiIndex.from_arrays(
                [out["request_id"], out["row_index"].astype("int64")]
            )
            found = keyed.reindex(wanted).to_numpy(dtype=object)
            out["label"] = pd.Series(
                [None if v is None or v is np.nan else v for v in found],
                index=out.index,
                dtype=object,
            )
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
            frames.append(
                self._read(monitor, batch.batch_id, batch.uri).assign(batch_id=batch.batch_id)
            )
        return pd.concat(frames, ignore_index=True)

    def _read(self, monitor: MonitorConfig, batch: str, uri: str) -> pd.DataFrame:
        path = Path(uri.removeprefix("file://"))
        if not path.is_absolute():
            path = self.base_dir / path
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
