"""How the console shows stored values to a person: times as ``<time>`` elements (UTC to the
second, put in the reader's time zone by ``/static/live.js``), Markdown rendered to safe HTML,
and playbook step outputs as sentences and tables instead of JSON.

Markdown is rendered by markdown-it-py in CommonMark mode with raw HTML off: any HTML in the
text is shown as text, and links with ``javascript:``, ``vbscript:``, ``file:`` or ``data:``
targets are not made into links, so the result needs no further sanitising.

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> str(when(datetime(2026, 3, 1, 9, 5, 7, 123456, tzinfo=timezone.utc)))
    '<time datetime="2026-03-01T09:05:07Z">2026-03-01 09:05:07 UTC</time>'
    >>> str(markdown_html("**INC-1 status update** <b>x</b>"))
    '<p><strong>INC-1 status update</strong> &lt;b&gt;x&lt;/b&gt;</p>\\n'
    >>> describe_output({"rollback": {"from": "v2", "to": "v1"}, "was_quarantined": False})
    [('Rollback', 'from v2 to v1'), ('Was quarantined', 'no')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

__all__ = [
    "ISO_TIMESTAMP",
    "describe_output",
    "describe_step",
    "describe_value",
    "escape_text",
    "markdown_html",
    "times_in_text",
    "utc_iso",
    "when",
    "without_json",
]

#: An ISO 8601 timestamp as stored bodies carry it (``2026-03-01T09:05:07.123456+00:00``).
ISO_TIMESTAMP = re.compile(
    r"\b(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?\b"
)
_TAG = re.compile(r"(<[^>]*>)")
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
#: Keys of a dict that say a value moved from one thing to another.
_MOVE = ("from", "to")


def utc_iso(moment: datetime) -> str:
    """Return ``moment`` in UTC as ISO 8601 to the second (naive times are taken as UTC).

    >>> from datetime import timedelta, timezone
    >>> utc_iso(datetime(2026, 3, 1, 10, 5, 7, 999, tzinfo=timezone(timedelta(hours=1))))
    '2026-03-01T09:05:07Z'
    """
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def when(moment: datetime | None, *, missing: str = "unknown") -> Markup:
    """Return ``moment`` as a ``<time>`` element: UTC to the second in the text and the
    ``datetime`` attribute (the console's script shows it in the reader's zone); ``missing``
    when there is no moment."""
    if moment is None:
        return Markup('<span class="unknown">{}</span>').format(missing)
    iso = utc_iso(moment)
    return Markup('<time datetime="{}">{}</time>').format(iso, f"{iso[:10]} {iso[11:19]} UTC")


def _time_element(match: re.Match[str]) -> str:
    day, clock, zone = match.group(1), match.group(2), match.group(3)
    moment = datetime.fromisoformat(f"{day}T{clock}{zone or '+00:00'}")
    return str(when(moment))


def times_in_text(html: str) -> Markup:
    """Return ``html`` (already safe) with every ISO timestamp in its text, not its tags,
    replaced by a :func:`when` element (to the second, no microseconds)."""
    parts = _TAG.split(html)
    return Markup(
        "".join(
            part if part.startswith("<") else ISO_TIMESTAMP.sub(_time_element, part)
            for part in parts
        )
    )


def markdown_html(text: str) -> Markup:
    """Return Markdown ``text`` rendered to HTML, raw HTML shown as text, timestamps as
    ``<time>`` elements."""
    return times_in_text(_MARKDOWN.render(text))


def _words(key: str) -> str:
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
        inner = "; ".join(f"{_words(str(k)).lower()}: {describe_value(v)}" for k, v in rest.items())
        return f"{moved} ({inner})" if moved else inner or "none"
    if isinstance(value, list | tuple | set):
        return ", ".join(describe_value(v) for v in value) or "none"
    return str(value)


def describe_output(output: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Return a playbook step's output as (what, value) rows of words, in the output's order."""
    if not output:
        return []
    return [(_words(str(key)), describe_value(value)) for key, value in output.items()]


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
    verb = _DONE.get(action, f"{_words(action)}:")
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


def escape_text(text: str) -> Markup:
    """Return plain ``text`` escaped, with its ISO timestamps as ``<time>`` elements."""
    return times_in_text(str(escape(text)))
