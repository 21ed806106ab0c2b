"""Aliases and model bases shared across domains: JSON aliases, ``StrictModel`` (unknown keys
rejected, as every config section is) and ``Duration`` (``"15m"``, ``"7d"``).

>>> from airsoc.types import JSONDict
>>> payload: JSONDict = {"system": "fraud-detector"}
>>> payload["system"]
'fraud-detector'
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

__all__ = ["Actor", "Duration", "JSONDict", "JSONValue", "StrictModel", "parse_duration"]

JSONValue: TypeAlias = Any
"""Any value that survives ``json.dumps``."""

JSONDict: TypeAlias = dict[str, Any]
"""A JSON object."""

Actor: TypeAlias = str
"""Who did something: a user name, ``system:<component>`` or ``playbook:<run>``."""

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Return a duration from ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` or seconds.

    >>> parse_duration("1h30m")
    Traceback (most recent call last):
    ...
    ValueError: invalid duration '1h30m': use a number and one unit, e.g. 30s, 15m, 1h, 7d
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(
        f"invalid duration {value!r}: use a number and one unit, e.g. 30s, 15m, 1h, 7d"
    )


def _format_duration(value: timedelta) -> str:
    # Keep sub-second precision, so a dumped duration reads back the same.
    text = f"{value.total_seconds():.6f}".rstrip("0").rstrip(".")
    return f"{text}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(_format_duration, return_type=str)
]


class StrictModel(BaseModel):
    """A config model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
