"""The scorecard of a drill: how fast the platform detected, declared, contained and recovered,
what it served meanwhile, and whether it named the right failure mode and root cause.

A scorecard is computed after the drill from the store (incidents, their audit timeline,
playbook runs, findings, routing history, the event log), never from what the injectors did:
only the inject times and the expectations' text come from the scenario.

Example:
    >>> card = Scorecard(scenario="benign-week", passed=True)
    >>> sorted(k for k in card.to_json() if k.startswith("time_to"))
    ['time_to_contain_s', 'time_to_declare_s', 'time_to_detect_s', 'time_to_recover_s']
    >>> card.to_json()["false_alarms"], card.to_json()["steps"]
    (0, [])
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["IncidentSummary", "Scorecard", "StepResult"]


class StepResult(BaseModel):
    """One expected step and what the platform did: ``taken`` is the action that ran (or the
    milestone reached), ``None`` when it did not; ``at_s`` is simulated seconds from the first
    fault inject (from the drill's start where there is no fault)."""

    model_config = ConfigDict(extra="forbid")

    expected: str
    taken: str | None = None
    at_s: float | None = None


class IncidentSummary(BaseModel):
    """An incident the drill's platform declared, and the inject that explains it (if any)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    ref: str
    system: str
    failure_mode: str
    severity: str
    phase: str
    declared_at_s: float
    explained_by: str | None = None


class Scorecard(BaseModel):
    """The result of a drill, with the JSON keys the drills documentation promises."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    passed: bool
    time_to_detect_s: float | None = None
    time_to_declare_s: float | None = None
    time_to_contain_s: float | None = None
    time_to_recover_s: float | None = None
    bad_predictions_served: int | None = None
    false_alarms: int = 0
    failure_mode_correct: bool | None = None
    root_cause_correct: bool | None = None
    steps: list[StepResult] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    seed: int | None = None
    scale: float = 1.0
    simulated_s: float = 0.0
    wall_s: float = 0.0
    data_dir: str | None = None
    incidents: list[IncidentSummary] = Field(default_factory=list)
    requests_sent: int = 0
    rows_sent: int = 0
    labels_sent: int = 0
    chat_turns_sent: int = 0

    def to_json(self) -> dict[str, Any]:
        """Return the scorecard as a JSON object (``passed`` and ``scenario`` first)."""
        return self.model_dump(mode="json")
