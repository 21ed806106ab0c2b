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

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from airsoc.reporting.words import (
    ISO_TIMESTAMP,
    describe_step,
    describe_value,
    without_json,
)
from airsoc.reporting.words import words as _words

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

_TAG = re.compile(r"(<[^>]*>)")
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


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


def describe_output(output: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Return a playbook step's output as (what, value) rows of words, in the output's order."""
    if not output:
        return []
    return [(_words(str(key)), describe_value(value)) for key, value in output.items()]


def escape_text(text: str) -> Markup:
    """Return plain ``text`` escaped, with its ISO timestamps as ``<time>`` elements."""
    return times_in_text(str(escape(text)))
