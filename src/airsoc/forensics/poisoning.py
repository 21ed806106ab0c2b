"""Root cause of training-data poisoning: which sources, which batches, from when, which rows.

The investigation starts from a degraded model version, walks lineage to the batches it was
trained on and judges every batch that is not trusted against the trusted ones (by default the
batches of the last known-good version). It never sees which rows were tampered with, only the
data. Evidence combined per batch:

* **screening** (:class:`~airsoc.detection.attacks.poisoning.PoisoningScreen`, the same code
  that screens batches at ingestion): row evidence of label disagreement, spectral signatures
  and near-duplicates, as the batch verdict's p-value;
* **shift**: the screen's per-feature drift against the trusted rows (reported, weighted low:
  a vendor's data may differ without being poisoned);
* **label disagreement on the failing slice**: the trusted model (fitted on trusted rows only)
  contradicts labels in the direction the degraded model fails on the trusted validation slice
  (missed positives, or false positives); each row's score is the screen's row score inside
  that slice;
* **validation gain**: how much worse the failing slice's log-loss on the trusted validation
  slice gets when the batch is added to the trusted rows (and, per source, when the source's
  batches are left out of the whole training set).

Suspect rows are a decision: among the rows of the suspect batches, row scores are compared
with the scores of the held-out trusted validation rows (an empirical null, never used to fit
anything), and the lowest threshold whose estimated false discovery rate is at most ``fdr`` is
taken. The window is an epidemic change-point
(one raised segment) over the suspect sources' batches ordered by their registered start time.

Example:
    >>> import numpy as np, pandas as pd
    >>> from datetime import datetime, timedelta, timezone
    >>> rng = np.random.default_rng(0)
    >>> t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> def week(w, source, flip=False):
    ...     x = rng.normal(size=(1000, 3)); y = (x[:, 0] + 0.3 * x[:, 1] > 1.2).astype(int)
    ...     if flip:
    ...         y[(y == 1) & (x[:, 2] > 0)] = 0
    ...     return BatchData(f"{source}-{w}", source, t0 + timedelta(weeks=w), None,
    ...                      pd.DataFrame(x, columns=list("abc")).assign(label=y))
    >>> data = [week(w, s, flip=(s == "b" and 4 <= w <= 6)) for w in range(8) for s in "ab"]
    >>> result = investigate_batches(data, trusted=[d.batch for d in data[:6]],
    ...                              batch_gain=False)
    >>> result.suspect_sources[0].source, result.window.first_batch, result.window.last_batch
    ('b', 'b-4', 'b-6')
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy import stats
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from airsoc import lineage
from airsoc.detection.attacks import PoisoningScreen, ScreeningResult, read_frame
from airsoc.errors import InputError, NotFoundError
from airsoc.incidents.service import get_incident

__all__ = [
    "BatchData",
    "BatchSuspicion",
    "CleanBatch",
    "FailingSlice",
    "Option",
    "PoisoningInvestigation",
    "Recommendation",
    "SourceSuspicion",
    "SuspectSample",
    "Window",
    "degraded_version",
    "investigate_batches",
    "investigate_incident",
    "investigate_poisoning",
    "label_column_of",
    "load_batches",
]

METHOD = "forensics.poisoning[screen,shift,label_disagreement,validation_gain,change_point]"
#: A relative rise of the failing slice's log-loss this large scores a validation gain of 1.
GAIN_SCALE = 0.2
#: -log10 of a p-value at which an evidence score reaches 1.
LOG_P_SCALE = 10.0
#: A batch's validation gain scores 0 up to the first robust z, 1 from the second.
GAIN_Z = (2.0, 6.0)
#: How far each kind of batch evidence alone can raise a batch's score (combined as a noisy-or):
#: only row evidence on the failing slice can make a batch certain.
WEIGHTS = {"label_disagreement": 1.0, "screening": 0.5, "validation_gain": 0.3, "shift": 0.1}

SliceKind = Literal["missed_positive", "false_positive", "any"]


@dataclass(frozen=True)
class BatchData:
    """One registered training batch: its id, source, covered time and rows (read from its URI)."""

    batch: str
    source: str
    start: datetime | None
    end: datetime | None
    frame: pd.DataFrame


class SourceSuspicion(BaseModel):
    """How suspect a source (vendor) is, with the evidence behind the score."""

    source: str
    score: float = Field(ge=0, le=1)
    suspect: bool
    batches: int
    suspect_rows: int
    flagged_rows: int
    rows: int
    p_value: float
    validation_gain: float | None


class BatchSuspicion(BaseModel):
    """How suspect one batch is: the combined score and each component in [0, 1]."""

    batch: str
    source: str
    score: float = Field(ge=0, le=1)
    suspect: bool
    start: datetime | None
    rows: int
    suspect_rows: int
    flagged_rows: int
    components: dict[str, float]
    screening: str


class Window(BaseModel):
    """The first and last suspect batch, over batches ordered by their registered start."""

    first_batch: str | None
    last_batch: str | None
    start: datetime | None
    end: datetime | None
    batches: int


class SuspectSample(BaseModel):
    """A row judged poisoned: its batch, 0-based row in the batch's file, and score."""

    batch: str
    row: int
    score: float = Field(ge=0, le=1)


class CleanBatch(BaseModel):
    """A batch of the proposed clean training set, with the rows to leave out."""

    batch: str
    excluded_rows: list[int]


class Option(BaseModel):
    """A recovery option with metrics measured on the trusted validation slice, and its cost."""

    action: Literal["rollback", "retrain_without_suspects"]
    metrics: dict[str, float]
    cost: dict[str, float | int]
    detail: str


class Recommendation(BaseModel):
    """The option the investigation recommends, and why, in numbers."""

    action: Literal["rollback", "retrain_without_suspects"]
    reason: str


class FailingSlice(BaseModel):
    """Where the degraded model fails on the trusted validation slice, against trusted training."""

    kind: SliceKind
    positive_label: Any
    trusted: dict[str, float]
    degraded: dict[str, float]


class PoisoningInvestigation(BaseModel):
    """The result of a poisoning investigation; ``to_json()`` is what scripts read."""

    system: str | None = None
    model_version: str | None = None
    label_column: str
    positive_label: Any
    trusted_batches: list[str]
    failing_slice: FailingSlice
    suspect_sources: list[SourceSuspicion]
    sources: list[SourceSuspicion]
    suspect_batches: list[BatchSuspicion]
    batches: list[BatchSuspicion]
    window: Window
    suspect_samples: list[SuspectSample]
    row_threshold: float
    clean_training_set: list[CleanBatch]
    clean_set_verified: bool
    options: list[Option]
    recommendation: Recommendation
    notes: list[str]
    method: str = METHOD
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON-ready data (times in ISO 8601 UTC).

        >>> from airsoc.forensics.findings import EXAMPLE
        >>> PoisoningInvestigation.model_validate(EXAMPLE).to_json()["window"]["start"]
        '2026-03-16T00:00:00Z'
        """
        return self.model_dump(mode="json")


# ----------------------------------------------------------------------------- loading


def load_batches(session: Session, *, batch_ids: Sequence[str]) -> list[BatchData]:
    """Return the registered batches with their rows, read from their registered URIs.

    A batch whose file no longer has its registered sha256 is refused: the investigation would
    judge other rows than the model was trained on.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = folder / "acme-1.csv"; _ = path.write_text("x,label\\n1.0,0\\n2.0,1\\n")
    >>> store = scratch_store()
    >>> with store.transaction() as s:
    ...     _ = lineage.register_batch(s, clock=SimulatedClock(), actor="etl", batch_id="acme-1",
    ...             source="acme", rows=2, sha256=lineage.sha256_file(path), uri=str(path))
    ...     [(b.batch, b.source, len(b.frame)) for b in load_batches(s, batch_ids=["acme-1"])]
    [('acme-1', 'acme', 2)]
    >>> store.close()
    """
    out = []
    for batch_id in batch_ids:
        view = lineage.get_batch(session, batch_id=batch_id)
        path = lineage.local_path(view.uri) if view.uri else None
        if path is None:
            raise InputError(
                f"batch {batch_id}: its URI {view.uri!r} is not a local CSV or Parquet file",
                loc=batch_id,
            )
        lineage.verify_batch(session, batch_id=batch_id).raise_for_mismatch()
        out.append(
            BatchData(batch_id, view.source, view.time_start, view.time_end, read_frame(path))
        )
    return out


def investigate_poisoning(
    session: Session,
    *,
    system: str,
    model_version: str,
    trusted_batches: Sequence[str] | None = None,
    label_column: str | None = "label",
    positive_label: Any = 1,
    estimator: ClassifierMixin | None = None,
    fdr: float = 0.1,
    alpha: float = 0.01,
    batch_gain: bool = True,
    random_state: int = 0,
) -> PoisoningInvestigation:
    """Return the poisoning root cause of ``model_version`` of ``system``, from lineage.

    Parameters
    ----------
    session
        A read transaction on the store.
    system, model_version
        The degraded version; every training batch of it that is not trusted is judged.
    trusted_batches
        Batches known clean; default: the training batches of the last known-good version
        that ``model_version`` is not.
    label_column
        The column holding each row's label; None: ``label`` when the batches have it, else
        the one column of the batches that is not an input of the version (its input schema).
    positive_label
        The class whose misses matter (fraud); text that spells a label names it (``"1"``).
    estimator
        The system's training recipe (default: gradient-boosted trees).
    fdr
        The false discovery rate of the suspect rows.
    alpha
        The family-wise error rate of the batch and source decisions.
    batch_gain
        Whether to refit once per batch for its validation gain (else said in ``notes``).
    random_state
        Seed of the trusted validation split.

    Returns
    -------
    PoisoningInvestigation
        Ranked sources and batches, window, suspect rows, clean set, options, recommendation.

    Raises
    ------
    NotFoundError
        When the system, version or a batch is not registered, or no trusted batch is known.
    InputError
        When a batch file cannot be read or lacks the label column.

    Examples
    --------
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.read() as s:
    ...     investigate_poisoning(s, system="fraud", model_version="v3")
    Traceback (most recent call last):
    airsoc.errors.NotFoundError: system 'fraud' is not registered (airsoc registry systems)
    >>> store.close()
    """
    version = lineage.get_model_version(session, system=system, version=model_version)
    training = version.training_batches
    if trusted_batches is None:
        try:
            good = lineage.last_known_good(session, system=system, exclude=[model_version])
        except NotFoundError:
            raise NotFoundError(
                f"system {system} has no known-good version to take trusted batches from; "
                "name the trusted batches"
            ) from None
        trusted_batches = good.training_batches
    trusted = list(dict.fromkeys(trusted_batches))
    if not trusted:
        raise NotFoundError(f"system {system}: no trusted batch to compare against")
    ids = list(dict.fromkeys([*trusted, *training]))
    loaded = load_batches(session, batch_ids=ids)
    if label_column is None:
        label_column = label_column_of(loaded, inputs=version.input_schema)
    result = investigate_batches(
        loaded,
        trusted=trusted,
        label_column=label_column,
        positive_label=positive_label,
        estimator=estimator,
        fdr=fdr,
        alpha=alpha,
        batch_gain=batch_gain,
        random_state=random_state,
    )
    return result.model_copy(update={"system": system, "model_version": model_version})


def label_column_of(batches: Sequence[BatchData], *, inputs: Mapping[str, Any]) -> str:
    """Return the label column of ``batches``: ``label`` when they have it, else their one
    column that is not among the model's ``inputs``.

    >>> import pandas as pd
    >>> b = BatchData("b1", "acme", None, None, pd.DataFrame({"x": [1.0], "is_fraud": [0]}))
    >>> label_column_of([b], inputs={"x": "number"})
    'is_fraud'
    >>> label_column_of([b], inputs={})
    Traceback (most recent call last):
    airsoc.errors.InputError: b1: cannot tell the label column among ['is_fraud', 'x']; name it
    """
    if not batches:
        raise InputError("no batch to find the label column in")
    first = batches[0]
    columns = [str(c) for c in first.frame.columns]
    if "label" in columns:
        return "label"
    extra = sorted(c for c in columns if c not in inputs)
    if len(extra) != 1:
        raise InputError(f"cannot tell the label column among {extra}; name it", loc=first.batch)
    return extra[0]


def degraded_version(session: Session, *, incident_id: int) -> tuple[str, str]:
    """Return the system and the model version an incident is about.

    The newest version named on the incident (bare, or as ``system:version``), else the version
    that served as primary when the incident was detected (containment may have rolled the
    route back since).

    Raises
    ------
    NotFoundError
        When the incident names no version and no primary served at its detection.

    Examples
    --------
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=SimulatedClock(), actor="a", system="fraud",
    ...             failure_mode="data_poisoning", summary="x", model_versions=["fraud:v3"])
    ...     degraded_version(s, incident_id=inc.id)
    ('fraud', 'v3')
    >>> store.close()
    """
    incident = get_incident(session, incident_id=incident_id)
    if incident.model_versions:
        named = incident.model_versions[-1]
        # Versions are named bare (``v3``) or with their system (``fraud:v3``).
        return incident.system, named.removeprefix(f"{incident.system}:")
    at = incident.detected_at
    for d in reversed(lineage.deployment_history(session, system=incident.system)):
        if d.role == "primary" and d.started_at <= at and (d.ended_at is None or at < d.ended_at):
            return incident.system, d.version
    raise NotFoundError(
        f"incident {incident_id} names no model version and no primary served "
        f"{incident.system} when it was detected"
    )


def investigate_incident(
    session: Session,
    *,
    incident_id: int,
    trusted_batches: Sequence[str] | None = None,
    label_column: str | None = "label",
    positive_label: Any = 1,
    estimator: ClassifierMixin | None = None,
    batch_gain: bool = True,
) -> PoisoningInvestigation:
    """Return the poisoning investigation of the version an incident is about.

    See :func:`degraded_version` for which version, :func:`investigate_poisoning` for the rest.
    When that version is the known-good one and the incident names batches it was not trained
    on (a screen stopped them at ingest), those batches are judged against its training batches.

    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.read() as s:
    ...     investigate_incident(s, incident_id=4)
    Traceback (most recent call last):
    airsoc.errors.NotFoundError: incident 4 not found
    >>> store.close()
    """
    system, version = degraded_version(session, incident_id=incident_id)
    screened = _screened_batches(session, incident_id=incident_id, system=system, version=version)
    if screened and trusted_batches is None:
        # Batches a screen flagged before any version trained on them: judged against the
        # training batches of the known-good version that serves.
        trusted = lineage.get_model_version(session, system=system, version=version)
        loaded = load_batches(
            session, batch_ids=list(dict.fromkeys([*trusted.training_batches, *screened]))
        )
        if label_column is None:
            label_column = label_column_of(loaded, inputs=trusted.input_schema)
        result = investigate_batches(
            loaded,
            trusted=trusted.training_batches,
            label_column=label_column,
            positive_label=positive_label,
            estimator=estimator,
            batch_gain=batch_gain,
        )
        return result.model_copy(update={"system": system, "model_version": version})
    return investigate_poisoning(
        session,
        system=system,
        model_version=version,
        trusted_batches=trusted_batches,
        label_column=label_column,
        positive_label=positive_label,
        estimator=estimator,
        batch_gain=batch_gain,
    )


def _screened_batches(
    session: Session, *, incident_id: int, system: str, version: str
) -> list[str]:
    """Return the incident's batches that ``version`` was not trained on, when ``version`` is
    the known-good one serving (else none): batches stopped at ingest, before any training."""
    incident = get_incident(session, incident_id=incident_id)
    model = lineage.get_model_version(session, system=system, version=version)
    if not model.training_batches:
        return []
    try:
        good = lineage.last_known_good(session, system=system)
    except NotFoundError:
        return []
    if good.version != version:
        return []
    return [b for b in incident.data_batches if b not in model.training_batches]


# ----------------------------------------------------------------------------- the analysis


def _default_estimator() -> ClassifierMixin:
    model: ClassifierMixin = HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.2, early_stopping=False, random_state=0
    )
    return model


def _log_p_score(p: float) -> float:
    return float(min(1.0, -np.log10(max(p, 1e-300)) / LOG_P_SCALE))


@dataclass
class _Data:
    columns: list[str]
    x: np.ndarray
    y: np.ndarray
    batch: np.ndarray  # index into the batch list, per row
    row: np.ndarray  # row in the batch's file
    trusted: np.ndarray  # row belongs to a trusted batch
    validation: np.ndarray  # row is in the trusted validation slice


def _assemble(
    batches: Sequence[BatchData],
    trusted: set[str],
    label_column: str,
    share: float,
    random_state: int,
    notes: list[str],
) -> _Data:
    frames = [b.frame for b in batches]
    for b in batches:
        if label_column not in b.frame.columns:
            raise InputError(f"batch {b.batch} has no label column {label_column!r}", loc=b.batch)
        missing = b.frame[label_column].isna().to_numpy()
        if missing.any():
            raise InputError(
                f"batch {b.batch}: row {int(np.flatnonzero(missing)[0])} has no label", loc=b.batch
            )
    columns = [
        c
        for c in frames[0].columns
        if c != label_column
        and all(c in f.columns for f in frames)
        and all(pd.api.types.is_numeric_dtype(f[c]) for f in frames)
    ]
    if not columns:
        raise InputError("the batches share no numeric feature column")
    left_out = sorted({str(c) for f in frames for c in f.columns} - {*columns, label_column})
    if left_out:
        notes.append(f"columns not numeric in every batch, left out: {left_out}")
    x = np.vstack([f[columns].to_numpy(dtype=float) for f in frames])
    y = np.concatenate([f[label_column].to_numpy() for f in frames])
    batch = np.concatenate([np.full(len(f), i) for i, f in enumerate(frames)])
    row = np.concatenate([np.arange(len(f)) for f in frames])
    is_trusted = np.isin(batch, [i for i, b in enumerate(batches) if b.batch in trusted])
    validation = np.zeros(len(x), dtype=bool)
    idx = np.flatnonzero(is_trusted)
    _, held = train_test_split(idx, test_size=share, stratify=y[idx], random_state=random_state)
    validation[held] = True
    return _Data(columns, x, y, batch, row, is_trusted, validation)


def _match_label(positive: Any, labels: list[Any]) -> Any:
    """Return the trusted label ``positive`` names, matching by text too (``"1"`` names ``1``).

    >>> _match_label("1", [0, 1]), _match_label("fraud", ["fraud", "ok"])
    (1, 'fraud')
    """
    if positive in labels:
        return positive
    by_text = [v for v in labels if str(v) == str(positive)]
    if len(by_text) == 1:
        return by_text[0]
    raise InputError(
        f"positive label {positive!r} does not occur in the trusted batches (labels: {labels})",
        loc="positive_label",
    )


def _rates(y: np.ndarray, pred: np.ndarray, positive: Any) -> dict[str, float]:
    pos, neg = y == positive, y != positive
    hit = pred == positive
    return {
        "false_negative_rate": float((~hit & pos).sum() / max(pos.sum(), 1)),
        "false_positive_rate": float((hit & neg).sum() / max(neg.sum(), 1)),
        "recall": float((hit & pos).sum() / max(pos.sum(), 1)),
        "precision": float((hit & pos).sum() / max(hit.sum(), 1)),
        "accuracy": float((pred == y).mean()),
    }


def _slice_loss(model: Any, x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> float:
    """Return the mean log-loss of the given labels on ``rows`` (the failing slice)."""
    if not rows.any():
        return 0.0
    proba = model.predict_proba(x[rows])
    cols = {c: i for i, c in enumerate(model.classes_.tolist())}
    given = np.array([proba[i, cols[v]] if v in cols else 0.0 for i, v in enumerate(y[rows])])
    return float(-np.log(np.clip(given, 1e-6, 1.0)).mean())


def investigate_batches(
    batches: Sequence[BatchData],
    *,
    trusted: Sequence[str],
    label_column: str = "label",
    positive_label: Any = 1,
    estimator: ClassifierMixin | None = None,
    fdr: float = 0.1,
    alpha: float = 0.01,
    validation_share: float = 0.3,
    batch_gain: bool = True,
    random_state: int = 0,
) -> PoisoningInvestigation:
    """Return the poisoning investigation of ``batches`` against the ``trusted`` ones.

    The pure analysis behind :func:`investigate_poisoning`, for batches not (yet) registered;
    the parameters are the same, plus ``validation_share``, the share of trusted rows held out
    as the trusted validation slice. The module docstring has a full example.

    Raises
    ------
    InputError
        When a batch repeats, a trusted batch is not among the batches, every batch is
        trusted, or the label column or positive label is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [0.0, 1.0], "label": [0, 1]})
    >>> investigate_batches([BatchData("a-1", "a", None, None, frame)], trusted=["a-1"])
    Traceback (most recent call last):
    airsoc.errors.InputError: trusted: every batch is trusted: nothing to investigate
    """
    # One thread: the investigation runs beside the platform's other work, and OpenMP threads
    # waiting for a busy core cost more than they save.
    with threadpool_limits(limits=1):
        return _investigate(
            batches,
            trusted=trusted,
            label_column=label_column,
            positive_label=positive_label,
            estimator=estimator,
            fdr=fdr,
            alpha=alpha,
            validation_share=validation_share,
            batch_gain=batch_gain,
            random_state=random_state,
        )


def _investigate(
    batches: Sequence[BatchData],
    *,
    trusted: Sequence[str],
    label_column: str,
    positive_label: Any,
    estimator: ClassifierMixin | None,
    fdr: float,
    alpha: float,
    validation_share: float,
    batch_gain: bool,
    random_state: int,
) -> PoisoningInvestigation:
    started = time.perf_counter()
    names = [b.batch for b in batches]
    if len(set(names)) != len(names):
        raise InputError("a batch is listed twice")
    trusted_set = set(trusted)
    unknown = sorted(trusted_set - set(names))
    if unknown:
        raise InputError(f"trusted batches not among the batches: {unknown}", loc="trusted")
    if len(trusted_set) == len(names):
        raise InputError("every batch is trusted: nothing to investigate", loc="trusted")
    notes: list[str] = []
    data = _assemble(batches, trusted_set, label_column, validation_share, random_state, notes)
    recipe = estimator if estimator is not None else _default_estimator()
    x, y = data.x, data.y
    train_trusted = data.trusted & ~data.validation
    training = ~data.validation
    val = data.validation
    positive_label = _match_label(positive_label, np.unique(y[data.trusted]).tolist())

    # The failing slice: compare the degraded recipe (every batch) with trusted training only.
    trusted_model = clone(recipe).fit(x[train_trusted], y[train_trusted])
    degraded_model = clone(recipe).fit(x[training], y[training])
    before = _rates(y[val], trusted_model.predict(x[val]), positive_label)
    after = _rates(y[val], degraded_model.predict(x[val]), positive_label)
    rise_fn = after["false_negative_rate"] - before["false_negative_rate"]
    rise_fp = after["false_positive_rate"] - before["false_positive_rate"]
    kind: SliceKind = "any"
    if rise_fn > 0 and rise_fn >= rise_fp:
        kind = "missed_positive"
    elif rise_fp > 0:
        kind = "false_positive"
    else:
        notes.append(
            "the degraded recipe does not fail on the trusted validation slice: every label "
            "disagreement counts"
        )
    failing = FailingSlice(kind=kind, positive_label=positive_label, trusted=before, degraded=after)

    # Screening per batch with the trusted model of the trusted training rows (shared code).
    screen = PoisoningScreen(alpha=alpha, random_state=random_state).fit(
        x[train_trusted], y[train_trusted]
    )
    predicted = np.asarray(screen.trusted_.classes)[np.argmax(screen.trusted_.proba(x), axis=1)]

    def in_slice(rows: np.ndarray) -> np.ndarray:
        if kind == "missed_positive":
            return np.asarray((y[rows] != positive_label) & (predicted[rows] == positive_label))
        if kind == "false_positive":
            return np.asarray((y[rows] == positive_label) & (predicted[rows] != positive_label))
        return np.ones(len(rows), dtype=bool)

    judged = [i for i, b in enumerate(batches) if b.batch not in trusted_set]
    results: dict[int, ScreeningResult] = {}
    score = np.zeros(len(x))
    flags = np.zeros(len(x), dtype=bool)
    for i in judged:
        rows = np.flatnonzero(data.batch == i)
        res = screen.screen(x[rows], y[rows], batch_id=batches[i].batch)
        results[i] = res
        mask = in_slice(rows)
        score[rows] = res.scores * mask
        flags[rows] = res.flagged & mask
    null_rows = np.flatnonzero(val)
    null_res = screen.screen(x[null_rows], y[null_rows], batch_id="trusted-validation")
    null_mask = in_slice(null_rows)
    null = np.sort(null_res.scores * null_mask)
    # Flags of held-out trusted rows: the rate at which clean rows are flagged in the slice.
    flag_rate = (float((null_res.flagged & null_mask).sum()) + 1) / (len(null_rows) + 1)

    # Validation gains: per source (left out of everything), per batch (added to trusted rows).
    slice_val = val & _slice_positive(y, kind, positive_label)
    base_loss = _slice_loss(degraded_model, x, y, slice_val)
    sources = sorted({batches[i].source for i in judged})
    source_gain: dict[str, float] = {}
    for s in sources:
        keep = training & ~np.isin(data.batch, [i for i in judged if batches[i].source == s])
        model = clone(recipe).fit(x[keep], y[keep])
        loss = _slice_loss(model, x, y, slice_val)
        source_gain[s] = float(np.clip((base_loss - loss) / max(loss, 1e-6) / GAIN_SCALE, 0, 1))
    batch_gain_score: dict[int, float] = {}
    if batch_gain:
        trusted_loss = _slice_loss(trusted_model, x, y, slice_val)
        rises = {}
        for i in judged:
            keep = train_trusted | (data.batch == i)
            model = clone(recipe).fit(x[keep], y[keep])
            rises[i] = _slice_loss(model, x, y, slice_val) - trusted_loss
        # A batch's rise against the spread of every batch's rise: refits move the loss a
        # little whatever the batch, and most batches are clean.
        values = np.array(list(rises.values()))
        median = float(np.median(values))
        # A floor of 1% of the loss: a deterministic recipe may move it by almost nothing.
        spread = max(1.4826 * float(np.median(np.abs(values - median))), 0.01 * trusted_loss, 1e-9)
        for i, rise in rises.items():
            z = (rise - median) / spread
            batch_gain_score[i] = float(np.clip((z - GAIN_Z[0]) / (GAIN_Z[1] - GAIN_Z[0]), 0, 1))
    else:
        notes.append("per-batch validation gain skipped (batch_gain=False)")

    # Batch evidence and decisions.
    per_batch: list[BatchSuspicion] = []
    p_batch: dict[int, float] = {}
    for i in judged:
        rows = data.batch == i
        k, n = int(flags[rows].sum()), int(rows.sum())
        p = float(stats.binomtest(k, n, min(flag_rate, 1.0), alternative="greater").pvalue)
        p_batch[i] = p
        res = results[i]
        drift = res.signals.get("feature_drift")
        components = {
            "screening": _log_p_score(1.0 if res.verdict.p_value is None else res.verdict.p_value),
            "label_disagreement": _log_p_score(p) if k else 0.0,
            "shift": 0.0 if drift is None or drift.p_value is None else 1.0 - drift.p_value,
        }
        if batch_gain:
            components["validation_gain"] = batch_gain_score[i]
        total = 1.0 - float(np.prod([1.0 - WEIGHTS[c] * v for c, v in components.items()]))
        per_batch.append(
            BatchSuspicion(
                batch=batches[i].batch,
                source=batches[i].source,
                score=round(float(np.clip(total, 0, 1)), 6),
                suspect=False,
                start=batches[i].start,
                rows=n,
                suspect_rows=0,
                flagged_rows=k,
                components={c: round(v, 6) for c, v in components.items()},
                screening=res.verdict.decision,
            )
        )

    # Sources: pooled suspect rows against the null rate (Bonferroni over sources), and gain.
    per_source: list[SourceSuspicion] = []
    for s in sources:
        mine = np.isin(data.batch, [i for i in judged if batches[i].source == s])
        k, n = int(flags[mine].sum()), int(mine.sum())
        p = float(stats.binomtest(k, n, min(flag_rate, 1.0), alternative="greater").pvalue)
        p = min(1.0, p * len(sources))
        own = [b for b in per_batch if b.source == s]
        evidence = _log_p_score(p) if k else 0.0
        total = 0.5 * evidence + 0.3 * source_gain[s] + 0.2 * max(b.score for b in own)
        per_source.append(
            SourceSuspicion(
                source=s,
                score=round(float(np.clip(total, 0, 1)), 6),
                suspect=p < alpha,
                batches=len(own),
                suspect_rows=0,
                flagged_rows=k,
                rows=n,
                p_value=p,
                validation_gain=round(source_gain[s], 6),
            )
        )
    per_source.sort(key=lambda s: (-s.score, s.source))
    suspect_sources = [s for s in per_source if s.suspect]

    # Window: one raised segment over the suspect sources' batches in time order.
    window, in_window = _window(batches, per_batch, suspect_sources)
    level = alpha / max(len(judged), 1)
    by_name = {b.batch: b for b in per_batch}
    for i in judged:
        b = by_name[batches[i].batch]
        b.suspect = p_batch[i] < level or (batches[i].batch in in_window and b.flagged_rows > 0)

    # Suspect rows, among the rows of the suspect batches only (rows of batches without
    # evidence are not discoveries): the lowest threshold whose estimated false discovery rate
    # is at most fdr.
    selected = [i for i in judged if by_name[batches[i].batch].suspect]
    family = np.isin(data.batch, selected)
    threshold = _fdr_threshold(score[family], null, fdr) if selected else float("inf")
    suspect = family & (score >= threshold)
    for i in judged:
        by_name[batches[i].batch].suspect_rows = int(suspect[data.batch == i].sum())
    for src in per_source:
        src.suspect_rows = sum(b.suspect_rows for b in per_batch if b.source == src.source)
    per_batch.sort(key=lambda b: (-b.score, b.batch))

    samples = [
        SuspectSample(
            batch=batches[data.batch[r]].batch,
            row=int(data.row[r]),
            score=round(float(score[r]), 6),
        )
        for r in np.flatnonzero(suspect)
    ]
    samples.sort(key=lambda s: (-s.score, s.batch, s.row))
    clean = [
        CleanBatch(
            batch=b.batch,
            excluded_rows=sorted(int(r) for r in data.row[suspect & (data.batch == i)]),
        )
        for i, b in enumerate(batches)
    ]
    verified = _verify_clean(data, suspect, in_slice, screen, judged, null_res, alpha)
    if not verified:
        notes.append("rows of the clean set still disagree with the trusted model above chance")
    options, recommendation = _options(
        data, recipe, suspect, positive_label, kind, verified, trusted_model, degraded_model
    )
    return PoisoningInvestigation(
        label_column=label_column,
        positive_label=positive_label,
        trusted_batches=[b for b in names if b in trusted_set],
        failing_slice=failing,
        suspect_sources=suspect_sources,
        sources=per_source,
        suspect_batches=[b for b in per_batch if b.suspect],
        batches=per_batch,
        window=window,
        suspect_samples=samples,
        row_threshold=round(float(threshold), 6) if np.isfinite(threshold) else 1.0,
        clean_training_set=clean,
        clean_set_verified=verified,
        options=options,
        recommendation=recommendation,
        notes=notes,
        duration_s=round(time.perf_counter() - started, 3),
    )


def _slice_positive(y: np.ndarray, kind: SliceKind, positive: Any) -> np.ndarray:
    """Return the validation rows whose misclassification the slice is about."""
    if kind == "missed_positive":
        return np.asarray(y == positive)
    if kind == "false_positive":
        return np.asarray(y != positive)
    return np.ones(len(y), dtype=bool)


def _fdr_threshold(scores: np.ndarray, null: np.ndarray, fdr: float) -> float:
    """Return the lowest score threshold whose estimated false discovery rate is <= ``fdr``.

    The false discoveries expected above ``t`` are the null rows' share above ``t`` (plus one,
    conservatively) times the number of candidate rows; ``inf`` when no threshold qualifies.

    >>> _fdr_threshold(np.array([0.0] * 95 + [0.9] * 5), np.zeros(1000), 0.1)
    0.9
    """
    thresholds = np.unique(scores[scores > 0])  # ascending
    if not len(thresholds) or not len(scores):
        return float("inf")
    ordered = np.sort(scores)
    null_sorted = np.sort(null)
    found = len(ordered) - np.searchsorted(ordered, thresholds, side="left")
    above = len(null_sorted) - np.searchsorted(null_sorted, thresholds, side="left")
    expected = (above + 1) / (len(null_sorted) + 1) * len(scores)
    ok = np.flatnonzero(expected / found <= fdr)
    return float(thresholds[ok[0]]) if len(ok) else float("inf")


def _window(
    batches: Sequence[BatchData],
    per_batch: list[BatchSuspicion],
    suspect_sources: list[SourceSuspicion],
) -> tuple[Window, set[str]]:
    """Return the epidemic change-point segment of suspect-row rates over time, and its batches."""
    names = {s.source for s in suspect_sources}
    chosen = [b for b in per_batch if b.source in names]
    if not chosen:
        return Window(first_batch=None, last_batch=None, start=None, end=None, batches=0), set()
    start_of = {b.batch: b.start for b in batches}
    end_of = {b.batch: b.end for b in batches}
    chosen.sort(key=lambda b: (start_of[b.batch] is None, start_of[b.batch], b.batch))
    k = np.array([b.flagged_rows for b in chosen], dtype=float)
    n = np.array([b.rows for b in chosen], dtype=float)
    a, z = _epidemic(k, n)
    inside = chosen[a : z + 1]
    last = inside[-1].batch
    return (
        Window(
            first_batch=inside[0].batch,
            last_batch=last,
            start=start_of[inside[0].batch],
            end=end_of[last] or start_of[last],
            batches=len(inside),
        ),
        {b.batch for b in inside},
    )


def _epidemic(k: np.ndarray, n: np.ndarray) -> tuple[int, int]:
    """Return the segment ``[a, z]`` maximising the binomial likelihood of one raised rate.

    >>> _epidemic(np.array([0, 1, 9, 8, 10, 0, 0.0]), np.full(7, 100.0))
    (2, 4)
    """

    def loglik(kk: float, nn: float) -> float:
        if nn <= 0:
            return 0.0
        p = min(max(kk / nn, 1e-12), 1 - 1e-12)
        return float(kk * np.log(p) + (nn - kk) * np.log(1 - p))

    total_k, total_n = k.sum(), n.sum()
    ck, cn = np.concatenate([[0], np.cumsum(k)]), np.concatenate([[0], np.cumsum(n)])
    best, seg = -np.inf, (0, len(k) - 1)
    for a in range(len(k)):
        for z in range(a, len(k)):
            ki, ni = ck[z + 1] - ck[a], cn[z + 1] - cn[a]
            if ni and total_n - ni and ki / ni <= (total_k - ki) / (total_n - ni):
                continue
            value = loglik(ki, ni) + loglik(total_k - ki, total_n - ni)
            if value > best:
                best, seg = value, (a, z)
    return seg


def _verify_clean(
    data: _Data,
    suspect: np.ndarray,
    in_slice: Any,
    screen: PoisoningScreen,
    judged: list[int],
    null_res: ScreeningResult,
    alpha: float,
) -> bool:
    """Return whether the clean set's judged rows disagree with the trusted model at the rate of
    the trusted validation rows (confident-learning flags inside the slice, binomial test)."""
    keep = np.isin(data.batch, judged) & ~suspect
    if not keep.any():
        return True
    rows = np.flatnonzero(keep)
    flags = screen.screen(data.x[rows], data.y[rows], batch_id="clean-set").flagged & in_slice(rows)
    null_rows = np.flatnonzero(data.validation)
    null_flags = null_res.flagged & in_slice(null_rows)
    rate = (float(null_flags.sum()) + 1) / (len(null_rows) + 1)
    p = float(stats.binomtest(int(flags.sum()), len(rows), rate, alternative="greater").pvalue)
    return p >= alpha


def _options(
    data: _Data,
    recipe: ClassifierMixin,
    suspect: np.ndarray,
    positive: Any,
    kind: SliceKind,
    verified: bool,
    rollback_model: Any,
    degraded_model: Any,
) -> tuple[list[Option], Recommendation]:
    x, y, val = data.x, data.y, data.validation
    clean = ~val & ~suspect
    started = time.perf_counter()
    retrained = clone(recipe).fit(x[clean], y[clean])
    fit_seconds = time.perf_counter() - started
    rollback = _rates(y[val], rollback_model.predict(x[val]), positive)
    patched = _rates(y[val], retrained.predict(x[val]), positive)
    degraded = _rates(y[val], degraded_model.predict(x[val]), positive)
    newer_clean = int((clean & ~data.trusted).sum())
    added = {f"newer_clean_{k}": round(patched[k] - rollback[k], 6) for k in rollback}
    options = [
        Option(
            action="rollback",
            metrics={**{k: round(v, 6) for k, v in rollback.items()}, **added},
            cost={"fit_seconds": 0.0, "training_rows": 0, "clean_rows_left_unused": newer_clean},
            detail="the last known-good version's recipe on its own (trusted) batches; "
            "newer_clean_* is what the newer clean rows would have added",
        ),
        Option(
            action="retrain_without_suspects",
            metrics={k: round(v, 6) for k, v in patched.items()},
            cost={
                "fit_seconds": round(fit_seconds, 3),
                "training_rows": int(clean.sum()),
                "excluded_rows": int(suspect.sum()),
            },
            detail="the recipe retrained on the proposed clean set",
        ),
    ]
    key = "false_positive_rate" if kind == "false_positive" else "false_negative_rate"
    # A retrain must not be worse than the rollback on the failing slice, nor overall.
    better = patched[key] <= rollback[key] + 1e-9 and patched["accuracy"] >= rollback["accuracy"]
    numbers = (
        f"{key.replace('_', ' ')} on the trusted validation slice: degraded {degraded[key]:.4f}, "
        f"rollback {rollback[key]:.4f}, retrained without {int(suspect.sum())} suspect rows "
        f"{patched[key]:.4f}; accuracy {rollback['accuracy']:.4f} vs {patched['accuracy']:.4f}"
    )
    if better and verified:
        rec = Recommendation(
            action="retrain_without_suspects",
            reason=f"{numbers}; the clean set verified and keeps {newer_clean} newer clean rows",
        )
    else:
        why = "the clean set did not verify" if not verified else "retraining does not beat it"
        rec = Recommendation(action="rollback", reason=f"{numbers}; {why}")
    return options, rec
