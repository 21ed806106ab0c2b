"""The injector interface: a named fault (or benign change) with a strict params model, applied
to a :class:`~airsoc.drills.context.DrillContext` at its simulated time.

Example:
    >>> from airsoc.types import StrictModel
    >>> class Nothing(Injector):
    ...     name = "nothing"
    ...     family = "example"
    ...     class Params(StrictModel):
    ...         pass
    ...     def apply(self, ctx, params):
    ...         ctx.note("did nothing")
    >>> Nothing().validate({}).model_dump()
    {}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from airsoc.drills.context import DrillContext
from airsoc.types import StrictModel

__all__ = ["Injector"]


class Injector(ABC):
    """One kind of inject. ``name`` is what a scenario's ``kind`` says; ``Params`` validates
    the inject's ``params`` (unknown keys are errors); ``apply`` changes traffic, data,
    sources, releases, documents or the platform's health, and never decides anything.

    ``benign`` says whether the change is one the platform must *not* alarm on (a clean
    retrain, a seasonal shift); a scenario may mark only such injectors ``benign: true``.

    ``causes`` are the failure modes an incident declared after this fault may rightly carry
    (a poisoned release shows as poisoning or as a regression, never as a client's evasion
    attack); the scorecard counts an incident with any other mode as a false alarm.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    benign: ClassVar[bool] = False
    causes: ClassVar[frozenset[str]] = frozenset()
    Params: ClassVar[type[StrictModel]]

    def validate(self, params: dict[str, Any]) -> StrictModel:
        """Return ``params`` validated by :attr:`Params` (raises pydantic's ValidationError)."""
        return self.Params.model_validate(params)

    @abstractmethod
    def apply(self, ctx: DrillContext, params: Any) -> None:
        """Apply the inject now, on ``ctx``'s clock."""

    def describe(self, params: Any) -> str:
        """Return one line saying what the inject does (for the drill's log and tabletop): the
        parameters the scenario set, long values cut short."""
        set_params = params.model_dump(mode="json", exclude_unset=True)
        shown = ", ".join(f"{k}={_short(v)}" for k, v in set_params.items())
        return f"{self.name}({shown})"


def _short(value: Any, limit: int = 80) -> str:
    """Return ``value`` as text, cut to ``limit`` characters.

    >>> _short("x" * 100, limit=10)
    'xxxxxxxxx…'
    """
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
