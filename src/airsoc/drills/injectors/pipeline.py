"""Pipeline faults: a measurement or data-pipeline bug, not the model. Nulls in a column, a unit
change, dropped events, a click logger that loses a share of the clicks.

Example:
    >>> HalvedClicks().validate({}).logged
    0.5
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.drills.injectors.data import Name, Targeted, _segment_mask, _transform
from airsoc.drills.traffic import TrafficBatch

__all__ = ["INJECTORS", "DroppedEvents", "HalvedClicks", "Nulls", "UnitChange"]

Share = Annotated[float, Field(gt=0, le=1)]


class NullsParams(Targeted):
    """``share`` of ``column`` arrives null: a broken upstream join."""

    column: Name
    share: Share = 1.0


class Nulls(Injector):
    """A column arrives null."""

    name = "nulls"
    family = "pipeline"
    causes = frozenset({"pipeline_fault", "data_drift"})
    Params = NullsParams

    def apply(self, ctx: DrillContext, params: NullsParams) -> None:
        """Null the column in the matching traffic from now on."""
        rng = ctx.rng

        def null(batch: TrafficBatch, progress: float) -> TrafficBatch:
            mask = _segment_mask(batch, params.segment)
            mask &= rng.random(len(mask)) < params.share * progress
            batch.frame[params.column] = batch.frame[params.column].astype(float).where(~mask)
            return batch

        _transform(ctx, params, self.name, null)
        ctx.note(self.describe(params))


class UnitChangeParams(Targeted):
    """``column`` is multiplied by ``factor`` (e.g. 100: cents sent as units)."""

    column: Name
    factor: float = 100.0


class UnitChange(Injector):
    """A column changes its unit."""

    name = "unit_change"
    family = "pipeline"
    causes = frozenset({"pipeline_fault", "data_drift"})
    Params = UnitChangeParams

    def apply(self, ctx: DrillContext, params: UnitChangeParams) -> None:
        """Rescale the column in the matching traffic from now on."""

        def rescale(batch: TrafficBatch, progress: float) -> TrafficBatch:
            mask = _segment_mask(batch, params.segment)
            column = batch.frame[params.column].astype(float)
            batch.frame[params.column] = column.where(~mask, column * params.factor)
            return batch

        _transform(ctx, params, self.name, rescale)
        ctx.note(self.describe(params))


class DroppedEventsParams(Targeted):
    """``share`` of the matching rows never reach the gateway (a queue dropping events)."""

    share: Share = 0.5


class DroppedEvents(Injector):
    """Events are dropped on the way."""

    name = "dropped_events"
    family = "pipeline"
    causes = frozenset({"pipeline_fault"})
    Params = DroppedEventsParams

    def apply(self, ctx: DrillContext, params: DroppedEventsParams) -> None:
        """Drop that share of the matching rows from now on."""
        rng = ctx.rng

        def drop(batch: TrafficBatch, progress: float) -> TrafficBatch:
            keep = ~(
                _segment_mask(batch, params.segment) & (rng.random(len(batch.frame)) < params.share)
            )
            batch.frame = batch.frame[np.asarray(keep)].reset_index(drop=True)
            return batch

        _transform(ctx, params, self.name, drop)
        ctx.note(self.describe(params))


class HalvedClicksParams(Targeted):
    """The click logger records only ``logged`` of the clicks; orders are still recorded."""

    system: Name = "recommender"
    logged: Annotated[float, Field(ge=0, lt=1)] = 0.5


class HalvedClicks(Injector):
    """A logging bug loses clicks (the users click as before)."""

    name = "click_logging_bug"
    family = "pipeline"
    causes = frozenset({"pipeline_fault", "concept_drift"})
    Params = HalvedClicksParams

    def apply(self, ctx: DrillContext, params: HalvedClicksParams) -> None:
        """Lose that share of the logged clicks from now on."""
        rng = ctx.rng

        def lose(batch: TrafficBatch, progress: float) -> TrafficBatch:
            lost = (batch.frame["click"].to_numpy() == 1) & (
                rng.random(len(batch.frame)) >= params.logged
            )
            lost &= _segment_mask(batch, params.segment)
            batch.frame.loc[lost, "click"] = 0
            return batch

        _transform(ctx, params, self.name, lose)
        ctx.note(self.describe(params))


INJECTORS: tuple[type[Injector], ...] = (Nulls, UnitChange, DroppedEvents, HalvedClicks)
