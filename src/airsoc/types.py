"""Aliases shared across domains.

>>> from airsoc.types import JSONDict
>>> payload: JSONDict = {"system": "fraud-detector"}
>>> payload["system"]
'fraud-detector'
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["Actor", "JSONDict", "JSONValue"]

JSONValue: TypeAlias = Any
"""Any value that survives ``json.dumps``."""

JSONDict: TypeAlias = dict[str, Any]
"""A JSON object."""

Actor: TypeAlias = str
"""Who did something: a user name, ``system:<component>`` or ``playbook:<run>``."""
