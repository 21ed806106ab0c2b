"""Data and model changes: covariate shift (gradual or sudden, in one segment or everywhere),
concept drift (the label relation changes), a change of the traffic mix (a seasonal shift, a
campaign that raises the fraud rate with consistent labels) and a release (a retrained version
promoted by the team's pipeline).

Example:
    >>> CovariateShift().validate({"system": "fraud-detector", "feature": "amount",
    ...                            "factor": 3, "ramp": "6h"}).ramp
    datetime.timedelta(seconds=21600)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import numpy as np
from pydantic import Field, model_validator

from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.drills.traffic import TrafficBatch, Transform
from airsoc.errors import AirsocError, InputError
from airsoc.lineage.pipelines import check_pipeline_open
from airsoc.types import Duration, NonBlank, StrictModel

__all__ = [
    "INJECTORS",
    "ConceptDrift",
    "CovariateShift",
    "Release",
    "TextDrift",
    "TrafficMix",
]

Name = Annotated[NonBlank, Field(max_length=200)]


class Targeted(StrictModel):
    """Which traffic an inject changes: the system, optionally one client and one segment
    (``{column: value}`` rows must match), and for how long (``for``; default: to the end)."""

    system: Name
    client: Name | None = None
    segment: dict[Name, str | float] = Field(default_factory=dict)
    duration: Duration | None = Field(None, alias="for")


def _segment_mask(batch: TrafficBatch, segment: dict[str, str | float]) -> np.ndarray[Any, Any]:
    mask = np.ones(len(batch.frame), dtype=bool)
    for column, value in segment.items():
        if column not in batch.frame.columns:
            raise InputError(
                f"{batch.system} traffic has no column {column!r} to pick a segment by",
                loc=f"segment.{column}",
            )
        mask &= (batch.frame[column] == value).to_numpy()
    return mask


def _transform(
    ctx: DrillContext, params: Targeted, name: str, apply: Any, ramp: timedelta | None = None
) -> None:
    start = ctx.elapsed_s
    ctx.traffic.add_transform(
        Transform(
            name=name,
            system=params.system,
            apply=apply,
            start_s=start,
            ramp_s=ramp.total_seconds() if ramp else 0.0,
            until_s=start + params.duration.total_seconds() if params.duration else None,
            client=params.client,
        )
    )


class CovariateShiftParams(Targeted):
    """Multiply ``feature`` by ``factor`` and add ``shift`` (in its own units); with ``ramp``
    the change grows linearly from nothing over that long (gradual), else it is sudden."""

    feature: Name
    factor: float = 1.0
    shift: float = 0.0
    ramp: Duration | None = None


class CovariateShift(Injector):
    """The inputs move away from the reference; the label relation stays."""

    name = "covariate_shift"
    family = "data"
    causes = frozenset({"data_drift", "prediction_drift"})
    benign = True  # a seasonal shift is one; whether it must alarm is the scenario's call
    Params = CovariateShiftParams

    def apply(self, ctx: DrillContext, params: CovariateShiftParams) -> None:
        """Shift the feature in the matching traffic from now on."""

        def shift(batch: TrafficBatch, progress: float) -> TrafficBatch:
            mask = _segment_mask(batch, params.segment)
            column = batch.frame[params.feature].astype(float)
            factor = 1 + (params.factor - 1) * progress
            moved = column * factor + params.shift * progress
            batch.frame[params.feature] = column.where(~mask, moved)
            return batch

        _transform(ctx, params, self.name, shift, params.ramp)
        ctx.note(self.describe(params))


class ConceptDriftParams(Targeted):
    """Relabel ``share`` of the matching rows as ``label`` (their inputs unchanged): the
    input-to-label relation the model learnt no longer holds there."""

    label_column: Name
    label: int = 1
    share: Annotated[float, Field(gt=0, le=1)] = 0.5

    @model_validator(mode="after")
    def _needs_segment(self) -> ConceptDriftParams:
        if not self.segment:
            raise ValueError("concept drift needs a segment whose labels change")
        return self


class ConceptDrift(Injector):
    """The ground truth of one segment changes; inputs look the same."""

    name = "concept_drift"
    family = "data"
    causes = frozenset({"concept_drift", "prediction_drift"})
    Params = ConceptDriftParams

    def apply(self, ctx: DrillContext, params: ConceptDriftParams) -> None:
        """Relabel the segment in the matching traffic from now on."""
        rng = ctx.rng

        def relabel(batch: TrafficBatch, progress: float) -> TrafficBatch:
            mask = _segment_mask(batch, params.segment)
            mask &= rng.random(len(mask)) < params.share * progress
            batch.frame.loc[mask, params.label_column] = params.label
            return batch

        _transform(ctx, params, self.name, relabel)
        ctx.note(self.describe(params))


class TrafficMixParams(StrictModel):
    """New generator arguments for every client of ``system`` (e.g. ``fraud_rate``), and an
    optional new rate multiplier."""

    system: Name
    mix: dict[Name, float] = Field(default_factory=dict)
    rate_factor: Annotated[float, Field(gt=0)] = 1.0


class TrafficMix(Injector):
    """The traffic's mix changes with consistent labels: a campaign, a season."""

    name = "traffic_mix"
    family = "data"
    causes = frozenset({"data_drift", "prediction_drift"})
    benign = True
    Params = TrafficMixParams

    def apply(self, ctx: DrillContext, params: TrafficMixParams) -> None:
        """Change the mix of every stream of the system."""
        ctx.traffic.set_mix(params.system, **params.mix)
        for stream in ctx.traffic.streams:
            if stream.system == params.system:
                stream.rows_per_hour *= params.rate_factor
        ctx.note(self.describe(params))


class ReleaseParams(StrictModel):
    """Register and promote one of the demo fleet's prepared releases (``retrain``, the clean
    weekly retrain, or ``fault``) as the team's pipeline would."""

    release: Name = "retrain"
    reason: Annotated[NonBlank, Field(max_length=500)] | None = None


class Release(Injector):
    """A version released by the team's pipeline: registered, then promoted on the gateway."""

    name = "release"
    family = "data"
    causes = frozenset({"release_regression", "prediction_drift"})
    benign = True
    Params = ReleaseParams

    def apply(self, ctx: DrillContext, params: ReleaseParams) -> None:
        """Register the release's batch and version, then promote it."""
        from airsoc.fleet.setup import register_release

        if ctx.store is None or ctx.setup is None or ctx.releases is None:
            raise InputError("a release inject needs the demo fleet", loc="kind")
        if params.release not in ctx.setup.releases:
            raise InputError(
                f"no release {params.release!r}; choose from {', '.join(ctx.setup.releases)}",
                loc="params.release",
            )
        # The team's pipeline asks the platform first: a paused pipeline releases nothing.
        try:
            with ctx.store.read() as s:
                check_pipeline_open(s, system="fraud-detector", what="a release")
        except AirsocError as exc:
            ctx.note(f"the release {params.release} was refused: {exc.message}")
            return
        release = register_release(ctx.store, ctx.clock, ctx.setup, params.release)
        ctx.releases.promote(
            "fraud-detector",
            release.version,
            actor="drill:release-pipeline",
            reason=params.reason or release.reason,
        )
        ctx.note(f"released fraud-detector {release.version}")


class TextDriftParams(Targeted):
    """In ``share`` of the matching rows, each word of ``words`` in ``column`` is replaced by
    its new wording (slang, a new product name), as people start to write differently."""

    column: Name = "text"
    words: Annotated[dict[Name, Name], Field(min_length=1)]
    share: Annotated[float, Field(gt=0, le=1)] = 0.8
    ramp: Duration | None = None


class TextDrift(Injector):
    """The way people write changes: new words the model never saw."""

    name = "text_drift"
    family = "data"
    causes = frozenset({"data_drift", "prediction_drift", "concept_drift"})
    benign = True
    Params = TextDriftParams

    def apply(self, ctx: DrillContext, params: TextDriftParams) -> None:
        """Rewrite the matching texts from now on."""
        rng = ctx.rng

        def reword(batch: TrafficBatch, progress: float) -> TrafficBatch:
            mask = _segment_mask(batch, params.segment)
            mask &= rng.random(len(mask)) < params.share * progress
            texts = batch.frame[params.column].astype(str).tolist()
            for i in np.flatnonzero(mask):
                for old, new in params.words.items():
                    texts[i] = texts[i].replace(old, new)
            batch.frame[params.column] = texts
            return batch

        _transform(ctx, params, self.name, reword, params.ramp)
        ctx.note(self.describe(params))


INJECTORS: tuple[type[Injector], ...] = (
    CovariateShift,
    ConceptDrift,
    TrafficMix,
    Release,
    TextDrift,
)
