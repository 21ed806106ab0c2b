"""Stored values as words for a reader: yes/no, lists joined, ``{"from": a, "to": b}`` as
"from a to b", and the JSON a summary carries (a playbook step's output) as sentences.

The console (``airsoc.server.humanize``) and the reports (post-mortem timelines) share them, so
no page and no report shows raw JSON.

Example:
    >>> without_json('Playbook step succeeded: set_source_trust: {"level": "probation"}.')
    'Playbook step succeeded: set_source_trust: level: probation.'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ISO_TIMESTAMP",
    "describe_step",
    "describe_value",
    "markdown_summary",
    "without_json",
    "words",
]

#: An ISO 8601 timestamp as stored bodies carry it (``2026-03-01T09:05:07.123456+00:00``).
ISO_TIMESTAMP = re.compile(
    r"\b(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?\b"
)
#: Keys of a dict that say a value moved from one thing to another.
_MOVE = ("from", "to")


def words(key: str) -> str:
    """Return a key as words: ``was_quarantined`` as "Was quarantined".

    >>> words("previous_level")
    'Previous level'
    """
    return key.replace("_", " ").replace(".", " ").strip().capitalize()


def describe_value(value: Any) -> str:
    """Return a stored value as words: yes/no, lists joined, ``{"from": a, "to": b}`` as
    "from a to b", other mappings as "key value; ...", nothing as "none".

    >>> describe_value({"from": "v2", "to": "v1", "by": "playbook"})
    'from v2 to v1 (by: playbook)'
    >>> describe_value([0.5, "b-17"]), describe_value(None), describe_value(True)
    ('0.5, b-17', 'none', 'yes')
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        stamp = ISO_TIMESTAMP.fullmatch(value.strip())
        if stamp:
            return f"{stamp.group(1)} {stamp.group(2)} UTC"
        return value
    if isinstance(value, Mapping):
        rest = {k: v for k, v in value.items() if k not in _MOVE}
        moved = ""
        if all(k in value for k in _MOVE):
            moved = f"from {describe_value(value['from'])} to {describe_value(value['to'])}"
            if not rest:
                return moved
        inner = "; ".join(f"{words(str(k)).lower()}: {describe_value(v)}" for k, v in rest.items())
        return f"{moved} ({inner})" if moved else inner or "none"
    if isinstance(value, list | tuple | set):
        return ", ".join(describe_value(v) for v in value) or "none"
    return str(value)


#: Past tense of the operations whose output says what moved from what to what.
_DONE = {"rollback": "Rolled back", "promote": "Promoted", "restore": "Restored"}


def describe_step(action: str, output: Mapping[str, Any] | None) -> str | None:
    """Return a sentence for a step whose output moved something ``from`` one value ``to``
    another, else ``None``.

    >>> describe_step("rollback", {"system": "fraud", "from": "v7", "to": "v6"})
    'Rolled back fraud from v7 to v6.'
    """
    if not output or not all(k in output for k in _MOVE):
        return None
    verb = _DONE.get(action, f"{words(action)}:")
    what = f" {output['system']}" if "system" in output else ""
    return f"{verb}{what} from {describe_value(output['from'])} to {describe_value(output['to'])}."


_DECODER = json.JSONDecoder()
_ACTION_BEFORE = re.compile(r"([a-z][a-z0-9_.]*):\s*$")


def without_json(text: str) -> str:
    """Return ``text`` with each JSON object in it written as words (a summary such as
    ``rollback: {"from": "v2", "to": "v1"}`` becomes "Rolled back from v2 to v1").

    >>> without_json('Playbook step succeeded: rollback: {"from": "v2", "to": "v1"}.')
    'Playbook step succeeded: Rolled back from v2 to v1.'
    >>> without_json('quarantine: {"batch": "b-17", "was_quarantined": false}')
    'quarantine: batch: b-17; was quarantined: no'
    """
    out, at = [], 0
    while (start := text.find("{", at)) >= 0:
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            out.append(text[at : start + 1])
            at = start + 1
            continue
        before = text[at:start]
        said = None
        action = _ACTION_BEFORE.search(before)
        if action and isinstance(value, Mapping):
            said = describe_step(action.group(1), value)
        if said:
            out.append(before[: action.start()] if action else before)
            out.append(said.rstrip("."))
        else:
            out.append(before)
            out.append(describe_value(value))
        at = end
    out.append(text[at:])
    return "".join(out)


_EMPHASIS = re.compile(r"\*\*|__|`+")
_LINE_MARK = re.compile(r"^\s{0,3}(?:#{1,6}\s+|[-*+]\s+)")


def markdown_summary(text: str) -> str:
    """Return Markdown ``text`` as one plain line: its first paragraph, without markers (a
    timeline line is no place for a whole message).

    >>> markdown_summary("status update saved:\\n**INC-1 status update** (SEV2)\\n\\n- System: x")
    'status update saved: INC-1 status update (SEV2) …'
    """
    paragraph, _, rest = text.strip().partition("\n\n")
    lines = [_LINE_MARK.sub("", line).strip() for line in paragraph.splitlines()]
    plain = _EMPHASIS.sub("", " ".join(line for line in lines if line))
    return f"{plain} …" if rest.strip() else plain
