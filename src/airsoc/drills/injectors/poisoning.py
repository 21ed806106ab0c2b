"""Poisoned vendor batches entering training: a vendor delivers its weekly batches, some of
whose labels were flipped on one fraud pattern, and (optionally) the team's routine release
retrains the system with them and promotes the new version.

The injector only delivers data and releases a version as the team's pipeline would; it never
screens, declares, quarantines or rolls back anything. Whether the batches are screened at
ingest, and what happens to them, is the platform's configuration and response.

- :func:`vendor_weeks` makes the weekly batches (the fleet's transaction generator, with
  :func:`airsoc.fleet.systems.flip_labels` limited to the pattern's fraud rows in the poisoned
  weeks);
- ``vendor_poisoning`` (:class:`VendorPoisoning`) registers them in lineage as the vendor's
  deliveries (each covering its week) and, ``release_after`` later, trains the next version of
  the system through its configured training hook on the known-good version's batches plus the
  new ones (the platform's `retrain` operation, as the team's weekly retrain) and
  promotes it. A release the platform refuses (a quarantined batch, a vendor on probation) is
  noted and not promoted.

Example:
    >>> weeks = vendor_weeks(weeks=3, poisoned_from=2, rows=4_000, seed=1,
    ...                      pattern={"merchant_category": "electronics"})
    >>> [w.poisoned for w in weeks], [int(w.flipped.sum()) > 0 for w in weeks]
    ([False, True, True], [False, True, True])
    >>> VendorPoisoning().validate({"vendor": "northwind-data"}).weeks
    4
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from airsoc import lineage
from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.drills.injectors.data import Name
from airsoc.errors import AirsocError, InputError
from airsoc.fleet.systems import flip_labels, fraud_transactions
from airsoc.types import Duration, StrictModel

__all__ = ["INJECTORS", "VendorPoisoning", "VendorPoisoningParams", "VendorWeek", "vendor_weeks"]

#: The actor of the team's routine release in a drill.
RELEASE_ACTOR = "drill:release-pipeline"
LABEL = "is_fraud"


@dataclass(frozen=True)
class VendorWeek:
    """One weekly batch of the vendor: its rows, whether it is poisoned, the flipped rows."""

    week: int
    frame: pd.DataFrame
    poisoned: bool
    flipped: np.ndarray[Any, np.dtype[np.bool_]]


def _pattern_mask(frame: pd.DataFrame, pattern: dict[str, str | float]) -> np.ndarray[Any, Any]:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in pattern.items():
        if column not in frame.columns:
            raise InputError(
                f"the vendor's transactions have no column {column!r} to pick the pattern by",
                loc=f"params.pattern.{column}",
            )
        mask &= (frame[column] == value).to_numpy()
    return mask


def vendor_weeks(
    *,
    weeks: int,
    poisoned_from: int,
    rows: int,
    seed: int,
    pattern: dict[str, str | float],
    share: float = 1.0,
    fraud_rate: float = 0.02,
    hard_share: float = 0.0,
) -> list[VendorWeek]:
    """Return ``weeks`` weekly batches of card transactions (``fraud_rate`` and ``hard_share``
    as :func:`~airsoc.fleet.systems.fraud_transactions` takes them); from week
    ``poisoned_from`` (1-based) on, ``share`` of the fraud rows matching ``pattern`` are
    relabelled legit."""
    out = []
    for week in range(1, weeks + 1):
        frame = fraud_transactions(
            rows, seed=seed * 1000 + week, fraud_rate=fraud_rate, hard_share=hard_share
        )
        poisoned = week >= poisoned_from
        flipped = np.zeros(len(frame), dtype=bool)
        if poisoned:
            frame, flipped = flip_labels(
                frame,
                LABEL,
                share=share,
                seed=seed * 1000 + week,
                only_positive=True,
                where=_pattern_mask(frame, pattern),
            )
        out.append(VendorWeek(week=week, frame=frame, poisoned=poisoned, flipped=flipped))
    return out


class VendorPoisoningParams(StrictModel):
    """A vendor delivers ``weeks`` weekly batches of ``rows`` transactions each (covering the
    weeks that end now); from week ``poisoned_from`` on, ``share`` of the fraud rows matching
    ``pattern`` carry the legit label; ``fraud_rate`` and ``hard_share`` (fraud that looks like
    ordinary spending) are the vendor's data, as in the traffic. ``release_after`` later
    (``null``: never) the team's weekly retrain trains the next version with them and promotes
    it."""

    system: Name = "fraud-detector"
    vendor: Name
    weeks: Annotated[int, Field(ge=1, le=52)] = 4
    poisoned_from: Annotated[int, Field(ge=1, le=52)] = 2
    rows: Annotated[int, Field(ge=100, le=1_000_000)] = 8000
    pattern: dict[Name, str | float] = Field(
        default_factory=lambda: dict[str, str | float](merchant_category="electronics")
    )
    share: Annotated[float, Field(gt=0, le=1)] = 1.0
    fraud_rate: Annotated[float, Field(gt=0, lt=1)] = 0.02
    hard_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    release_after: Duration | None = timedelta(hours=6)

    @model_validator(mode="after")
    def _poisoned_week_exists(self) -> VendorPoisoningParams:
        if self.poisoned_from > self.weeks:
            raise ValueError(
                f"poisoned_from ({self.poisoned_from}) is after the last week ({self.weeks})"
            )
        if not self.pattern:
            raise ValueError("name the fraud pattern whose labels are flipped")
        return self


class VendorPoisoning(Injector):
    """A vendor's weekly batches, labels flipped on one fraud pattern, reach the data lake; the
    team's routine release trains on them and promotes the result."""

    name = "vendor_poisoning"
    family = "poisoning"
    causes = frozenset(
        {"data_poisoning", "release_regression", "prediction_drift", "concept_drift"}
    )
    Params = VendorPoisoningParams

    def apply(self, ctx: DrillContext, params: VendorPoisoningParams) -> None:
        """Register the vendor's weekly batches now; schedule the routine release."""
        if ctx.store is None or ctx.folder is None:
            raise InputError("a vendor delivery needs the drill's store and fleet folder")
        folder = ctx.folder / "batches"
        folder.mkdir(parents=True, exist_ok=True)
        made = vendor_weeks(
            weeks=params.weeks,
            poisoned_from=params.poisoned_from,
            rows=params.rows,
            seed=int(ctx.rng.integers(0, 2**31 - 1)),
            pattern=dict(params.pattern),
            share=params.share,
            fraud_rate=params.fraud_rate,
            hard_share=params.hard_share,
        )
        now = ctx.clock.now()
        ids = []
        with ctx.store.transaction() as s:
            for week in made:
                start = now - timedelta(weeks=params.weeks - week.week + 1)
                batch_id = f"{params.vendor}/week-{start:%Y-%m-%d}"
                path = folder / (batch_id.replace("/", "_") + ".parquet")
                week.frame.to_parquet(path, index=False)
                lineage.register_batch(
                    s,
                    clock=ctx.clock,
                    actor=ctx.actor,
                    batch_id=batch_id,
                    source=params.vendor,
                    rows=len(week.frame),
                    sha256=lineage.sha256_file(path),
                    uri=str(path),
                    time_start=start,
                    time_end=start + timedelta(weeks=1),
                    reason=f"weekly delivery of vendor {params.vendor}",
                )
                ids.append(batch_id)
        flipped = sum(int(w.flipped.sum()) for w in made)
        ctx.note(
            f"vendor {params.vendor} delivered {len(ids)} weekly batches ({ids[0]} to {ids[-1]}); "
            f"{flipped} fraud labels flipped from week {params.poisoned_from} on"
        )
        if params.release_after is not None:
            ctx.schedule(
                params.release_after,
                lambda c: _release(c, params.system, params.vendor, ids),
                name=f"{ctx.inject_id}: routine release",
            )


def _release(ctx: DrillContext, system: str, vendor: str, batch_ids: list[str]) -> None:
    """Train the next version on the known-good version's batches and the vendor's new ones
    through the system's training hook, then promote it, as the team's weekly retrain does."""
    from airsoc.forensics.recovery import CleanBatch
    from airsoc.runtime.operations import get_operation

    assert ctx.store is not None
    try:
        with ctx.store.transaction() as s:
            good = lineage.last_known_good(s, system=system)
            taken = {v.version for v in lineage.list_model_versions(s, system=system)}
            version = next(
                f"v{n}" for n in range(len(taken) + 1, len(taken) + 100) if f"v{n}" not in taken
            )
            batches = list(dict.fromkeys([*good.training_batches, *batch_ids]))
            # The team's retrain is the platform's own operation, as any caller's is.
            report = get_operation("retrain").call(
                s,
                clock=ctx.clock,
                actor=RELEASE_ACTOR,
                reason=f"weekly retrain with vendor {vendor}'s new batches",
                system=system,
                base_version=good.version,
                version=version,
                clean_training_set=[CleanBatch(batch=b) for b in batches],
                seed=ctx.seed,
            )
    except AirsocError as exc:
        ctx.note(f"the routine release was refused: {exc.message}")
        return
    if ctx.releases is None:
        ctx.note(f"{system} {report.version} trained; no release channel to promote it")
        return
    try:
        ctx.releases.promote(
            system,
            report.version,
            actor=RELEASE_ACTOR,
            reason=f"weekly retrain with vendor {vendor}'s new batches; passed its holdout review",
        )
    except AirsocError as exc:
        ctx.note(f"promoting {system} {report.version} was refused: {exc.message}")
        return
    ctx.note(f"released {system} {report.version}, trained with {', '.join(batch_ids)}")


INJECTORS: tuple[type[Injector], ...] = (VendorPoisoning,)
