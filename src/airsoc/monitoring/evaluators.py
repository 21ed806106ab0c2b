"""Monitor detectors over the detection engine: drift, outputs, labels, quality and fairness.

One evaluator per detector name (the runtime registers them, see :mod:`airsoc.monitoring.builtin`):

- ``data_drift``: :func:`~airsoc.detection.check_drift` of the input features against the
  reference (data or a stored profile);
- ``prediction_drift``: :func:`~airsoc.detection.check_outputs` on the ``score`` column (else
  ``prediction``; ``params.output`` picks one) of the window and of the reference;
- ``concept_drift``: :func:`~airsoc.detection.check_performance` on the rows whose delayed
  ``label`` arrived, against the reference's labels and predictions (a labelled telemetry
  range, or a version's validation evidence: ``reference: {validation: known_good}``);
- ``release_regression``: :func:`~airsoc.detection.release.check_release` of the rows the
  serving version answered (scores, and recall/precision on delayed labels) against that
  version's own validation evidence (``reference: {validation: production}``), never against
  its predecessor; a version registered without evidence is ``skipped`` (no validation evidence);
  where a canary runs, its recall and precision are also compared with the primary's;
- ``pipeline_fault``: :func:`~airsoc.detection.check_quality` of the features, then
  :func:`~airsoc.detection.classify_failure_mode`;
- ``fairness_regression``: :func:`~airsoc.detection.check_fairness` on the window, grouped by
  the column ``params.group``.

Windows are tables (a pandas DataFrame or a list of records): one row per answered input row,
the input features as columns plus the telemetry fields in :data:`TELEMETRY_FIELDS`. Options come
from the monitor: ``thresholds`` (``p_value``/``alpha``, ``min_effect``, ``drift_share``,
``min_drop``, ``min_change``, ``ratio``, ``expected_rows``) and ``params`` (``columns``,
``group``, ``positive``, ``label``, ``output``). Alarms carry the detector's failure mode and,
when the window has a ``version`` column, the model version that answered most of it
(``evidence["model_version"]``, which the monitor's alert carries as its ``model_version``).

Example:
    >>> import numpy as np
    >>> from datetime import datetime, timezone
    >>> from airsoc.monitoring.monitors import WindowData
    >>> from airsoc.monitoring.config import MonitorConfig
    >>> rng = np.random.default_rng(0)
    >>> m = MonitorConfig(name="drift", system="fraud", detector="data_drift", window="1h",
    ...                   every="1h")
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> ref = [{"amount": float(x)} for x in rng.normal(size=2000)]
    >>> cur = [{"amount": float(x), "score": 0.5} for x in rng.normal(1.0, size=2000)]
    >>> verdicts = data_drift(m, WindowData(start=t, end=t, current=cur, reference=ref))
    >>> [(v.subject, v.decision, v.failure_mode) for v in verdicts if v.is_alarm][:1]
    [('amount', 'drift', 'data_drift')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from airsoc.detection import (
    DatasetProfile,
    check_drift,
    check_fairness,
    check_outputs,
    check_performance,
    check_quality,
    classify_failure_mode,
)
from airsoc.detection.llm.embeddings import MiniLMEmbedder, minilm_available
from airsoc.detection.release import check_release
from airsoc.detection.text_drift import check_text_drift
from airsoc.detection.verdict import Verdict
from airsoc.errors import AirsocError, DetectionError
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import WindowData

__all__ = [
    "TELEMETRY_FIELDS",
    "ValidationReference",
    "concept_drift",
    "data_drift",
    "fairness_regression",
    "pipeline_fault",
    "prediction_drift",
    "release_regression",
    "text_drift",
]

#: Columns of a telemetry window that are not input features.
TELEMETRY_FIELDS = frozenset(
    {
        "ts",
        "request_id",
        "system",
        "version",
        "mode",
        "role",
        "client_id",
        "row_index",
        "prediction",
        "output",
        "score",
        "latency_ms",
        "status",
        "label",
    }
)


@dataclass(frozen=True)
class ValidationReference:
    """A model version's own validation evidence, as a monitor's reference.

    ``table`` has ``score``, ``prediction`` and (when labelled) ``label`` columns; it is None
    when the version was registered without validation evidence. ``metrics`` are the values
    measured on it at registration (``recall``, ``precision``, ...).
    """

    system: str
    version: str
    table: pd.DataFrame | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)


def _frame(data: Any, what: str, monitor: MonitorConfig) -> pd.DataFrame:
    if isinstance(data, ValidationReference):
        if data.table is None:
            raise DetectionError(
                f"monitor {monitor.name!r}: {data.system} {data.version} has no validation "
                "evidence to compare with (airsoc registry register-model --validation FILE)"
            )
        return data.table
    if isinstance(data, pd.DataFrame):
        return data
    if data is None:
        return pd.DataFrame()
    try:
        return pd.DataFrame(list(data))
    except (TypeError, ValueError) as exc:
        raise DetectionError(
            f"monitor {monitor.name!r}: the {what} is not a table: {exc}"
        ) from None


def _features(frame: pd.DataFrame, monitor: MonitorConfig) -> list[str]:
    wanted = monitor.params.get("columns")
    if wanted:
        missing = [c for c in wanted if c not in frame.columns]
        if missing and len(frame):
            raise DetectionError(
                f"monitor {monitor.name!r}: params.columns {missing} are not in the window"
            )
        return [str(c) for c in wanted]
    return [str(c) for c in frame.columns if c not in TELEMETRY_FIELDS]


def _empty(monitor: MonitorConfig, detector: str) -> list[Verdict]:
    return [
        Verdict(
            detector=detector,
            method="window",
            decision="warn",
            n_current=0,
            reason=f"no telemetry for {monitor.system} in the window; nothing to judge",
        )
    ]


def _tag(verdicts: Sequence[Verdict], current: pd.DataFrame, failure_mode: str) -> list[Verdict]:
    """Give alarms the detector's failure mode and the model version that answered the window."""
    version = None
    if "version" in current.columns and current["version"].notna().any():
        version = str(current["version"].mode().iloc[0])
    out = []
    for v in verdicts:
        if v.is_alarm:
            update: dict[str, Any] = {}
            if v.failure_mode is None:
                update["failure_mode"] = failure_mode
            if version is not None:
                update["evidence"] = {**v.evidence, "model_version": version}
            v = v.model_copy(update=update)
        out.append(v)
    return out


def _call(monitor: MonitorConfig, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except DetectionError:
        raise
    except AirsocError as exc:
        raise DetectionError(f"monitor {monitor.name!r}: {exc.message}") from None


def _reference_features(
    monitor: MonitorConfig, reference: Any, columns: list[str]
) -> DatasetProfile | pd.DataFrame:
    if isinstance(reference, DatasetProfile):
        return reference
    ref = _frame(reference, "reference", monitor)
    if ref.empty:
        raise DetectionError(f"monitor {monitor.name!r}: the reference has no rows")
    missing = [c for c in columns if c not in ref.columns]
    if missing:
        raise DetectionError(
            f"monitor {monitor.name!r}: features {missing} are not in the reference"
        )
    selected: pd.DataFrame = ref[columns]
    return selected


def data_drift(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return the per-feature and dataset drift verdicts of the window against the reference.

    The window is rows, or a profile of them computed where they live (a Spark source).
    """
    if isinstance(window.current, DatasetProfile):
        return _profile_drift(monitor, window.current, window.reference)
    current = _frame(window.current, "window", monitor)
    if current.empty:
        return _empty(monitor, "data_drift")
    columns = _features(current, monitor)
    reference = _reference_features(monitor, window.reference, columns)
    th = monitor.thresholds
    report = _call(
        monitor,
        check_drift,
        reference,
        current[columns],
        columns=columns,
        alpha=th.get("p_value", th.get("alpha", 0.05)),
        min_effect=th.get("min_effect", 0.05),
        drift_share=th.get("drift_share", 0.0),
    )
    verdicts = [*report.columns, report.dataset]
    if report.diagnosis is not None:
        verdicts.append(report.diagnosis)
    return _tag(verdicts, current, "data_drift")


def _profile_drift(
    monitor: MonitorConfig, current: DatasetProfile, reference: Any
) -> list[Verdict]:
    columns = [str(c) for c in monitor.params.get("columns") or current.names]
    columns = [c for c in columns if c not in TELEMETRY_FIELDS]
    th = monitor.thresholds
    report = _call(
        monitor,
        check_drift,
        _reference_features(monitor, reference, columns),
        current,
        columns=columns,
        alpha=th.get("p_value", th.get("alpha", 0.05)),
        min_effect=th.get("min_effect", 0.05),
        drift_share=th.get("drift_share", 0.0),
    )
    verdicts = [*report.columns, report.dataset]
    if report.diagnosis is not None:
        verdicts.append(report.diagnosis)
    return _tag(verdicts, pd.DataFrame(), "data_drift")


def _outputs(monitor: MonitorConfig, frame: pd.DataFrame, what: str) -> Any:
    name = monitor.params.get("output") or (
        "score" if "score" in frame.columns and frame["score"].notna().any() else "prediction"
    )
    if name not in frame.columns:
        raise DetectionError(f"monitor {monitor.name!r}: the {what} has no {name!r} column")
    values = frame[name].dropna()
    return values.to_numpy()


def prediction_drift(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return output-monitor verdicts: score/prediction drift, confidence, homogeneity."""
    current = _frame(window.current, "window", monitor)
    if current.empty:
        return _empty(monitor, "prediction_drift")
    reference = _frame(window.reference, "reference", monitor)
    th = monitor.thresholds
    report = _call(
        monitor,
        check_outputs,
        _outputs(monitor, reference, "reference"),
        _outputs(monitor, current, "window"),
        min_change=th.get("min_change", 0.05),
        alpha=th.get("p_value", th.get("alpha", 0.05)),
    )
    return _tag(report.verdicts, current, "prediction_drift")


def _labelled(monitor: MonitorConfig, frame: pd.DataFrame, what: str) -> pd.DataFrame:
    label = monitor.params.get("label", "label")
    if label not in frame.columns or "prediction" not in frame.columns:
        raise DetectionError(
            f"monitor {monitor.name!r}: the {what} needs {label!r} and 'prediction' columns "
            "(delayed labels joined to predictions; use a time-range reference)"
        )
    labelled: pd.DataFrame = frame[frame[label].notna()]
    return labelled


def concept_drift(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return one verdict per metric on delayed labels: a significant drop is concept drift."""
    current = _frame(window.current, "window", monitor)
    if current.empty:
        return _empty(monitor, "concept_drift")
    label = monitor.params.get("label", "label")
    cur = _labelled(monitor, current, "window")
    if cur.empty:
        return _empty(monitor, "concept_drift")
    ref = _labelled(monitor, _frame(window.reference, "reference", monitor), "reference")
    verdicts = _call(
        monitor,
        check_performance,
        ref[label].to_numpy(),
        ref["prediction"].to_numpy(),
        cur[label].to_numpy(),
        cur["prediction"].to_numpy(),
        positive=monitor.params.get("positive"),
        min_drop=monitor.thresholds.get("min_drop", 0.05),
        alpha=monitor.thresholds.get("p_value", monitor.thresholds.get("alpha", 0.05)),
    )
    return _tag(verdicts, current, "concept_drift")


#: The metrics a release is held to on delayed labels: (successes, trials) from the confusion.
_RELEASE_METRICS = ("recall", "precision")


def _live_metrics(monitor: MonitorConfig, rows: pd.DataFrame) -> dict[str, tuple[int, int]]:
    label = monitor.params.get("label", "label")
    if label not in rows.columns or "prediction" not in rows.columns:
        return {}
    labelled = rows[rows[label].notna() & rows["prediction"].notna()]
    if labelled.empty:
        return {}
    positive = monitor.params.get("positive", 1)
    actual = labelled[label].to_numpy() == positive
    predicted = labelled["prediction"].to_numpy() == positive
    tp = int((actual & predicted).sum())
    out = {}
    if actual.any():
        out["recall"] = (tp, int(actual.sum()))
    if predicted.any():
        out["precision"] = (tp, int(predicted.sum()))
    return out


def release_regression(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return the release verdict of the serving version against its own validation evidence.

    Only the rows that version answered count (a window straddling a promotion holds the
    predecessor's too). Options: ``thresholds.alpha`` (0.01), ``min_effect`` (0.1, on the KS
    statistic of the scores), ``tolerance`` (0.05 below each validated metric), ``min_live``
    (100 scores); ``params.label``, ``params.positive``.
    """
    reference = window.reference
    if not isinstance(reference, ValidationReference):
        raise DetectionError(
            f"monitor {monitor.name!r}: release_regression needs reference: "
            "{validation: production} (the serving version's own validation evidence)"
        )
    current = _frame(window.current, "window", monitor)
    if current.empty:
        return _empty(monitor, "release_regression")
    rows = current
    if "version" in current.columns:
        rows = current[current["version"].astype(str) == reference.version]
    live = pd.to_numeric(rows.get("score", pd.Series(dtype=float)), errors="coerce").dropna()
    validated = {
        k: float(reference.metrics[k])
        for k in _RELEASE_METRICS
        if isinstance(reference.metrics.get(k), int | float)
    }
    live_metrics = {k: v for k, v in _live_metrics(monitor, rows).items() if k in validated}
    th = monitor.thresholds
    verdict = _call(
        monitor,
        check_release,
        live.to_numpy(),
        None if reference.table is None else reference.table["score"].to_numpy(),
        live_metrics=live_metrics if reference.table is not None else None,
        validation_metrics=validated if reference.table is not None else None,
        version=reference.version,
        alpha=th.get("alpha", th.get("p_value", 0.01)),
        min_effect=th.get("min_effect", 0.1),
        tolerance=th.get("tolerance", 0.05),
        min_live=int(th.get("min_live", 100)),
    )
    verdict = verdict.model_copy(
        update={"evidence": {**verdict.evidence, "model_version": reference.version}}
    )
    return [verdict, *_canary(monitor, current)]


def _canary(monitor: MonitorConfig, current: pd.DataFrame) -> list[Verdict]:
    """Compare the canary's delayed-label performance with the primary's on the same traffic.

    Scores are not compared: a retrain may score differently and still be right. A metric
    alarms when the canary's rate is below the primary's by ``tolerance`` or more and a one-sided
    two-proportion test says so at ``alpha`` (Bonferroni over the metrics).
    """
    if "role" not in current.columns or not (current["role"] == "canary").any():
        return []
    canary = current[current["role"] == "canary"]
    primary = current[current["role"] == "primary"]
    version = str(canary["version"].mode().iloc[0])
    th = monitor.thresholds
    alpha, tolerance = th.get("alpha", 0.01), th.get("tolerance", 0.05)
    theirs, ours = _live_metrics(monitor, canary), _live_metrics(monitor, primary)
    names = [k for k in _RELEASE_METRICS if k in theirs and k in ours]
    checks: dict[str, dict[str, Any]] = {}
    for name in names:
        (k1, n1), (k2, n2) = theirs[name], ours[name]
        pooled = (k1 + k2) / (n1 + n2)
        gap = k2 / n2 - k1 / n1
        se = float(np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))) if 0 < pooled < 1 else 0.0
        p = float(sps.norm.sf(gap / se)) if se > 0 else 1.0
        checks[name] = {
            "canary": round(k1 / n1, 4),
            "primary": round(k2 / n2, 4),
            "p_value": p,
            "drift": p < alpha / len(names) and gap >= tolerance,
        }
    base = {
        "detector": "release_regression",
        "subject": f"canary:{version}",
        "method": "two_proportion",
        "n_current": len(canary),
        "n_reference": len(primary),
    }
    if not checks:
        return [
            Verdict(
                **base,
                decision="ok",
                status="skipped",
                reason=f"no delayed labels yet to compare canary {version} with the primary",
                evidence={"status": "skipped", "model_version": version, "accumulating": True},
            )
        ]
    worse = [k for k, c in checks.items() if c["drift"]]
    text = "; ".join(f"{k} {c['canary']} vs {c['primary']}" for k, c in checks.items())
    return [
        Verdict(
            **base,
            decision="drift" if worse else "ok",
            failure_mode="release_regression" if worse else None,
            p_value=min(c["p_value"] for c in checks.values()),
            threshold=alpha,
            threshold_source="fixed",
            reason=(
                f"canary {version} performs worse than the primary: {text}"
                if worse
                else f"canary {version} performs as the primary: {text}"
            ),
            evidence={"checks": checks, "model_version": version},
        )
    ]


def pipeline_fault(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return data-quality verdicts and the diagnosed failure mode of the window."""
    current = _frame(window.current, "window", monitor)
    if current.empty:
        return _empty(monitor, "pipeline_fault")
    columns = _features(current, monitor)
    reference = _reference_features(monitor, window.reference, columns)
    expected = monitor.thresholds.get("expected_rows")
    report = _call(
        monitor,
        check_quality,
        reference,
        current[columns],
        expected_rows=int(expected) if expected is not None else None,
    )
    return _tag(
        [*report.verdicts, classify_failure_mode(report.verdicts)], current, "pipeline_fault"
    )


def fairness_regression(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return per-group fairness verdicts on the window (``params.group`` names the column)."""
    group = monitor.params.get("group")
    if not group:
        raise DetectionError(
            f"monitor {monitor.name!r}: fairness_regression needs params.group (a column)"
        )
    current = _frame(window.current, "window", monitor)
    if current.empty:
        return _empty(monitor, "fairness_regression")
    label = monitor.params.get("label", "label")
    has_labels = label in current.columns and current[label].notna().all()
    report = _call(
        monitor,
        check_fairness,
        current,
        group=group,
        prediction=monitor.params.get("prediction", "prediction"),
        label=label if has_labels else None,
        positive=monitor.params.get("positive", 1),
        threshold=monitor.thresholds.get("ratio", 0.8),
        alpha=monitor.thresholds.get("p_value", monitor.thresholds.get("alpha", 0.05)),
        min_group_size=int(monitor.thresholds.get("min_group_size", 100)),
        strong_evidence=monitor.thresholds.get("strong_evidence", 1e-6),
    )
    return _tag([*report.groups, report.overall], current, "fairness_regression")


def text_drift(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return the text-drift verdicts of a text column (``params.column``, default ``text``):
    vocabulary (new and out-of-vocabulary terms, the top emerging ones named), sentence
    embeddings (MMD with a permutation p-value; MiniLM with the ``embeddings`` extra, else
    TF-IDF) and, with a ``score`` column, the model's confidence decay."""
    current = _frame(window.current, "window", monitor)
    if current.empty:
        return _empty(monitor, "data_drift")
    column = str(monitor.params.get("column", "text"))
    reference = _frame(window.reference, "reference", monitor)
    for name, frame in (("window", current), ("reference", reference)):
        if column not in frame.columns:
            raise DetectionError(f"monitor {monitor.name!r}: the {name} has no column {column!r}")
    embedder = None
    if monitor.params.get("embedder", "minilm") == "minilm" and minilm_available():
        embedder = MiniLMEmbedder.load()

    def outputs(frame: pd.DataFrame) -> Any:
        if "score" not in frame.columns:
            return None
        score = pd.to_numeric(frame["score"], errors="coerce").dropna().to_numpy()
        return np.column_stack([1 - score, score])

    both = outputs(reference) is not None and outputs(current) is not None
    report = _call(
        monitor,
        check_text_drift,
        reference[column].astype(str).tolist(),
        current[column].astype(str).tolist(),
        reference_outputs=outputs(reference) if both else None,
        current_outputs=outputs(current) if both else None,
        embedder=embedder,
        alpha=monitor.thresholds.get("p_value", monitor.thresholds.get("alpha", 0.01)),
        subject=column,
    )
    verdicts = [report.vocabulary, report.embedding, *report.confidence, report.overall]
    return _tag(verdicts, current, "data_drift")
