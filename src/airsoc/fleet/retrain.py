"""The demo fleet's training hook: retrain the fraud detector on a clean training set.

``systems.fraud-detector.retrain: {hook: "airsoc.fleet.retrain:train_fraud_version"}`` names it
in ``airsoc.yaml``; :func:`airsoc.forensics.recovery.retrain` calls it with the batches to train
on (each a Parquet file of transactions with its ``is_fraud`` label) and the rows to leave out.
It trains on three quarters of the clean rows and writes the other quarter's scores and labels
as the new version's validation evidence.

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

import joblib
import pandas as pd
from sklearn.model_selection import train_test_split

from airsoc.errors import DataFileError
from airsoc.fleet.systems import FRAUD_FEATURES, train_fraud_detector
from airsoc.forensics.recovery import RetrainRequest, TrainedModel

__all__ = ["FRAUD_LABEL", "clean_rows", "train_fraud_version"]

FRAUD_LABEL = "is_fraud"


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
