"""Platform faults: chaos for airsoc itself. The platform's self-monitoring must notice each one
by itself and raise a ``platform_fault`` through its own routing tree (paging the platform
owner, never containing a model), lose nothing it already accepted, and recover.

- ``telemetry_write_errors``: the event log's writes fail for a while (a full or broken disk).
- ``database_lock``: another process holds the store's write lock for a few rounds, longer than
  the store's busy timeout (``AIRSOC_STORE_BUSY_TIMEOUT``; a drill uses a short one, since every
  write tried meanwhile waits that long in wall time before it fails). ``/readyz`` must fail
  while it lasts.
- ``worker_kill``: the playbook worker dies in the middle of a step (of ``action``, if named),
  after the step's effect was made (``after_effect``, default) or before; it restarts, and the
  run must resume with that step done exactly once, neither lost nor repeated.

Example:
    >>> TelemetryWriteErrors().validate({"rounds": 3}).rounds
    3
    >>> DatabaseLock().validate({}).rounds
    2
    >>> WorkerKill().validate({"action": "open_task"}).after_effect
    True
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.errors import InputError
from airsoc.types import NonBlank, StrictModel

__all__ = ["INJECTORS", "DatabaseLock", "TelemetryWriteErrors", "WorkerKill"]


def _faults(ctx: DrillContext, what: str) -> object:
    if ctx.faults is None:
        raise InputError(f"this runner cannot {what}", loc="kind")
    return ctx.faults


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
        _faults(ctx, "break the platform's event log")
        assert ctx.faults is not None
        ctx.faults.fail_telemetry_writes(params.rounds)
        ctx.note(self.describe(params))


class DatabaseLockParams(StrictModel):
    """Another process holds the store's write lock for the next ``rounds`` rounds."""

    rounds: Annotated[int, Field(ge=1, le=1_000)] = 2


class DatabaseLock(Injector):
    """The store stays locked beyond its busy timeout for a few rounds, then is released."""

    name = "database_lock"
    family = "platform"
    causes = frozenset({"platform_fault"})
    Params = DatabaseLockParams

    def apply(self, ctx: DrillContext, params: DatabaseLockParams) -> None:
        """Take the store's write lock from outside the platform."""
        _faults(ctx, "lock the platform's database")
        assert ctx.faults is not None
        ctx.faults.lock_database(params.rounds)
        ctx.note(self.describe(params))


class WorkerKillParams(StrictModel):
    """Kill the worker during its next step (of ``action``, if named), after or before the
    step's effect."""

    action: NonBlank | None = None
    after_effect: bool = True


class WorkerKill(Injector):
    """The playbook worker dies mid-step and is restarted; the run must resume."""

    name = "worker_kill"
    family = "platform"
    causes = frozenset({"platform_fault"})
    Params = WorkerKillParams

    def apply(self, ctx: DrillContext, params: WorkerKillParams) -> None:
        """Arm the kill: it happens in the worker's next matching step."""
        _faults(ctx, "kill the platform's worker")
        assert ctx.faults is not None
        ctx.faults.kill_worker_mid_step(action=params.action, after_effect=params.after_effect)
        ctx.note(self.describe(params))


INJECTORS: tuple[type[Injector], ...] = (TelemetryWriteErrors, DatabaseLock, WorkerKill)
