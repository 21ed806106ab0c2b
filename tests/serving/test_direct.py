"""Served pipelines called on columns: exactly the pipeline's outputs on the fleet's models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from airsoc.fleet.recommender import RECOMMENDER_FEATURES, impressions, train_recommender
from airsoc.fleet.setup import SCHEMAS
from airsoc.fleet.systems import (
    CREDIT_FEATURES,
    FRAUD_FEATURES,
    GroupInteractions,
    credit_applications,
    fraud_transactions,
    sentiment_reviews,
    train_credit_scorer,
    train_fraud_detector,
    train_served_sentiment_model,
)
from airsoc.serving.adapters import SklearnAdapter
from airsoc.serving.direct import direct_pipeline


def _rows(frame: pd.DataFrame, schema: dict[str, str]) -> list[dict[str, Any]]:
    """Rows as the gateway hands them: JSON-typed values (numbers as floats, some as ints)."""
    rows = []
    for i, record in enumerate(frame[list(schema)].to_dict("records")):
        row: dict[str, Any] = {}
        for name, kind in schema.items():
            value = record[name]
            if kind == "string":
                row[name] = str(value)
            else:
                number = float(value)
                # Every third row sends its whole numbers as JSON integers.
                row[name] = int(number) if i % 3 == 0 and number.is_integer() else number
        rows.append(row)
    return rows


def _usual(adapter: SklearnAdapter, rows: list[dict[str, Any]]) -> np.ndarray:
    """The pipeline called as before: on a pandas table built from the rows."""
    return np.asarray(adapter.model.predict_proba(adapter._data(rows)))


def _fleet() -> dict[str, tuple[Any, pd.DataFrame, dict[str, str]]]:
    reviews = sentiment_reviews(2000, seed=8)
    slang = reviews.assign(text=reviews["text"].str.replace("excellent", "lit").str.upper())
    fraud = fraud_transactions(3000, seed=3)
    fraud_x = fraud[FRAUD_FEATURES].assign(country_mismatch=fraud["country_mismatch"].astype(float))
    credit = credit_applications(2000, seed=4)
    shown = impressions(3000, seed=5)
    return {
        "fraud-detector": (train_fraud_detector(fraud), fraud_x, SCHEMAS["fraud-detector"]),
        "credit-scorer": (
            train_credit_scorer(credit),
            credit[CREDIT_FEATURES],
            SCHEMAS["credit-scorer"],
        ),
        "sentiment-model": (
            train_served_sentiment_model(reviews.head(600)),
            pd.concat([reviews, slang])[["text"]].sample(frac=1.0, random_state=2),
            SCHEMAS["sentiment-model"],
        ),
        "recommender": (
            train_recommender(shown),
            shown[RECOMMENDER_FEATURES],
            SCHEMAS["recommender"],
        ),
    }


FLEET = _fleet()


@pytest.mark.parametrize("system", sorted(FLEET))
def test_fleet_models_give_exactly_the_pipelines_outputs(system: str) -> None:
    model, frame, schema = FLEET[system]
    adapter = SklearnAdapter(model, features=schema)
    assert adapter._direct is not None, f"{system} is not called directly"
    rows = _rows(frame.head(400), schema)
    for size in (1, 3, 8, 400):
        for start in range(0, len(rows), size * 7 + 1):
            batch = rows[start : start + size]
            if not batch:
                continue
            expected = _usual(adapter, batch)
            got = adapter.predict_proba(batch)
            assert got.dtype == expected.dtype
            assert got.shape == expected.shape
            assert np.array_equal(got, expected), (system, start, size)
    outputs = adapter.predict(rows[:50])
    proba = _usual(adapter, rows[:50])
    assert [o.score for o in outputs] == proba[:, 1].tolist()
    assert [o.prediction for o in outputs] == model.classes_[proba.argmax(axis=1)].tolist()


def test_unknown_categories_are_zero_as_in_the_pipeline() -> None:
    model, frame, schema = FLEET["fraud-detector"]
    adapter = SklearnAdapter(model, features=schema)
    rows = _rows(frame.head(20), schema)
    for i, row in enumerate(rows):
        if i % 2:
            row["merchant_category"] = f"never-seen-{i}"
    assert np.array_equal(adapter.predict_proba(rows), _usual(adapter, rows))


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("inf"), True, 2**60, np.float64(1.5)],
    ids=["nan", "inf", "bool", "huge-int", "numpy-float"],
)
def test_values_outside_the_plain_types_take_the_usual_path(bad: Any) -> None:
    model, frame, schema = FLEET["fraud-detector"]
    adapter = SklearnAdapter(model, features=schema)
    assert adapter._direct is not None
    rows = _rows(frame.head(5), schema)
    rows[2]["amount"] = bad
    columns = {n: [r[n] for r in rows] for n in schema}
    assert adapter._direct.transform(columns, len(rows)) is None
    # The usual path answers (the trees take NaN) exactly as the pipeline does.
    assert np.array_equal(adapter.predict_proba(rows), _usual(adapter, rows))


def test_a_non_string_category_takes_the_usual_path() -> None:
    model, frame, schema = FLEET["recommender"]
    adapter = SklearnAdapter(model, features=schema)
    assert adapter._direct is not None
    rows = _rows(frame.head(4), schema)
    rows[1]["segment"] = 3
    columns = {n: [r[n] for r in rows] for n in schema}
    assert adapter._direct.transform(columns, len(rows)) is None


def test_pipelines_it_cannot_reproduce_are_called_as_usual() -> None:
    credit = credit_applications(1000, seed=6)
    grouped = train_credit_scorer(
        credit,
        group_features=GroupInteractions(column="region", group="south", features=("debt_ratio",)),
    )
    assert direct_pipeline(grouped, SCHEMAS["credit-scorer"]) is None
    frame = pd.DataFrame({"kind": ["a", "b"] * 20, "x": np.arange(40.0)})
    sparse = Pipeline(
        [
            ("pre", ColumnTransformer([("k", OneHotEncoder(), ["kind"])], sparse_threshold=1.0)),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame, [0, 1] * 20)
    assert direct_pipeline(sparse, {"kind": "string", "x": "number"}) is None
    # A category typed as a number in the schema is one-hot encoded on numbers: not reproduced.
    model, _, schema = FLEET["recommender"]
    assert direct_pipeline(model, {**schema, "segment": "number"}) is None


def test_a_configured_output_container_takes_the_usual_path() -> None:
    model, frame, schema = FLEET["credit-scorer"]
    adapter = SklearnAdapter(model, features=schema)
    rows = _rows(frame.head(6), schema)
    with sklearn.config_context(transform_output="pandas"):
        assert adapter._direct is not None
        columns = {n: [r[n] for r in rows] for n in schema}
        assert adapter._direct.transform(columns, len(rows)) is None
        # The pipeline itself refuses (its one-hot output is sparse): so does the adapter.
        with pytest.raises(ValueError, match="does not support sparse data"):
            _usual(adapter, rows)
        with pytest.raises(ValueError, match="does not support sparse data"):
            adapter.predict_proba(rows)


def _columns_usual(adapter: SklearnAdapter, columns: dict[str, Any]) -> np.ndarray:
    """Column-wise probabilities as before: the pipeline on a table of the columns."""
    frame = pd.DataFrame({n: columns[n] for n in adapter._names})
    return np.asarray(adapter.model.predict_proba(frame), dtype=float)


@pytest.mark.parametrize("system", sorted(FLEET))
def test_monitor_probes_by_column_give_exactly_the_pipelines_outputs(system: str) -> None:
    """What the evasion monitor sends: float64 array slices and object arrays of levels."""
    model, frame, schema = FLEET[system]
    adapter = SklearnAdapter(model, features=schema)
    numbers = [n for n, kind in schema.items() if kind == "number"]
    strings = [n for n, kind in schema.items() if kind == "string"]
    rng = np.random.default_rng(7)
    x = frame[numbers].to_numpy(dtype=float)[:300] * rng.normal(1.0, 0.05, (300, len(numbers)))
    columns: dict[str, Any] = {c: x[:, j] for j, c in enumerate(numbers)}
    for name in strings:
        levels = [*sorted(set(frame[name].astype(str))), "never-seen"]
        columns[name] = np.asarray(levels, dtype=object)[rng.integers(0, len(levels), 300)]
    got = adapter.predict_proba_columns(columns)
    assert np.array_equal(got, _columns_usual(adapter, columns))
    # A non-finite probe value takes the usual path, and still answers as the pipeline does.
    if system == "fraud-detector":
        columns[numbers[0]] = columns[numbers[0]].copy()
        columns[numbers[0]][3] = np.nan
        assert adapter._direct is not None
        assert adapter._direct.transform(columns, 300) is None
        assert np.array_equal(
            adapter.predict_proba_columns(columns), _columns_usual(adapter, columns), equal_nan=True
        )
