"""A registry with real training batches on disk and two scikit-learn versions, for wiring tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from airsoc import lineage
from airsoc.clock import Clock
from airsoc.serving import control
from airsoc.store import Store

SYSTEM = "fraud"
FEATURES = {"amount": "number", "hour": "number"}


def rows(seed: int, n: int, *, mean: float = 100.0) -> pd.DataFrame:
    """Return ``n`` fraud-like input rows."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(mean, 15, n), "hour": rng.uniform(0, 24, n)})


def sha256(path: Path) -> str:
    """Return the hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_registry(store: Store, clock: Clock, folder: Path, *, serve: bool = True) -> None:
    """Register ``fraud``: batches b1 (Parquet), b2 (CSV), rag system ``bot``; v1 known-good
    on b1, v2 on b1+b2, v2 serving."""
    b1, b2 = folder / "b1.parquet", folder / "b2.csv"
    rows(1, 400).to_parquet(b1)
    rows(2, 400).to_csv(b2, index=False)
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="alice", name=SYSTEM, kind="tabular-classifier", owner="risk"
        )
        lineage.register_system(
            s, clock=clock, actor="alice", name="bot", kind="rag-app", owner="cx"
        )
        for batch, path, source in (("b1", b1, "acme"), ("b2", b2, "globex")):
            lineage.register_batch(
                s,
                clock=clock,
                actor="etl",
                batch_id=batch,
                source=source,
                rows=400,
                sha256=sha256(path),
                uri=str(path),
            )
        data = pd.concat([rows(1, 400), rows(2, 400)])
        for version, batches in (("v1", ["b1"]), ("v2", ["b1", "b2"])):
            model = LogisticRegression(max_iter=500).fit(
                data.to_numpy(), (data["amount"] > 110).astype(int)
            )
            path = folder / f"{version}.joblib"
            joblib.dump(model, path)
            lineage.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system=SYSTEM,
                version=version,
                artifact_uri=str(path),
                sha256=sha256(path),
                training_batches=batches,
                input_schema=FEATURES,
            )
        lineage.mark_known_good(
            s, clock=clock, actor="alice", system=SYSTEM, version="v1", reason="holdout review"
        )
        if serve:
            control.promote(
                s, clock=clock, actor="ci", system=SYSTEM, version="v2", reason="release"
            )
