"""Platform faults: chaos for airsoc itself. The event log's writes fail for a while (a full or
broken disk); the platform's self-monitoring must notice the writer failing and raise a
``platform_fault`` through its own routing tree, and page the platform owner, never contain a
model.

Example:
    >>> TelemetryWriteErrors().validate({"rounds": 3}).rounds
    3
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.errors import InputError
from airsoc.types import StrictModel

__all__ = ["INJECTORS", "TelemetryWriteErrors"]


class TelemetryWriteErrorsParams(StrictModel):
    """Every write of the event log fails for the next ``rounds`` rounds of the drill."""

    rounds: Annotated[int, Field(ge=1, le=10_000)] = 2


class TelemetryWriteErrors(Injector):
    """The event log cannot write (I/O errors) for a few rounds, then recovers."""

    name = "telemetry_write_errors"
    family = "platform"
    causes = frozenset({"platform_fault"})
    Params = TelemetryWriteErrorsParams

    def apply(self, ctx: DrillContext, params: TelemetryWriteErrorsParams) -> None:
        """Make the platform's event log fail its writes."""
        if ctx.faults is None:
            raise InputError("this runner cannot break the platform's event log", loc="kind")
        ctx.faults.fail_telemetry_writes(params.rounds)
        ctx.note(self.describe(params))


INJECTORS: tuple[type[Injector], ...] = (TelemetryWriteErrors,)
