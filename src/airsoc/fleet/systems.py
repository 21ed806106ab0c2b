"""The demo fleet's tabular systems: seeded data generators, real scikit-learn models, and the
faults a drill injects (covariate shift, pipeline faults, a poisoned vendor batch).

- ``fraud-detector``: card transactions, 2% fraud, gradient-boosted trees.
- ``credit-scorer``: loan applications with a protected attribute, logistic regression.
- ``sentiment-model``: short product reviews, TF-IDF + logistic regression.

Example:
    >>> data = fraud_transactions(2_000, seed=7)
    >>> sorted(data.columns)[:3], round(float(data["is_fraud"].mean()), 2)
    (['amount', 'card_age_days', 'country_mismatch'], 0.02)
    >>> model = train_fraud_detector(fraud_transactions(4_000, seed=1))
    >>> model.predict_proba(data[FRAUD_FEATURES].head(3)).shape
    (3, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = [
    "CREDIT_FEATURES",
    "FRAUD_FEATURES",
    "credit_applications",
    "flip_labels",
    "fraud_transactions",
    "inject_null_column",
    "inject_unit_change",
    "sentiment_reviews",
    "shift_numeric",
    "train_credit_scorer",
    "train_fraud_detector",
    "train_sentiment_model",
    "train_served_sentiment_model",
]

MERCHANTS = ["grocery", "fuel", "travel", "electronics", "restaurants", "online", "pharmacy"]
FRAUD_FEATURES = [
    "amount",
    "hour",
    "distance_km",
    "card_age_days",
    "tx_last_24h",
    "merchant_category",
    "country_mismatch",
]
CREDIT_FEATURES = ["income", "debt_ratio", "age", "employment_years", "region"]
REGIONS = ["north", "south", "east", "west"]


def fraud_transactions(
    n: int, *, seed: int = 0, fraud_rate: float = 0.02, hard_share: float = 0.0
) -> pd.DataFrame:
    """Return ``n`` card transactions with an ``is_fraud`` label (about ``fraud_rate`` positive).

    ``hard_share`` of the fraud looks like ordinary spending (daytime, small amounts, old cards,
    near home): fraud no model catches from these features, so every version errs now and then.

    >>> hard = fraud_transactions(20_000, seed=3, hard_share=0.5)
    >>> night = hard.loc[hard["is_fraud"] == 1, "hour"] < 6
    >>> 0.4 < float(night.mean()) < 0.6
    True
    """
    if not 0.0 <= hard_share <= 1.0:
        raise ValueError(f"hard_share must be between 0 and 1, got {hard_share}")
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < fraud_rate
    amount = np.where(fraud, rng.lognormal(5.2, 1.0, n), rng.lognormal(3.6, 0.9, n))
    hour = np.where(fraud, rng.integers(0, 6, n), rng.integers(6, 24, n)).astype(float)
    distance = np.where(fraud, rng.exponential(400, n), rng.exponential(15, n))
    card_age = np.where(fraud, rng.exponential(40, n), rng.exponential(900, n))
    tx_24h = rng.poisson(np.where(fraud, 9, 3)).astype(float)
    merchant = np.where(
        fraud,
        rng.choice(["online", "electronics", "travel"], n),
        rng.choice(MERCHANTS, n, p=[0.3, 0.15, 0.05, 0.05, 0.2, 0.15, 0.1]),
    )
    mismatch = np.where(fraud, rng.random(n) < 0.6, rng.random(n) < 0.03)
    if hard_share > 0:
        # Drawn after the rest, so hard_share=0 gives the same transactions as before.
        hard = fraud & (rng.random(n) < hard_share)
        amount = np.where(hard, rng.lognormal(3.6, 0.9, n), amount)
        hour = np.where(hard, rng.integers(6, 24, n), hour).astype(float)
        distance = np.where(hard, rng.exponential(15, n), distance)
        card_age = np.where(hard, rng.exponential(900, n), card_age)
        tx_24h = np.where(hard, rng.poisson(3, n), tx_24h).astype(float)
        mismatch = np.where(hard, rng.random(n) < 0.03, mismatch)
    return pd.DataFrame(
        {
            "amount": amount.round(2),
            "hour": hour,
            "distance_km": distance.round(1),
            "card_age_days": card_age.round(0),
            "tx_last_24h": tx_24h,
            "merchant_category": merchant,
            "country_mismatch": mismatch,
            "is_fraud": fraud.astype(int),
        }
    )


def credit_applications(
    n: int, *, seed: int = 0, group_b_share: float = 0.35, bias_against_b: float = 0.0
) -> pd.DataFrame:
    """Return loan applications with a protected ``group`` (A/B) and a ``defaulted`` label.

    ``bias_against_b`` raises group B's recorded default rate: the historical bias a fairness
    regression drill feeds into retraining.
    """
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < group_b_share, "B", "A")
    income = rng.lognormal(10.8, 0.45, n)
    debt = np.clip(rng.beta(2, 5, n), 0, 1)
    age = rng.integers(21, 75, n).astype(float)
    years = np.clip(rng.exponential(6, n), 0, age - 18)
    region = rng.choice(REGIONS, n)
    logit = -1.2 + 3.5 * debt - 0.9 * (np.log(income) - 10.8) - 0.05 * years
    logit = logit + np.where(group == "B", bias_against_b, 0.0)
    defaulted = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "income": income.round(0),
            "debt_ratio": debt.round(3),
            "age": age,
            "employment_years": years.round(1),
            "region": region,
            "group": group,
            "defaulted": defaulted.astype(int),
        }
    )


_POSITIVE = ["great", "love", "excellent", "fast", "works perfectly", "recommend", "sturdy"]
_NEGATIVE = ["broke", "terrible", "slow", "refund", "disappointed", "never again", "cheap plastic"]
_ITEMS = ["blender", "headphones", "backpack", "kettle", "phone case", "desk lamp", "sneakers"]


def sentiment_reviews(n: int, *, seed: int = 0) -> pd.DataFrame:
    """Return ``n`` short product reviews with a ``positive`` label (1 or 0)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        positive = bool(rng.random() < 0.6)
        words = _POSITIVE if positive else _NEGATIVE
        picked = rng.choice(words, size=2, replace=False)
        item = rng.choice(_ITEMS)
        rows.append((f"The {item} is {picked[0]}, {picked[1]}.", int(positive)))
    return pd.DataFrame(rows, columns=["text", "positive"])


def train_fraud_detector(data: pd.DataFrame, *, seed: int = 0) -> Pipeline:
    """Return a fitted fraud model (one-hot merchant, gradient-boosted trees)."""
    pre = ColumnTransformer(
        [("merchant", OneHotEncoder(handle_unknown="ignore"), ["merchant_category"])],
        remainder="passthrough",
    )
    model = Pipeline(
        [("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=80, random_state=seed))]
    )
    features = data[FRAUD_FEATURES].assign(country_mismatch=data["country_mismatch"].astype(float))
    model.fit(features, data["is_fraud"])
    return model


class GroupInteractions(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Add, for the rows of one group, a copy of some features (zero elsewhere): a linear model
    can then weigh those features differently in that group (e.g. a group whose debt ratios were
    measured on another scale). The other columns pass through.

    >>> frame = pd.DataFrame({"region": ["north", "south"], "debt_ratio": [0.2, 0.6]})
    >>> GroupInteractions(column="region", group="south", features=("debt_ratio",)).fit(
    ...     frame).transform(frame)["debt_ratio@region=south"].tolist()
    [0.0, 0.6]
    """

    def __init__(self, *, column: str = "", group: str = "", features: tuple[str, ...] = ()):
        self.column = column
        self.group = group
        self.features = features

    @property
    def added(self) -> list[str]:
        """Return the names of the columns this adds."""
        return [f"{f}@{self.column}={self.group}" for f in self.features]

    def fit(self, data: pd.DataFrame, y: Any = None) -> GroupInteractions:
        """Check the columns are there (nothing is learnt)."""
        missing = [c for c in (self.column, *self.features) if c not in data.columns]
        if missing:
            raise ValueError(f"GroupInteractions: no column {', '.join(missing)}")
        # Served models are handed frames with these columns, in this order.
        self.feature_names_in_ = np.asarray(data.columns, dtype=object)
        self.n_features_in_ = len(data.columns)
        return self

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Return ``data`` with the group's copies of the features."""
        out = data.copy()
        inside = (out[self.column].astype(str) == self.group).to_numpy()
        for feature, name in zip(self.features, self.added, strict=True):
            out[name] = np.where(inside, out[feature].astype(float), 0.0)
        return out


def train_credit_scorer(
    data: pd.DataFrame,
    *,
    sample_weight: np.ndarray[Any, Any] | None = None,
    group_features: GroupInteractions | None = None,
) -> Pipeline:
    """Return a fitted default-risk model (rows weighted by ``sample_weight`` when given, with
    the group's own copies of features when ``group_features`` says so); the protected group is
    not a feature."""
    numeric = [c for c in CREDIT_FEATURES if c != "region"]
    steps: list[tuple[str, Any]] = []
    if group_features is not None and group_features.features:
        steps.append(("group", group_features))
        numeric += group_features.added
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("region", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    model = Pipeline([*steps, ("pre", pre), ("clf", LogisticRegression(max_iter=500))])
    if sample_weight is None:
        model.fit(data[CREDIT_FEATURES], data["defaulted"])
    else:
        model.fit(data[CREDIT_FEATURES], data["defaulted"], clf__sample_weight=sample_weight)
    return model


def train_sentiment_model(data: pd.DataFrame) -> Pipeline:
    """Return a fitted review-sentiment model (word TF-IDF + logistic regression)."""
    model = Pipeline(
        [("tfidf", TfidfVectorizer(ngram_range=(1, 2))), ("clf", LogisticRegression(max_iter=500))]
    )
    model.fit(data["text"], data["positive"])
    return model


def train_served_sentiment_model(data: pd.DataFrame) -> Pipeline:
    """Return a fitted review-sentiment model that reads the ``text`` column of a table, as the
    gateway hands it rows.

    >>> model = train_served_sentiment_model(sentiment_reviews(600, seed=4))
    >>> model.predict(pd.DataFrame({"text": ["The kettle is excellent, fast."]})).tolist()
    [1]
    """
    text = ColumnTransformer([("tfidf", TfidfVectorizer(ngram_range=(1, 2)), "text")])
    model = Pipeline([("text", text), ("clf", LogisticRegression(max_iter=500))])
    model.fit(data[["text"]], data["positive"])
    return model


def shift_numeric(
    data: pd.DataFrame, columns: list[str], *, sd: float, seed: int = 0
) -> pd.DataFrame:
    """Return a copy with ``columns`` shifted by ``sd`` of their own standard deviation."""
    del seed  # the shift is deterministic; kept for a uniform fault signature
    out = data.copy()
    for col in columns:
        out[col] = out[col] + sd * float(out[col].std())
    return out


def inject_null_column(
    data: pd.DataFrame, column: str, *, share: float = 1.0, seed: int = 0
) -> pd.DataFrame:
    """Return a copy where ``share`` of ``column`` is null: a broken upstream join."""
    rng = np.random.default_rng(seed)
    out = data.copy()
    mask = rng.random(len(out)) < share
    out[column] = out[column].astype(float).where(~mask)
    return out


def inject_unit_change(data: pd.DataFrame, column: str, *, factor: float = 100.0) -> pd.DataFrame:
    """Return a copy where ``column`` is multiplied by ``factor``: e.g. cents sent as units."""
    out = data.copy()
    out[column] = out[column] * factor
    return out


def flip_labels(
    data: pd.DataFrame,
    label: str,
    *,
    share: float,
    seed: int = 0,
    only_positive: bool = False,
    where: np.ndarray[Any, np.dtype[np.bool_]] | None = None,
) -> tuple[pd.DataFrame, np.ndarray[Any, np.dtype[np.bool_]]]:
    """Return a copy with ``share`` of labels flipped (a poisoned vendor batch) and the mask.

    With ``only_positive`` only positives are flipped to negative: fraud relabelled as legit.
    ``where`` limits the flips to the rows it marks (one fraud pattern, say).

    >>> data = fraud_transactions(5_000, seed=2)
    >>> electronics = (data["merchant_category"] == "electronics").to_numpy()
    >>> out, mask = flip_labels(data, "is_fraud", share=1.0, only_positive=True,
    ...                         where=electronics)
    >>> bool(out.loc[electronics, "is_fraud"].sum()), int(mask.sum()) > 0
    (False, True)
    """
    rng = np.random.default_rng(seed)
    out = data.copy()
    candidates = out[label].to_numpy() == 1 if only_positive else np.ones(len(out), dtype=bool)
    if where is not None:
        if len(where) != len(out):
            raise ValueError(f"where marks {len(where)} rows; the data has {len(out)}")
        candidates = candidates & np.asarray(where, dtype=bool)
    flipped = candidates & (rng.random(len(out)) < share)
    out.loc[flipped, label] = 1 - out.loc[flipped, label]
    return out, flipped
