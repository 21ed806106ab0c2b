"""The fleet's recommender: impressions with clicks and orders, its click model, and the two
faults a click-through monitor must tell apart.

Each impression is one recommended item shown to a user (their ``segment``, the item's
``category``, the slot ``position``); the user may click it, and an order may follow a click.
Clicks reach the platform through the click logger, orders through the order system.

- ``engagement`` below 1 is a real drop: users click (and so order) less;
- ``click_logging`` below 1 is a logging bug: that share of clicks is recorded, the rest lost,
  while every order is still recorded.

Example:
    >>> real = impressions(20_000, seed=1, engagement=0.5)
    >>> bug = impressions(20_000, seed=1, click_logging=0.5)
    >>> base = impressions(20_000, seed=1)
    >>> round(float(real["click"].mean() / base["click"].mean()), 1)
    0.5
    >>> round(float(bug["click"].mean() / base["click"].mean()), 1)
    0.5
    >>> int((bug["order"] > bug["click"]).sum()) > 0, int((real["order"] > real["click"]).sum())
    (True, 0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

__all__ = [
    "RECOMMENDER_FEATURES",
    "impressions",
    "train_recommender",
]

RECOMMENDER_FEATURES = ["segment", "category", "position"]
_SEGMENTS = ["new", "casual", "loyal"]
_CATEGORIES = ["books", "games", "garden", "kitchen", "music", "sports"]
_AFFINITY = {"new": 0.7, "casual": 1.0, "loyal": 1.6}


def impressions(
    n: int, *, seed: int = 0, engagement: float = 1.0, click_logging: float = 1.0
) -> pd.DataFrame:
    """Return ``n`` impressions with the logged ``click`` and the ``order`` outcome (0/1)."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(_SEGMENTS, n, p=[0.3, 0.5, 0.2])
    category = rng.choice(_CATEGORIES, n)
    position = rng.integers(1, 6, n)
    affinity = np.array([_AFFINITY[s] for s in segment])
    ctr = np.clip(0.09 * affinity / np.sqrt(position) * engagement, 0, 1)
    clicked = rng.random(n) < ctr
    ordered = clicked & (rng.random(n) < 0.25)
    logged = clicked & (rng.random(n) < click_logging)
    return pd.DataFrame(
        {
            "segment": segment,
            "category": category,
            "position": position.astype(float),
            "click": logged.astype(int),
            "order": ordered.astype(int),
        }
    )


def train_recommender(data: pd.DataFrame) -> Pipeline:
    """Return a fitted click model: the probability that an impression is clicked."""
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["segment", "category"])],
        remainder="passthrough",
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])
    model.fit(data[RECOMMENDER_FEATURES], data["click"])
    return model
