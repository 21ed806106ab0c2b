"""A seeded fraud system for the poisoning investigation: weekly batches from three vendors, one
of which hides one fraud pattern as legitimate over a span of weeks.

The investigation under test never sees ``pattern`` or ``flipped``: the batches are written to
Parquet files without them and registered through the lineage service.

>>> world = fraud_world(weeks=6, rows_per_week=300, span=(2, 3), seed=1)
>>> len(world.batches), world.poisoned_vendor
(18, 'bolt')
>>> sorted(world.flipped)[:1]
['bolt-w02']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from tests.detection.attacks.generators import fraud_rows, legit_rows

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
#: Share of each vendor in the weekly volume: the compromised vendor is the largest.
VENDOR_SHARES = {"acme": 0.25, "bolt": 0.5, "cobalt": 0.25}
START = datetime(2026, 1, 5, tzinfo=UTC)


def transactions(
    n: int, *, seed: int, fraud_rate: float = 0.05, shift: float = 0.0
) -> pd.DataFrame:
    """Return ``n`` shuffled transactions with ``label`` (1 = fraud) and the true ``pattern``.

    >>> int(transactions(2000, seed=0)["label"].sum()) > 50
    True
    """
    rng = np.random.default_rng(seed)
    n_fraud = int(rng.binomial(n, fraud_rate))
    counts = rng.multinomial(n_fraud, [0.3, 0.4, 0.3])
    parts = [legit_rows(n - n_fraud, rng, shift, hour_shift=0.0)]
    patterns = ["legit"] * (n - n_fraud)
    for pattern, k in zip(PATTERNS, counts, strict=True):
        parts.append(fraud_rows(pattern, int(k), rng, collusion_risk=12.0))
        patterns += [pattern] * int(k)
    frame = pd.DataFrame(np.vstack(parts), columns=FEATURES)
    frame["label"] = (np.array(patterns) != "legit").astype(int)
    frame["pattern"] = patterns
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@dataclass
class FraudWorld:
    """Weekly vendor batches, the true labels, and which rows the compromised vendor flipped."""

    batches: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    sources: dict[str, str]
    starts: dict[str, datetime]
    poisoned_vendor: str
    span: tuple[int, int]
    flipped: dict[str, np.ndarray] = field(default_factory=dict)

    def week(self, batch: str) -> int:
        """Return the week number of a batch id (``bolt-w07`` -> 7)."""
        return int(batch.rsplit("-w", 1)[1])

    def write(self, folder: Path) -> dict[str, Path]:
        """Write every batch, without the generator's columns, to Parquet; return the paths."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, frame in self.batches.items():
            paths[name] = folder / f"{name}.parquet"
            frame.drop(columns="pattern").to_parquet(paths[name], index=False)
        return paths

    def flipped_share(self) -> float:
        """Return the flipped rows over every true fraud row of the training set."""
        fraud = sum(int(t["label"].sum()) for t in self.truth.values())
        return sum(len(v) for v in self.flipped.values()) / fraud


def fraud_world(
    *,
    weeks: int = 30,
    rows_per_week: int = 1600,
    span: tuple[int, int] = (10, 25),
    vendor: str = "bolt",
    pattern: str = "account_takeover",
    seed: int = 0,
) -> FraudWorld:
    """Return ``weeks`` of batches per vendor; ``vendor`` flips ``pattern`` over ``span`` weeks."""
    batches: dict[str, pd.DataFrame] = {}
    truth: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    starts: dict[str, datetime] = {}
    flipped: dict[str, np.ndarray] = {}
    for i, (name, share) in enumerate(VENDOR_SHARES.items()):
        for w in range(weeks):
            batch_id = f"{name}-w{w:02d}"
            frame = transactions(
                int(rows_per_week * share), seed=seed + 1000 * i + w, shift=0.1 * i
            )
            truth[batch_id] = frame
            if name == vendor and span[0] <= w <= span[1]:
                rows = np.flatnonzero(frame["pattern"].to_numpy() == pattern)
                frame = frame.copy()
                frame.loc[rows, "label"] = 0
                flipped[batch_id] = rows
            batches[batch_id] = frame
            sources[batch_id] = name
            starts[batch_id] = START + timedelta(weeks=w)
    return FraudWorld(batches, truth, sources, starts, vendor, span, flipped)
