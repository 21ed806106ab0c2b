"""Chaos mode: run a scenario against the real platform in one process on a simulated clock,
then score it from the store.

:func:`run_drill` prepares the demo fleet in the store's data dir, starts the gateway app in
process (requests go through its ASGI app over HTTP semantics), and drives the runtime's
:class:`~airsoc.runtime.loop.ResponseLoop` round by round: each round sends the traffic due,
posts the delayed labels due, applies the injects due and ticks the loop once. Nothing is
narrated: detection, declaration, investigation and containment are the platform's. The
:class:`~airsoc.drills.scorecard.Scorecard` is computed afterwards by
:func:`airsoc.drills.scoring.score_drill` from the store alone.

Example:
    >>> options = DrillOptions(seed=3, scale=0.5)
    >>> options.seed, options.scale
    (3, 0.5)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from airsoc.drills.scenario import Scenario
from airsoc.drills.scorecard import Scorecard
from airsoc.store import Store

__all__ = ["DrillOptions", "run_drill"]


@dataclass
class DrillOptions:
    """How a drill runs: its seed (default: the scenario's), the traffic scale (tests run at
    reduced scale), and where progress lines go."""

    seed: int | None = None
    scale: float = 1.0
    log: Callable[[str], None] | None = None


def run_drill(
    scenario: Scenario, *, store: Store, options: DrillOptions | None = None
) -> Scorecard:
    """Run ``scenario`` in chaos mode against the platform over ``store`` (whose data dir keeps
    the fleet, telemetry and evidence) and return its scorecard."""
    raise NotImplementedError("the chaos runner lands in the next commit")
