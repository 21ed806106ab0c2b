"""Messages to the players: an inject that changes nothing in the platform, shown in tabletop
mode and kept in the drill's log.

Example:
    >>> Message().validate({"text": "The vendor calls: their pipeline was upgraded."}).text
    'The vendor calls: their pipeline was upgraded.'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from airsoc.drills.context import DrillContext
from airsoc.drills.injectors.base import Injector
from airsoc.types import NonBlank, StrictModel

__all__ = ["INJECTORS", "Message"]


class MessageParams(StrictModel):
    """A message: what the players are told."""

    text: Annotated[NonBlank, Field(max_length=4000)]


class Message(Injector):
    """A message to the players (no fault)."""

    name = "message"
    family = "players"
    benign = True
    Params = MessageParams

    def apply(self, ctx: DrillContext, params: MessageParams) -> None:
        """Record the message in the drill's log."""
        ctx.note(params.text)


INJECTORS: tuple[type[Injector], ...] = (Message,)
