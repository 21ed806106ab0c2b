"""A fairness shift: the applicants of one group change (their debt ratio rises after a local
plant closes), so the served model's outcomes for that group fall behind the others'.

Example:
    >>> FairnessShift().validate({"group": "south"}).feature
    'debt_ratio'
"""

from __future__ import annotations

from pydantic import Field

from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.drills.injectors.data import CovariateShift, CovariateShiftParams, Name
from airsoc.types import Duration, StrictModel

__all__ = ["INJECTORS", "FairnessShift"]


class FairnessShiftParams(StrictModel):
    """Multiply ``feature`` by ``factor`` for the rows whose ``group_column`` is ``group``
    (over ``ramp``, or at once)."""

    system: Name = "credit-scorer"
    group_column: Name = "region"
    group: Name
    feature: Name = "debt_ratio"
    factor: float = 2.0
    ramp: Duration | None = None
    duration: Duration | None = Field(None, alias="for")


class FairnessShift(Injector):
    """One group's inputs move, so the model treats that group worse than the others."""

    name = "fairness_shift"
    family = "fairness"
    causes = frozenset({"fairness_regression"})
    Params = FairnessShiftParams

    def apply(self, ctx: DrillContext, params: FairnessShiftParams) -> None:
        """Shift the group's feature from now on (a covariate shift in that segment)."""
        shift = CovariateShiftParams.model_validate(
            {
                "system": params.system,
                "segment": {params.group_column: params.group},
                "feature": params.feature,
                "factor": params.factor,
                "ramp": params.ramp,
                "for": params.duration,
            }
        )
        CovariateShift().apply(ctx, shift)


INJECTORS: tuple[type[Injector], ...] = (FairnessShift,)
