"""Attacks from one client: model-extraction probing (a sweep of the model's features on a
grid, at a volume no customer sends), and adversarial evasion (fraudulent transactions moved
just across the served model's decision boundary).

Example:
    >>> ExtractionProbe().validate({"client": "scraper-7"}).features
    ['amount', 'distance_km']
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.drills.injectors.data import Name
from airsoc.drills.traffic import GENERATORS, Stream
from airsoc.types import Duration, StrictModel

__all__ = ["INJECTORS", "EvasionAttack", "ExtractionProbe"]


class ExtractionProbeParams(StrictModel):
    """A new client ``client`` sweeps ``features`` of ``system`` on a grid of ``levels`` values
    (between the 5th and 95th percentile of normal traffic), ``rate`` rows per hour, for
    ``for`` (default: to the end); the other features stay those of one ordinary row."""

    system: Name = "fraud-detector"
    client: Name
    rate: Annotated[float, Field(gt=0, le=10_000_000)] = 2000
    rows_per_request: Annotated[int, Field(ge=1, le=1000)] = 100
    features: Annotated[list[Name], Field(min_length=1)] = Field(
        default_factory=lambda: ["amount", "distance_km"]
    )
    levels: Annotated[int, Field(ge=3, le=100)] = 10
    duration: Duration | None = Field(None, alias="for")


class ExtractionProbe(Injector):
    """One client probes the model to copy it: grid sweeps, near-duplicate queries."""

    name = "extraction_probe"
    family = "attacks"
    causes = frozenset({"model_extraction"})
    Params = ExtractionProbeParams

    def apply(self, ctx: DrillContext, params: ExtractionProbeParams) -> None:
        """Add the probing client to the traffic."""
        make = GENERATORS[params.system].make
        normal = make(2000, seed=int(ctx.rng.integers(0, 2**31 - 1)))
        grids = {}
        for feature in params.features:
            low, high = np.quantile(normal[feature].astype(float), [0.05, 0.95])
            grids[feature] = np.linspace(float(low), float(high), params.levels)
        base = normal.iloc[[0]]

        def sweep(rng: np.random.Generator, n: int) -> pd.DataFrame:
            frame = pd.concat([base] * n, ignore_index=True)
            for feature, grid in grids.items():
                frame[feature] = rng.choice(grid, n)
            return frame

        ctx.traffic.add_stream(
            Stream(
                system=params.system,
                client=params.client,
                rows_per_hour=params.rate,
                rows_per_request=params.rows_per_request,
                labels=False,
                until_s=(
                    ctx.elapsed_s + params.duration.total_seconds() if params.duration else None
                ),
                source=sweep,
            )
        )
        ctx.note(self.describe(params))


class EvasionAttackParams(StrictModel):
    """A new client ``client`` sends fraudulent transactions crafted against the fraud
    detector's serving version, ``rate`` rows per hour, for ``for`` (default: to the end)."""

    client: Name
    rate: Annotated[float, Field(gt=0, le=10_000_000)] = 500
    rows_per_request: Annotated[int, Field(ge=1, le=1000)] = 50
    search_steps: Annotated[int, Field(ge=2, le=30)] = 10
    duration: Duration | None = Field(None, alias="for")


class EvasionAttack(Injector):
    """Crafted inputs that flip the model's answer: each fraudulent transaction is moved along
    the line to an ordinary one, by a decision-based binary search on the model's own answers,
    until it is scored legitimate. The attacker holds a copy of the serving version (stolen, or
    extracted earlier), so the crafting queries never reach the gateway."""

    name = "evasion_attack"
    family = "attacks"
    causes = frozenset({"adversarial_evasion"})
    Params = EvasionAttackParams

    def apply(self, ctx: DrillContext, params: EvasionAttackParams) -> None:
        """Add the attacking client to the traffic."""
        import joblib

        from airsoc import lineage
        from airsoc.errors import InputError
        from airsoc.fleet.systems import FRAUD_FEATURES, fraud_transactions
        from airsoc.serving import get_route

        if ctx.store is None:
            raise InputError("an evasion attack needs the fleet's store", loc="kind")
        with ctx.store.read() as s:
            version = get_route(s, system="fraud-detector").primary_version
            if version is None:
                raise InputError("the fraud detector serves no version to attack", loc="kind")
            model = joblib.load(
                lineage.get_model_version(s, system="fraud-detector", version=version).artifact_uri
            )
        numeric = [f for f in FRAUD_FEATURES if f != "merchant_category"]

        def score(frame: pd.DataFrame) -> np.ndarray:
            features = frame[FRAUD_FEATURES].assign(
                country_mismatch=frame["country_mismatch"].astype(float)
            )
            return np.asarray(model.predict_proba(features)[:, 1], dtype=float)

        def craft(rng: np.random.Generator, n: int) -> pd.DataFrame:
            seed = int(rng.integers(0, 2**31 - 1))
            fraud = fraud_transactions(n, seed=seed, fraud_rate=1.0)
            legit = fraud_transactions(n, seed=seed + 1, fraud_rate=0.0)
            start = fraud[numeric].astype(float).to_numpy()
            goal = legit[numeric].astype(float).to_numpy()
            lo, hi = np.zeros(n), np.ones(n)
            for _ in range(params.search_steps):
                mid = (lo + hi) / 2
                trial = fraud.copy()
                trial[numeric] = start + mid[:, None] * (goal - start)
                evaded = score(trial) < 0.5
                hi = np.where(evaded, mid, hi)
                lo = np.where(evaded, lo, mid)
            crafted = fraud.copy()
            crafted[numeric] = start + hi[:, None] * (goal - start)
            # Still fraud: the chargebacks come back as its labels. The crafted values stay as
            # found (a country mismatch of 0.4 is no card's, but the API takes any number).
            return crafted

        ctx.traffic.add_stream(
            Stream(
                system="fraud-detector",
                client=params.client,
                rows_per_hour=params.rate,
                rows_per_request=params.rows_per_request,
                until_s=(
                    ctx.elapsed_s + params.duration.total_seconds() if params.duration else None
                ),
                source=craft,
            )
        )
        ctx.note(f"{self.describe(params)} against fraud-detector {version}")


INJECTORS: tuple[type[Injector], ...] = (ExtractionProbe, EvasionAttack)
