"""The demo fleet's data and models behave like the systems they stand for."""

from __future__ import annotations

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
