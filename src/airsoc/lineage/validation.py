"""A model version's own validation evidence: the scores it gave its validation set, and the
metrics measured there.

A validation file is CSV or Parquet with one row per validation example: a ``score`` column
(the model's score for the positive class, in [0, 1]), optionally the true ``label`` (0/1) and
the ``prediction`` (0/1; without it, ``score >= threshold``). :func:`describe_validation` reads
it once at registration and returns the record the registry keeps with the version (in its
metrics, under ``validation``): where the file is, its sha256, its size, and the metrics
measured on it (``recall``, ``precision``, ``accuracy``, ``positive_rate`` and the counts they
come from). :func:`read_validation` reads the scores back for a monitor, refusing a file whose
content no longer matches the registered hash.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> path = Path(tempfile.mkdtemp()) / "val.csv"
    >>> pd.DataFrame({"score": [0.9, 0.2, 0.8, 0.1], "label": [1, 0, 0, 0]}).to_csv(path)
    >>> record = describe_validation(path)
    >>> record["rows"], record["metrics"]["recall"], record["metrics"]["precision"]
    (4, 1.0, 0.5)
    >>> list(read_validation(record).columns)
    ['score', 'label', 'prediction']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airsoc.errors import DataFileError, HashMismatchError, InputError
from airsoc.lineage.integrity import sha256_file

__all__ = ["VALIDATION_KEY", "describe_validation", "read_validation", "validation_record"]

#: Where a version's metrics hold its validation evidence record.
VALIDATION_KEY = "validation"


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataFileError(f"validation file {path} does not exist")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"validation file {path} cannot be read: {exc}") from None
    raise DataFileError(f"validation file {path}: use a .csv or .parquet file")


def _shown(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _binary(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | ~values.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"validation file {path}: {column} row {row} is {_shown(frame[column].iloc[row])!r}, "
            "not 0 or 1",
            loc=column,
        )
    return values.to_numpy(dtype=int)


def _table(frame: pd.DataFrame, path: Path, threshold: float) -> pd.DataFrame:
    if "score" not in frame.columns:
        raise InputError(
            f"validation file {path} has no 'score' column (columns: {', '.join(frame.columns)})",
            loc="score",
        )
    if frame.empty:
        raise InputError(f"validation file {path} has no rows")
    score = pd.to_numeric(frame["score"], errors="coerce")
    bad = score.isna() | (score < 0) | (score > 1)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"validation file {path}: score row {row} is {_shown(frame['score'].iloc[row])!r}, "
            "not a number in [0, 1]",
            loc="score",
        )
    out = pd.DataFrame({"score": score.to_numpy(dtype=float)})
    if "label" in frame.columns:
        out["label"] = _binary(frame, "label", path)
    if "prediction" in frame.columns:
        out["prediction"] = _binary(frame, "prediction", path)
    else:
        out["prediction"] = (out["score"] >= threshold).astype(int)
    return out


def _metrics(table: pd.DataFrame) -> dict[str, Any]:
    predicted = table["prediction"].to_numpy() == 1
    out: dict[str, Any] = {
        "positive_rate": round(float(predicted.mean()), 6),
        "mean_score": round(float(table["score"].mean()), 6),
    }
    if "label" not in table.columns:
        return out
    actual = table["label"].to_numpy() == 1
    tp = int((predicted & actual).sum())
    out.update(
        positives=int(actual.sum()),
        predicted_positives=int(predicted.sum()),
        true_positives=tp,
        accuracy=round(float((predicted == actual).mean()), 6),
    )
    if actual.any():
        out["recall"] = round(tp / int(actual.sum()), 6)
    if predicted.any():
        out["precision"] = round(tp / int(predicted.sum()), 6)
    return out


def describe_validation(path: str | Path, *, threshold: float = 0.5) -> dict[str, Any]:
    """Return the registry's record of the validation file at ``path``: its URI, sha256, row
    count, decision threshold and the metrics measured on it."""
    if not 0 < threshold < 1:
        raise InputError(f"the decision threshold must be in (0, 1), got {threshold}")
    file = Path(path).resolve()
    table = _table(_read(file), file, threshold)
    return {
        "uri": str(file),
        "sha256": sha256_file(file),
        "rows": len(table),
        "threshold": threshold,
        "labelled": "label" in table.columns,
        "metrics": _metrics(table),
    }


def validation_record(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the validation record kept in a version's ``metrics``, or None when it has none.

    >>> validation_record({"auc": 0.9}) is None
    True
    """
    record = metrics.get(VALIDATION_KEY)
    return dict(record) if isinstance(record, Mapping) and record.get("uri") else None


def read_validation(record: Mapping[str, Any]) -> pd.DataFrame:
    """Return the validation table (``score``, ``label`` when labelled, ``prediction``) of a
    record, after checking the file still hashes to the registered sha256."""
    path = Path(str(record["uri"]))
    if not path.exists():
        raise DataFileError(f"validation file {path} does not exist")
    actual = sha256_file(path)
    if actual != record["sha256"]:
        raise HashMismatchError(
            f"validation file {path} hashes to {actual}, the registry holds {record['sha256']}"
        )
    return _table(_read(path), path, float(record.get("threshold", 0.5)))
