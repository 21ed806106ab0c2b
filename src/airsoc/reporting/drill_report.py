"""Drill reports: a drill's scorecard (its JSON object) as plain text and as an HTML page.

Example:
    >>> card = {"scenario": "benign-week", "passed": True, "time_to_detect_s": None,
    ...         "time_to_declare_s": None, "time_to_contain_s": None, "time_to_recover_s": None,
    ...         "bad_predictions_served": None, "false_alarms": 0, "failure_mode_correct": None,
    ...         "root_cause_correct": None, "steps": [], "reasons": [], "incidents": []}
    >>> render_drill_text(card).splitlines()[0]
    'drill benign-week: passed'
    >>> "<h1>Drill <code>benign-week</code>: passed</h1>" in render_drill_html(card)
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["DRILL_TIMES", "render_drill_html", "render_drill_text"]

#: The scorecard keys shown as its table of times and counts, in order.
DRILL_TIMES = (
    "time_to_detect_s",
    "time_to_declare_s",
    "time_to_contain_s",
    "time_to_recover_s",
    "bad_predictions_served",
    "false_alarms",
    "failure_mode_correct",
    "root_cause_correct",
)

_env = Environment(
    loader=PackageLoader("airsoc.reporting", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    undefined=StrictUndefined,
)


def _defaults(card: Mapping[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seed": None,
        "scale": 1.0,
        "simulated_s": 0,
        "wall_s": 0,
        "requests_sent": 0,
        "rows_sent": 0,
        "labels_sent": 0,
        "chat_turns_sent": 0,
    }
    return {**base, **card}


def render_drill_html(card: Mapping[str, Any]) -> str:
    """Return the scorecard as a standalone HTML page (everything from the card is escaped)."""
    from importlib.resources import files

    css = (files("airsoc.reporting") / "templates" / "report.css").read_text(encoding="utf-8")
    template = _env.get_template("drill.html.j2")
    return template.render(card=_defaults(card), times=DRILL_TIMES, css=css)


def render_drill_text(card: Mapping[str, Any]) -> str:
    """Return the scorecard as lines of plain text."""
    card = _defaults(card)
    lines = [f"drill {card['scenario']}: {'passed' if card['passed'] else 'failed'}"]
    for key in DRILL_TIMES:
        value = card.get(key)
        lines.append(f"  {key:<24} {'n/a' if value is None else value}")
    for step in card.get("steps", []):
        taken = step.get("taken") or "NOT TAKEN"
        at = "" if step.get("at_s") is None else f" at {step['at_s']:g}s"
        lines.append(f"  step {step['expected']}: {taken}{at}")
    for incident in card.get("incidents", []):
        lines.append(
            f"  incident {incident['ref']} {incident['failure_mode']} on {incident['system']} "
            f"({incident['severity']}, {incident['phase']}), explained by "
            f"{incident.get('explained_by') or 'no inject'}"
        )
    for reason in card.get("reasons", []):
        lines.append(f"  reason: {reason}")
    lines.append(
        f"  {card['requests_sent']} requests, {card['rows_sent']} rows, {card['labels_sent']} "
        f"labels, {card['chat_turns_sent']} chat turns; {card['simulated_s']:g} simulated s in "
        f"{card['wall_s']:g} s"
    )
    return "\n".join(lines)
