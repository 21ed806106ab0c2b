"""Attacks from one client: model-extraction probing (a sweep of the model's features on a
grid, at a volume no customer sends).

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

__all__ = ["INJECTORS", "ExtractionProbe"]


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
    Params = ExtractionProbeParams

    def apply(self, ctx: DrillContext, params: ExtractionProbeParams) -> None:
        """Add the probing client to the traffic."""
        make = GENERATORS[params.system].make
        normal = make(2000, seed=int(ctx.rng.integers(0, 2**31 - 1)))
        grids = {
            f: np.linspace(*np.quantile(normal[f].astype(float), [0.05, 0.95]), params.levels)
            for f in params.features
        }
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


INJECTORS: tuple[type[Injector], ...] = (ExtractionProbe,)
