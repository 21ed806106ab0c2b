"""Evaluating a step's parts over a run's context: its condition, its ``foreach`` list and its
parameters. Shared by the runner and dry runs; a failure is a :class:`StepFailedError` naming the
step and the part.

Example:
    >>> from airsoc.response.playbooks import Step
    >>> step = Step.model_validate({"id": "q", "action": "quarantine_batch",
    ...                             "foreach": "{{ incident.data_batches }}"})
    >>> foreach_items(step, {"incident": {"data_batches": ["b1", "b2"]}})
    ['b1', 'b2']
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from airsoc.config.loader import issues_from_validation
from airsoc.errors import AirsocError
from airsoc.response.actions import Action
from airsoc.response.conditions import evaluate, render_value
from airsoc.response.playbooks import Step

__all__ = ["StepFailedError", "condition_holds", "foreach_items", "render_params"]


class StepFailedError(Exception):
    """A step could not run: its condition, items or parameters failed, or its action did."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def condition_holds(source: str, ctx: dict[str, Any], step: Step) -> bool:
    try:
        return bool(evaluate(source, ctx))
    except AirsocError as exc:
        raise StepFailedError(f"step {step.id}: when: {exc.message}") from None


def foreach_items(step: Step, ctx: dict[str, Any]) -> list[Any]:
    assert step.foreach is not None
    source = step.foreach.strip()
    if not source.startswith("{{"):
        source = "{{ " + source + " }}"
    try:
        value = render_value(source, ctx)
    except AirsocError as exc:
        raise StepFailedError(f"step {step.id}: foreach: {exc.message}") from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise StepFailedError(f"step {step.id}: foreach must give a list, got {value!r}")
    return value


def render_params(step: Step, action: Action, ctx: dict[str, Any]) -> Any:
    try:
        raw = render_value(step.with_, ctx)
    except AirsocError as exc:
        raise StepFailedError(f"step {step.id}: with: {exc.message}") from None
    fields = action.params_model.model_fields
    if "system" in fields and raw.get("system") is None:
        raw["system"] = ctx["incident"]["system"]
    try:
        return action.params_model.model_validate(raw)
    except ValidationError as exc:
        first = issues_from_validation(exc)[0]
        raise StepFailedError(
            f"step {step.id}: with.{first.loc}: {first.message} (got {first.value!r})"
        ) from None
