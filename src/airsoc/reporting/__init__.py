"""Findings, blameless post-mortems (Markdown, HTML with SVG charts, PDF) and fleet response times.

Example:
    >>> from airsoc.reporting import due_date_for, format_duration
    >>> from datetime import datetime, timezone
    >>> due_date_for("sev2", start=datetime(2026, 3, 1, tzinfo=timezone.utc)).date().isoformat()
    '2026-03-15'
    >>> format_duration(5400)
    '1 h 30 min'
"""

from __future__ import annotations

from airsoc.reporting.postmortems import (
    ActionItemIn,
    ActionItemView,
    NarrativeUpdate,
    PostmortemStatus,
    PostmortemView,
    add_action_item,
    create_postmortem,
    due_date_for,
    get_postmortem,
    list_postmortems,
    transition_postmortem,
    update_narrative,
)
from airsoc.reporting.render import render, render_html, render_markdown, render_pdf
from airsoc.reporting.report import PostmortemReport, build_report
from airsoc.reporting.timing import FleetMetric, IncidentTimes, fleet_metrics, format_duration

__all__ = [
    "ActionItemIn",
    "ActionItemView",
    "FleetMetric",
    "IncidentTimes",
    "NarrativeUpdate",
    "PostmortemReport",
    "PostmortemStatus",
    "PostmortemView",
    "add_action_item",
    "build_report",
    "create_postmortem",
    "due_date_for",
    "fleet_metrics",
    "format_duration",
    "get_postmortem",
    "list_postmortems",
    "render",
    "render_html",
    "render_markdown",
    "render_pdf",
    "transition_postmortem",
    "update_narrative",
]
