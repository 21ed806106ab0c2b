"""Aliases and model bases shared across domains: JSON aliases, ``StrictModel`` (unknown keys
rejected, as every config section is), ``Duration`` (``"15m"``, ``"7d"``), and the bounds every
value from outside must keep: :data:`Text` and :data:`NonBlank` (no control characters),
:data:`RowId` (a stored row's number) and :func:`json_depth_exceeds`.

>>> from airsoc.types import JSONDict
>>> payload: JSONDict = {"system": "fraud-detector"}
>>> payload["system"]
'fraud-detector'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = [
    "MAX_ROW_ID",
    "NON_BLANK_PATTERN",
    "TEXT_PATTERN",
    "Actor",
    "ClosedKeys",
    "Duration",
    "JSONDict",
    "JSONValue",
    "NonBlank",
    "RowId",
    "StrictModel",
    "Text",
    "control_character_problem",
    "find_control_character",
    "find_control_character_in_json",
    "json_depth_exceeds",
    "parse_duration",
]

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


# ------------------------------------------------------------------ bounds of outside input

#: Control characters no text from outside may hold: C0 except tab, newline and carriage return,
#: DEL and C1. PostgreSQL cannot store NUL in text at all; the rest have no business in a name,
#: a reason or a note, and hide content from people who read it later.
_CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Checked in Python also: lone surrogates, which cannot be written as UTF-8 (a JSON parser lets
# "\\ud800" through; pydantic refuses it in typed fields, so the schema pattern leaves it out).
_CONTROL_RE = re.compile(f"[{_CONTROL_CLASS}\ud800-\udfff]")

#: A JSON-schema pattern (ECMA-262 and Python alike) for text without control characters.
TEXT_PATTERN = f"^[^{_CONTROL_CLASS}]*$"
#: The same, with at least one character that is not white space.
NON_BLANK_PATTERN = f"^[^{_CONTROL_CLASS}]*[^\\s{_CONTROL_CLASS}][^{_CONTROL_CLASS}]*$"

Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
"""Text from outside: any characters but control characters (tab, newline and CR are fine).
Add bounds where it is used: ``Annotated[Text, Field(max_length=20000)]``."""

NonBlank = Annotated[str, StringConstraints(pattern=NON_BLANK_PATTERN)]
""":data:`Text` holding at least one character that is not white space."""


@dataclass(frozen=True)
class ClosedKeys:
    """Marks a ``dict`` whose keys are constrained, so its JSON schema says so: pydantic writes
    the key pattern as ``patternProperties``, which leaves every other key open.

    >>> from pydantic import TypeAdapter
    >>> schema = TypeAdapter(Annotated[dict[NonBlank, str], ClosedKeys(9)]).json_schema()
    >>> schema["additionalProperties"], schema["propertyNames"]
    (False, {'maxLength': 9, 'minLength': 1})
    """

    max_key_length: int

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Return the dict's schema with keys outside its pattern or length refused."""
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target["additionalProperties"] = False
        target["propertyNames"] = {"maxLength": self.max_key_length, "minLength": 1}
        return json_schema


#: The largest row number a store keeps (a 32-bit ``INTEGER`` key on PostgreSQL).
MAX_ROW_ID = 2**31 - 1

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
"""The number of a stored row (an incident, a post-mortem, an approval, ...): 1 to 2**31 - 1."""


def find_control_character(text: str) -> int | None:
    """Return the index of the first control character :data:`Text` refuses, or None.

    >>> find_control_character("line one\\nline two"), find_control_character("a\\x00b")
    (None, 1)
    """
    match = _CONTROL_RE.search(text)
    return match.start() if match else None


def _describe(char: str) -> str:
    kind = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "the control character"
    return f"{kind} U+{ord(char):04X}"


def control_character_problem(text: str) -> str | None:
    """Return what is wrong with ``text`` if it holds a control character, else None.

    >>> control_character_problem("a\\x00b")
    'contains the control character U+0000 at position 1; only tab, newline and CR may appear'
    """
    at = find_control_character(text)
    if at is None:
        return None
    return f"contains {_describe(text[at])} at position {at}; only tab, newline and CR may appear"


def find_control_character_in_json(value: Any, loc: str = "") -> tuple[str, str] | None:
    """Return ``(location, problem)`` of the first JSON string (key or value) holding a control
    character, or None. ``value`` must be parsed JSON of bounded depth.

    >>> loc, problem = find_control_character_in_json({"rows": [{"t": "\\x07"}]}, "body")
    >>> loc, problem.split(";")[0]
    ('body.rows[0].t', 'contains the control character U+0007 at position 0')
    """
    if isinstance(value, str):
        problem = control_character_problem(value)
        return (loc, problem) if problem else None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_control_character_in_json(item, f"{loc}[{i}]")
            if found:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{loc}.{key}" if loc else str(key)
            problem = control_character_problem(key)
            if problem:
                return f"{loc}.<key {key!r}>" if loc else f"<key {key!r}>", problem
            found = find_control_character_in_json(item, where)
            if found:
                return found
    return None


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_ONLY_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Return whether the JSON document ``raw`` nests arrays and objects more than ``limit``
    deep, without parsing it (a parser would recurse once per level).

    Strings are taken out first, so brackets inside them do not count; then each pass removes
    the innermost empty pairs, so a document ``limit`` deep is gone after ``limit`` passes.

    >>> json_depth_exceeds(b'{"a": [[1], "]]]"]}', 3), json_depth_exceeds(b'[[{}]]', 2)
    (False, True)
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # the common case, found without a pass over the strings
    brackets = _JSON_STRING.sub(b"", raw).translate(_ONLY_BRACKETS, _NOT_BRACKETS)
    if len(brackets) <= 2 * limit:
        return False
    if b"[" * (limit + 1) in brackets:
        return True  # the usual attack: one long run of openings
    for _ in range(limit):
        shorter = brackets.replace(b"[]", b"")
        if not shorter or shorter == brackets:
            return False  # empty: shallow enough; unchanged: not JSON (the parser says so)
        brackets = shorter
    return b"[]" in brackets
