"""What an injector may touch during a drill: the traffic, the data and sources, the releases,
the documents, and (for chaos on the platform itself) the platform's faults. Never a decision,
an alert, an incident or a finding: those are the platform's.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.drills.traffic import TrafficControl
    >>> clock = SimulatedClock()
    >>> ctx = DrillContext(clock=clock, store=None, folder=None, traffic=TrafficControl(),
    ...                    seed=1, started_at=clock.now())
    >>> clock.advance(timedelta(hours=2))
    >>> ctx.elapsed_s
    7200.0
    >>> ctx.schedule(timedelta(minutes=30), lambda c: None, name="undo")
    >>> [(at, name) for at, name, _ in ctx.scheduled]
    [(9000.0, 'undo')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from airsoc.clock import Clock
from airsoc.drills.traffic import TrafficControl
from airsoc.store import Store

__all__ = ["DrillContext", "PlatformFaults", "Releases", "ScheduledCall"]

#: The actor injectors write as, where the platform records who changed something.
INJECT_ACTOR = "drill:injector"

ScheduledCall = tuple[float, str, Callable[["DrillContext"], None]]


class Releases(Protocol):
    """How a drill releases a model version: the team's pipeline promoting it on the gateway
    (the chaos runner's in-process gateway, or a running ``airsoc up``)."""

    def promote(self, system: str, version: str, *, actor: str, reason: str) -> Any:
        """Serve ``version`` of ``system`` as its primary."""
        ...


class PlatformFaults(Protocol):
    """Chaos for the platform itself: what a drill may break in the running airsoc."""

    def lock_database(self, rounds: int) -> None:
        """Hold the store's write lock for the next ``rounds`` rounds: every write the platform
        tries meanwhile waits the store's busy timeout and fails."""
        ...

    def fail_telemetry_writes(self, rounds: int) -> None:
        """Make the event log's writes fail for the next ``rounds`` rounds."""
        ...

    def kill_worker_mid_step(self, *, action: str | None, after_effect: bool) -> None:
        """Kill the playbook worker in the middle of its next step (of ``action``, if named):
        after the step's effect was made (``after_effect``) or before; the worker restarts
        and the run must resume, with that step done exactly once."""
        ...


@dataclass
class DrillContext:
    """The drill as an injector sees it.

    ``folder`` is the demo fleet's folder (configuration, playbooks, batches, models, the
    policy index); ``setup`` the :class:`~airsoc.fleet.setup.DemoSetup`; ``releases`` how a
    version is promoted; ``faults`` the platform faults (``None`` where the runner cannot break
    the platform, e.g. on a live platform); ``bot`` the support bot's documents
    (:class:`~airsoc.drills.chatbot.DrillBot`, when the drill serves it). ``inject_id`` and
    ``benign`` describe the inject being applied.
    """

    clock: Clock
    store: Store | None
    folder: Path | None
    traffic: TrafficControl
    seed: int
    started_at: datetime
    setup: Any = None
    releases: Releases | None = None
    faults: PlatformFaults | None = None
    bot: Any = None
    inject_id: str = ""
    benign: bool = False
    actor: str = INJECT_ACTOR
    scheduled: list[ScheduledCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def elapsed_s(self) -> float:
        """Return simulated seconds since the drill started."""
        return (self.clock.now() - self.started_at).total_seconds()

    @property
    def rng(self) -> np.random.Generator:
        """Return a generator seeded by the drill's seed and the inject (same run, same data)."""
        return np.random.default_rng([self.seed, sum(map(ord, self.inject_id))])

    def schedule(
        self, after: timedelta, call: Callable[[DrillContext], None], *, name: str
    ) -> None:
        """Run ``call`` ``after`` from now on the drill's clock (e.g. to end a fault)."""
        self.scheduled.append((self.elapsed_s + after.total_seconds(), name, call))

    def note(self, text: str) -> None:
        """Record what the inject did, for the drill's log (never read by the scorecard)."""
        self.notes.append(f"{self.inject_id}: {text}")
