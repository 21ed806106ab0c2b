"""The demo fleet's training hooks: retrain the fraud detector on a clean training set, the credit
scorer and the sentiment model on their training batches plus recent labelled traffic.

``systems.fraud-detector.retrain: {hook: "airsoc.fleet.retrain:train_fraud_version"}`` names it
in ``airsoc.yaml``; :func:`airsoc.forensics.recovery.retrain` calls it with the batches to train
on (each a Parquet file of transactions with its ``is_fraud`` label) and the rows to leave out.
It trains on three quarters of the clean rows and writes the other quarter's scores and labels
as the new version's validation evidence.

Labelled traffic (a batch the platform registered from the system's answered requests and
their delayed labels) carries its ground truth in a ``label`` column; the hooks read it as the
system's own label. The credit hook applies the investigation's suggestion ``options.reweigh``
(``{"column": "region"}``): each row is weighted so that the column's groups and the label are
independent in the training set (reweighing, Kamiran and Calders 2012); and
``options.group_features`` (``{"column": "region", "group": "south", "features": ["debt_ratio"]}``,
the features the investigation found moved within the group): the model weighs those features
on their own within the group. Rows of labelled traffic count ``options.recent_weight`` times
(default 1).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from airsoc.fleet.systems import fraud_transactions
    >>> from airsoc.forensics.recovery import RetrainRequest, TrainingBatch
    >>> folder = Path(tempfile.mkdtemp())
    >>> fraud_transactions(2_000, seed=3).to_parquet(folder / "b1.parquet")
    >>> trained = train_fraud_version(RetrainRequest(
    ...     system="fraud-detector", version="v3", base_version=None, output_dir=str(folder),
    ...     batches=[TrainingBatch(batch_id="b1", source="acme", uri=str(folder / "b1.parquet"),
    ...                            excluded_rows=[0, 1, 2])]))
    >>> Path(trained.artifact).name, trained.metrics["training_rows"]
    ('fraud-detector-v3.joblib', 1497)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from airsoc.errors import DataFileError
from airsoc.fleet.systems import (
    CREDIT_FEATURES,
    FRAUD_FEATURES,
    GroupInteractions,
    train_credit_scorer,
    train_fraud_detector,
    train_served_sentiment_model,
)
from airsoc.forensics.recovery import RetrainRequest, TrainedModel

__all__ = [
    "CREDIT_LABEL",
    "FRAUD_LABEL",
    "SENTIMENT_LABEL",
    "clean_rows",
    "reweighing",
    "train_credit_version",
    "train_fraud_version",
    "train_sentiment_version",
]

FRAUD_LABEL = "is_fraud"
CREDIT_LABEL = "defaulted"
SENTIMENT_LABEL = "positive"
#: The ground-truth column of a batch of labelled traffic.
TRAFFIC_LABEL = "label"


def clean_rows(request: RetrainRequest) -> pd.DataFrame:
    """Return the rows of every batch of ``request``, less the excluded ones."""
    frames = []
    for batch in request.batches:
        path = Path(batch.uri)
        if not path.exists():
            raise DataFileError(f"batch {batch.batch_id}: file {path} does not exist")
        frame = pd.read_parquet(path).reset_index(drop=True)
        frames.append(frame[~frame.index.isin(batch.excluded_rows)])
    return pd.concat(frames, ignore_index=True)


def train_fraud_version(request: RetrainRequest) -> TrainedModel:
    """Return the fraud model trained on the clean rows of ``request``, saved with its
    validation evidence in ``request.output_dir``."""
    data = clean_rows(request)
    train, held_out = train_test_split(
        data, test_size=0.25, random_state=request.seed, stratify=data[FRAUD_LABEL]
    )
    model = train_fraud_detector(train, seed=request.seed)
    out = Path(request.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    artifact = out / f"{request.system}-{request.version}.joblib"
    joblib.dump(model, artifact)
    features = held_out[FRAUD_FEATURES].assign(
        country_mismatch=held_out["country_mismatch"].astype(float)
    )
    validation = out / f"{request.system}-{request.version}-validation.parquet"
    pd.DataFrame(
        {"score": model.predict_proba(features)[:, 1], "label": held_out[FRAUD_LABEL].to_numpy()}
    ).to_parquet(validation, index=False)
    return TrainedModel(
        artifact=str(artifact),
        validation=str(validation),
        metrics={"training_rows": len(train), "validation_rows": len(held_out)},
    )


def _labelled(request: RetrainRequest, label: str, columns: list[str]) -> pd.DataFrame:
    """Return the clean rows of every batch with ``columns`` and ``label`` (labelled traffic's
    ``label`` read as ``label``), and ``recent`` marking the rows of labelled traffic."""
    frames = []
    for batch in request.batches:
        one = clean_rows(request.model_copy(update={"batches": [batch]}))
        recent = label not in one.columns and TRAFFIC_LABEL in one.columns
        if recent:
            one = one.rename(columns={TRAFFIC_LABEL: label})
        missing = [c for c in [*columns, label] if c not in one.columns]
        if missing:
            raise DataFileError(f"batch {batch.batch_id}: no column {', '.join(missing)}")
        one = one[[*columns, label]].dropna(subset=[label])
        frames.append(one.assign(recent=recent))
    data = pd.concat(frames, ignore_index=True)
    data[label] = pd.to_numeric(data[label]).round().astype(int)
    if data.empty or data[label].nunique() < 2:
        raise DataFileError(f"the training set needs rows of both {label} classes")
    return data


def reweighing(groups: pd.Series, labels: pd.Series) -> np.ndarray:
    """Return each row's weight P(group) P(label) / P(group, label), which makes group and label
    independent in the weighted set.

    >>> reweighing(pd.Series(["a", "a", "b", "b"]), pd.Series([1, 1, 0, 1])).round(2).tolist()
    [0.75, 0.75, 0.5, 1.5]
    """
    frame = pd.DataFrame({"g": groups.to_numpy(), "y": labels.to_numpy()})
    n = len(frame)
    p_g = frame["g"].map(frame["g"].value_counts() / n)
    p_y = frame["y"].map(frame["y"].value_counts() / n)
    p_gy = frame.groupby(["g", "y"])["g"].transform("size") / n
    return (p_g * p_y / p_gy).to_numpy(dtype=float)


def _save(
    request: RetrainRequest, model: Any, scores: Any, labels: Any, metrics: dict[str, Any]
) -> TrainedModel:
    out = Path(request.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    artifact = out / f"{request.system}-{request.version}.joblib"
    joblib.dump(model, artifact)
    validation = out / f"{request.system}-{request.version}-validation.parquet"
    pd.DataFrame({"score": scores, "label": labels}).to_parquet(validation, index=False)
    return TrainedModel(artifact=str(artifact), validation=str(validation), metrics=metrics)


def train_credit_version(request: RetrainRequest) -> TrainedModel:
    """Return the credit scorer trained on the batches of ``request`` (loan books and labelled
    traffic), reweighed by group as ``request.options`` suggests, saved with its validation
    evidence (probability of default on a held-out quarter) in ``request.output_dir``."""
    data = _labelled(request, CREDIT_LABEL, CREDIT_FEATURES)
    train, held_out = train_test_split(
        data, test_size=0.25, random_state=request.seed, stratify=data[CREDIT_LABEL]
    )
    weights = np.ones(len(train))
    applied: dict[str, Any] = {}
    reweigh = request.options.get("reweigh")
    if isinstance(reweigh, dict) and reweigh.get("column"):
        column = str(reweigh["column"])
        if column not in train.columns:
            raise DataFileError(f"cannot reweigh by {column}: the training set has no such column")
        weights = weights * reweighing(train[column], train[CREDIT_LABEL])
        applied["reweigh"] = column
    group_features = None
    moved = request.options.get("group_features")
    if isinstance(moved, dict) and moved.get("column") and moved.get("features"):
        group_features = GroupInteractions(
            column=str(moved["column"]),
            group=str(moved.get("group", "")),
            features=tuple(str(f) for f in moved["features"] if f in CREDIT_FEATURES),
        )
        applied["group_features"] = list(group_features.features)
    recent_weight = float(request.options.get("recent_weight", 1.0))
    if recent_weight <= 0:
        raise DataFileError(f"options.recent_weight must be > 0, got {recent_weight}")
    weights = np.where(train["recent"].to_numpy(), weights * recent_weight, weights)
    model = train_credit_scorer(train, sample_weight=weights, group_features=group_features)
    scores = model.predict_proba(held_out[CREDIT_FEATURES])[:, 1]
    return _save(
        request,
        model,
        scores,
        held_out[CREDIT_LABEL].to_numpy(),
        {
            "training_rows": len(train),
            "validation_rows": len(held_out),
            "labelled_traffic_rows": int(data["recent"].sum()),
            "applied": applied,
        },
    )


def train_sentiment_version(request: RetrainRequest) -> TrainedModel:
    """Return the sentiment model trained on the review batches and labelled traffic of
    ``request``, saved with its validation evidence in ``request.output_dir``."""
    data = _labelled(request, SENTIMENT_LABEL, ["text"])
    data["text"] = data["text"].astype(str)
    train, held_out = train_test_split(
        data, test_size=0.25, random_state=request.seed, stratify=data[SENTIMENT_LABEL]
    )
    model = train_served_sentiment_model(train)
    scores = model.predict_proba(held_out[["text"]])[:, 1]
    return _save(
        request,
        model,
        scores,
        held_out[SENTIMENT_LABEL].to_numpy(),
        {
            "training_rows": len(train),
            "validation_rows": len(held_out),
            "labelled_traffic_rows": int(data["recent"].sum()),
        },
    )
