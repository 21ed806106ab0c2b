"""Seeded generators of tabular traffic and training batches with known attacks, for tests and the
benchmark: fraud transactions from several vendors (three fraud patterns), a credit-scoring table,
backdoors, targeted label flips and label-prior changes.

>>> batch = fraud_batch(500, seed=1)
>>> sorted(batch.columns)[:3], int(batch["label"].sum()) > 0
(['account_age', 'amount', 'card_present'], True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = [
    "amount",
    "hour",
    "distance",
    "velocity",
    "merchant_risk",
    "account_age",
    "card_present",
    "foreign",
]
PATTERNS = ("card_testing", "account_takeover", "merchant_collusion")


def legit_rows(
    n: int, rng: np.random.Generator, vendor_shift: float, *, hour_shift: float = 2.0
) -> np.ndarray:
    """Return ``n`` legitimate transactions; a vendor's shift moves amounts (and hours)."""
    amount = rng.lognormal(3.6 + vendor_shift, 0.9, n)
    hour = np.clip(rng.normal(14 + hour_shift * vendor_shift, 4, n), 0, 23.99)
    distance = rng.gamma(2.0, 6.0, n)
    velocity = rng.poisson(1.2, n).astype(float)
    merchant_risk = rng.beta(2, 8, n)
    account_age = rng.gamma(3.0, 300.0, n)
    card_present = (rng.random(n) < 0.7).astype(float)
    foreign = (rng.random(n) < 0.05).astype(float)
    return np.column_stack(
        [amount, hour, distance, velocity, merchant_risk, account_age, card_present, foreign]
    )


def fraud_rows(
    pattern: str, n: int, rng: np.random.Generator, *, collusion_risk: float = 8.0
) -> np.ndarray:
    """Return ``n`` fraudulent transactions of one pattern (``collusion_risk`` is the first
    beta parameter of a colluding merchant's risk score)."""
    x = legit_rows(n, rng, 0.0)
    if pattern == "card_testing":
        x[:, 0] = rng.lognormal(0.7, 0.5, n)
        x[:, 3] = rng.poisson(9, n)
        x[:, 6] = (rng.random(n) < 0.1).astype(float)
    elif pattern == "account_takeover":
        x[:, 0] = rng.lognormal(6.0, 0.6, n)
        x[:, 1] = rng.uniform(0, 6, n)
        x[:, 2] = rng.gamma(4.0, 150.0, n)
        x[:, 5] = rng.gamma(2.0, 200.0, n)
        x[:, 7] = (rng.random(n) < 0.6).astype(float)
    else:
        x[:, 4] = rng.beta(collusion_risk, 2, n)
        x[:, 0] = rng.lognormal(4.8, 0.5, n)
        x[:, 6] = (rng.random(n) < 0.2).astype(float)
    return x


def fraud_batch(
    n: int, *, seed: int, fraud_rate: float = 0.05, vendor_shift: float = 0.0
) -> pd.DataFrame:
    """Return ``n`` transactions with a ``label`` (1 = fraud) and the generator's ``pattern``."""
    rng = np.random.default_rng(seed)
    n_fraud = int(rng.binomial(n, fraud_rate))
    counts = rng.multinomial(n_fraud, [0.4, 0.35, 0.25])
    parts = [legit_rows(n - n_fraud, rng, vendor_shift)]
    patterns = ["legit"] * (n - n_fraud)
    labels = [0] * (n - n_fraud)
    for pattern, k in zip(PATTERNS, counts, strict=True):
        parts.append(fraud_rows(pattern, int(k), rng))
        patterns += [pattern] * int(k)
        labels += [1] * int(k)
    frame = pd.DataFrame(np.vstack(parts), columns=FEATURES)
    frame["label"] = labels
    frame["pattern"] = patterns
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def vendor_batches(
    weeks: int,
    *,
    vendors: tuple[str, ...] = ("acme", "bolt", "cobalt"),
    n: int = 2000,
    seed: int = 0,
) -> dict[tuple[str, int], pd.DataFrame]:
    """Return one clean weekly batch per vendor and week; vendors differ slightly in amounts."""
    shifts = {v: 0.1 * i for i, v in enumerate(vendors)}
    return {
        (v, w): fraud_batch(n, seed=seed + 1000 * i + w, vendor_shift=shifts[v])
        for i, v in enumerate(vendors)
        for w in range(weeks)
    }


def flip_pattern(
    batch: pd.DataFrame, pattern: str = "account_takeover"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the batch with one fraud pattern's labels flipped to legitimate, and those rows."""
    out = batch.copy()
    rows = np.flatnonzero(out["pattern"].to_numpy() == pattern)
    out.loc[rows, "label"] = 0
    return out, rows


def add_backdoor(
    batch: pd.DataFrame, *, share: float = 0.03, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the batch with ``share`` of its rows replaced by triggered fraud labelled legitimate.

    The trigger stamps a round amount in cents and a fixed late-night hour on card-testing fraud.
    """
    rng = np.random.default_rng(seed)
    out = batch.copy()
    rows = np.sort(
        rng.choice(
            np.flatnonzero(out["label"].to_numpy() == 0), int(share * len(out)), replace=False
        )
    )
    fraud = fraud_rows("card_testing", len(rows), rng)
    fraud[:, 1] = 3.5
    fraud[:, 4] = 0.01
    out.loc[rows, FEATURES] = fraud
    out.loc[rows, "label"] = 0
    out.loc[rows, "pattern"] = "backdoor"
    return out, rows


def credit_table(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return a credit-scoring table (standardised-ish, correlated features) and default labels.

    Debt ratio is debt over income and tenure follows age, so the features lie near a manifold.
    """
    rng = np.random.default_rng(seed)
    age = rng.uniform(21, 70, n)
    income = rng.lognormal(10.5, 0.4, n)
    debt = income * rng.beta(2, 5, n)
    ratio = debt / income
    tenure = np.clip((age - 20) * rng.beta(4, 3, n), 0, None)
    utilisation = np.clip(ratio * 0.8 + rng.normal(0, 0.08, n), 0, 1)
    late = rng.poisson(0.3 + 3 * utilisation, n).astype(float)
    accounts = rng.poisson(2 + tenure / 10, n).astype(float)
    X = np.column_stack(
        [age, np.log(income), np.log1p(debt), ratio, tenure, utilisation, late, accounts]
    )
    logit = -3.2 + 5 * ratio + 0.7 * late - 0.03 * tenure - 0.8 * (np.log(income) - 10.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y
