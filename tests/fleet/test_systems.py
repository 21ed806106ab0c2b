"""The demo fleet's data and models behave like the systems they stand for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from airsoc.fleet import systems as fleet


def test_fraud_model_separates_fraud() -> None:
    train = fleet.fraud_transactions(6_000, seed=1)
    test = fleet.fraud_transactions(4_000, seed=2)
    model = fleet.train_fraud_detector(train)
    scores = model.predict_proba(test[fleet.FRAUD_FEATURES])[:, 1]
    assert roc_auc_score(test["is_fraud"], scores) > 0.95
    assert 0.01 < test["is_fraud"].mean() < 0.03


def test_credit_bias_raises_group_b_defaults_only() -> None:
    fair = fleet.credit_applications(20_000, seed=3)
    biased = fleet.credit_applications(20_000, seed=3, bias_against_b=1.0)

    def rate(data: pd.DataFrame, group: str) -> float:
        return float(data.loc[data["group"] == group, "defaulted"].mean())

    assert abs(rate(fair, "A") - rate(fair, "B")) < 0.03
    assert rate(biased, "B") - rate(fair, "B") > 0.1
    assert rate(biased, "A") == pytest.approx(rate(fair, "A"))
    model = fleet.train_credit_scorer(fair)
    assert "group" not in fleet.CREDIT_FEATURES
    assert model.predict_proba(fair[fleet.CREDIT_FEATURES]).shape == (20_000, 2)


def test_sentiment_model_reads_reviews() -> None:
    model = fleet.train_sentiment_model(fleet.sentiment_reviews(600, seed=4))
    preds = model.predict(["The kettle is excellent, fast.", "The lamp is terrible, broke."])
    assert list(preds) == [1, 0]


def test_faults() -> None:
    data = fleet.fraud_transactions(5_000, seed=5)
    shifted = fleet.shift_numeric(data, ["amount"], sd=0.2)
    assert (shifted["amount"].mean() - data["amount"].mean()) == pytest.approx(
        0.2 * data["amount"].std()
    )
    nulls = fleet.inject_null_column(data, "distance_km", share=1.0)
    assert nulls["distance_km"].isna().all()
    assert data["distance_km"].notna().all()
    cents = fleet.inject_unit_change(data, "amount")
    assert np.allclose(cents["amount"], data["amount"] * 100)
    poisoned, mask = fleet.flip_labels(data, "is_fraud", share=1.0, only_positive=True)
    assert mask.sum() == data["is_fraud"].sum()
    assert poisoned["is_fraud"].sum() == 0


def test_the_credit_retrain_weighs_the_moved_feature_within_the_group(tmp_path: Path) -> None:
    import joblib

    from airsoc.fleet.retrain import reweighing, train_credit_version
    from airsoc.fleet.systems import credit_applications, train_credit_scorer
    from airsoc.forensics.recovery import RetrainRequest, TrainingBatch
    from airsoc.serving.adapters import SklearnAdapter

    book = credit_applications(3000, seed=4)
    book.to_parquet(tmp_path / "book.parquet")
    # Recent traffic: the south's debt ratios read 2.5 times higher; nobody repays less.
    recent = credit_applications(2000, seed=5)
    south = recent["region"] == "south"
    recent.loc[south, "debt_ratio"] *= 2.5
    recent.drop(columns=["group"]).rename(columns={"defaulted": "label"}).to_parquet(
        tmp_path / "recent.parquet"
    )
    request = RetrainRequest(
        system="credit-scorer",
        version="v2",
        base_version="v1",
        output_dir=str(tmp_path / "out"),
        batches=[
            TrainingBatch(batch_id="book", source="lendco", uri=str(tmp_path / "book.parquet")),
            TrainingBatch(
                batch_id="recent", source="traffic", uri=str(tmp_path / "recent.parquet")
            ),
        ],
        options={
            "reweigh": {"column": "region"},
            "group_features": {"column": "region", "group": "south", "features": ["debt_ratio"]},
            "recent_weight": 3,
        },
    )
    trained = train_credit_version(request)
    assert trained.metrics["labelled_traffic_rows"] == 2000
    assert trained.metrics["applied"] == {"reweigh": "region", "group_features": ["debt_ratio"]}
    test = credit_applications(6000, seed=9)
    test.loc[test["region"] == "south", "debt_ratio"] *= 2.5
    columns = ["income", "debt_ratio", "age", "employment_years", "region"]
    rows = [{str(k): v for k, v in r.items()} for r in test[columns].to_dict("records")]
    schema = {"income": "number", "debt_ratio": "number", "age": "number",
              "employment_years": "number", "region": "string"}  # fmt: skip

    def approval_ratio(model: object) -> float:
        served = SklearnAdapter(model, features=schema).predict(rows)
        approved = pd.Series([o.prediction == 0 for o in served]).groupby(test["region"]).mean()
        return float(approved["south"] / approved.max())

    before = approval_ratio(train_credit_scorer(book))
    after = approval_ratio(joblib.load(trained.artifact))
    assert before < 0.6 < 0.8 < after
    weights = reweighing(pd.Series(["a", "a", "b"]), pd.Series([1, 0, 1]))
    assert weights.round(3).tolist() == [1.333, 0.667, 0.667]
