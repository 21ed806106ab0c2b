"""Charts as server-side SVG: no JavaScript, no network, the same markup in the console, the HTML
report and (rasterised by the PDF writer) the PDF.

Example:
    >>> svg = bar_chart(["sev1", "sev2"], [Series("open", [1, 3])], title="Open incidents")
    >>> svg.startswith("<svg") and "Open incidents" in svg and svg.count("<rect") >= 2
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from airsoc.incidents.findings import ChartData

__all__ = [
    "PALETTE",
    "PhaseSpan",
    "Series",
    "bar_chart",
    "chart_from_data",
    "line_chart",
    "phase_chart",
]

#: Series colours (colour-blind friendly, Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
_FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


@dataclass(frozen=True)
class Series:
    """A named series of values, one per category or x position; ``None`` is an unknown value,
    drawn as "unknown" (bar charts) or a gap (line charts), never as 0."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class PhaseSpan:
    """A stretch of time an incident spent in one phase."""

    phase: str
    start: datetime
    end: datetime


def _nice_max(value: float) -> float:
    """Return a round axis top at or above ``value`` (1, 2, 2.5 or 5 times a power of ten).

    >>> _nice_max(0.31), _nice_max(7), _nice_max(130), _nice_max(0)
    (0.5, 10.0, 200.0, 1.0)
    """
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return value


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.3g}"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
        f'<text x="12" y="20" font-size="14" font-weight="bold" {_FONT} fill="#222">'
        f"{escape(title)}</text>"
    )
    return head + "".join(body) + "</svg>"


def _axes(
    left: int, top: int, plot_w: int, plot_h: int, top_value: float, y_label: str
) -> list[str]:
    out = []
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            'stroke="#e3e3e3" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" {_FONT} '
            f'fill="#555">{_fmt(value)}</text>'
        )
    if y_label:
        out.append(
            f'<text x="14" y="{top + plot_h / 2:.1f}" font-size="11" {_FONT} fill="#555" '
            f'transform="rotate(-90 14 {top + plot_h / 2:.1f})" text-anchor="middle">'
            f"{escape(y_label)}</text>"
        )
    return out


def _legend(series: Sequence[Series], width: int) -> list[str]:
    if len(series) < 2:
        return []
    out = []
    x = width - 12
    for i, s in reversed(list(enumerate(series))):
        label_w = 7 * len(s.name) + 18
        x -= label_w
        out.append(
            f'<rect x="{x}" y="10" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="19" font-size="11" {_FONT} fill="#333">{escape(s.name)}</text>'
        )
    return out


def _threshold(
    threshold: float | None, top_value: float, left: int, top: int, plot_w: int, plot_h: int
) -> list[str]:
    if threshold is None:
        return []
    y = top + plot_h - plot_h * min(threshold / top_value, 1.0)
    return [
        f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#D55E00" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{left + 4}" y="{y - 4:.1f}" font-size="11" {_FONT} fill="#D55E00">'
        f"threshold {_fmt(threshold)}</text>"
    ]


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    threshold: float | None = None,
    width: int = 640,
    height: int = 260,
) -> str:
    """Return an SVG bar chart (grouped when there are several series), with value labels."""
    left, top, right, bottom = 56, 34, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    top_value = _nice_max(max([*values, threshold or 0.0, 0.0]))
    if values and all(float(v).is_integer() for v in values):
        top_value = max(4.0, math.ceil(top_value / 4) * 4)  # counts: whole-number gridlines
    body = _axes(left, top, plot_w, plot_h, top_value, y_label)
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * 0.7 / max(len(series), 1)
    for i, label in enumerate(labels):
        x0 = left + slot * i + slot * 0.15
        for j, s in enumerate(series):
            value = s.values[i]
            x = x0 + bar_w * j
            if value is None:
                # Written upwards from the axis, so neighbouring unknowns never overlap.
                tx, ty = x + bar_w / 2 + 3, top + plot_h - 4
                body.append(
                    f'<text class="unknown" x="{tx:.1f}" y="{ty}" font-size="10" '
                    f'transform="rotate(-90 {tx:.1f} {ty})" {_FONT} fill="#6b7686">'
                    f"<title>{escape(s.name)} {escape(label)}: unknown</title>unknown</text>"
                )
                continue
            h = plot_h * max(value, 0.0) / top_value
            y = top + plot_h - h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(s.name)} {escape(label)}: '
                f"{_fmt(value)}</title></rect>"
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" font-size="10" '
                f'text-anchor="middle" {_FONT} fill="#333">{_fmt(value)}</text>'
            )
        body.append(
            f'<text x="{left + slot * (i + 0.5):.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle" {_FONT} fill="#333">{escape(label)}</text>'
        )
    body += _threshold(threshold, top_value, left, top, plot_w, plot_h)
    body += _legend(series, width)
    return _frame(width, height, title, body)


def line_chart(
    x: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    threshold: float | None = None,
    width: int = 640,
    height: int = 260,
) -> str:
    """Return an SVG line chart; x positions are evenly spaced and some of them labelled."""
    left, top, right, bottom = 56, 34, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for s in series for v in s.values if v is not None] + [threshold or 0.0, 0.0])
    top_value = _nice_max(peak)
    body = _axes(left, top, plot_w, plot_h, top_value, y_label)
    step = plot_w / max(len(x) - 1, 1)
    for j, s in enumerate(series):
        runs: list[list[str]] = [[]]  # an unknown value breaks the line
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
                continue
            y = top + plot_h - plot_h * max(v, 0.0) / top_value
            runs[-1].append(f"{left + step * i:.1f},{y:.1f}")
        for run in (r for r in runs if r):
            body.append(
                f'<polyline points="{" ".join(run)}" fill="none" '
                f'stroke="{PALETTE[j % len(PALETTE)]}" '
                f'stroke-width="2"><title>{escape(s.name)}</title></polyline>'
            )
    every = max(1, len(x) // 6)
    for i, label in enumerate(x):
        if i % every == 0 or i == len(x) - 1:
            body.append(
                f'<text x="{left + step * i:.1f}" y="{top + plot_h + 16}" font-size="11" '
                f'text-anchor="middle" {_FONT} fill="#333">{escape(label)}</text>'
            )
    body += _threshold(threshold, top_value, left, top, plot_w, plot_h)
    body += _legend(series, width)
    return _frame(width, height, title, body)


_PHASE_COLOURS = {
    "detected": "#D55E00",
    "triaged": "#E69F00",
    "contained": "#0072B2",
    "eradicated": "#56B4E9",
    "recovered": "#009E73",
}


def phase_chart(spans: Sequence[PhaseSpan], *, title: str, width: int = 640) -> str:
    """Return an SVG timeline of the phases an incident went through, with their durations."""
    height = 52 + 26 * max(len(spans), 1)
    left, right = 110, 16
    plot_w = width - left - right
    if not spans:
        return _frame(width, height, title, [])
    start = spans[0].start
    total = max((spans[-1].end - start).total_seconds(), 1.0)
    body = []
    for i, span in enumerate(spans):
        y = 34 + 26 * i
        x = left + plot_w * (span.start - start).total_seconds() / total
        w = max(plot_w * (span.end - span.start).total_seconds() / total, 2.0)
        minutes = (span.end - span.start).total_seconds() / 60
        colour = _PHASE_COLOURS.get(span.phase, "#999999")
        if x + w + 60 <= width:
            label = f'<text x="{x + w + 4:.1f}" y="{y + 13}" font-size="10" {_FONT} fill="#333">'
        else:  # no room to the right: write it inside the bar's end
            label = (
                f'<text x="{x + w - 4:.1f}" y="{y + 13}" font-size="10" text-anchor="end" '
                f'{_FONT} fill="#fff">'
            )
        body.append(
            f'<text x="{left - 8}" y="{y + 14}" font-size="11" text-anchor="end" {_FONT} '
            f'fill="#333">{escape(span.phase)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="18" fill="{colour}" rx="2">'
            f"<title>{escape(span.phase)}: {minutes:.0f} min</title></rect>"
            f"{label}{minutes:.0f} min</text>"
        )
    body.append(
        f'<text x="{left}" y="{height - 6}" font-size="10" {_FONT} fill="#555">'
        f"{start:%Y-%m-%d %H:%M} UTC</text>"
        f'<text x="{width - right}" y="{height - 6}" font-size="10" text-anchor="end" {_FONT} '
        f'fill="#555">{spans[-1].end:%Y-%m-%d %H:%M} UTC</text>'
    )
    return _frame(width, height, title, body)


def chart_from_data(data: ChartData, *, title: str) -> str:
    """Return the SVG of a finding's chart data.

    >>> from airsoc.incidents.findings import ChartSeries
    >>> chart_from_data(ChartData(kind="line", x=["1", "2"],
    ...     series=[ChartSeries(name="psi", values=[0.1, 0.4])]), title="PSI").count("<polyline")
    1
    """
    series = [Series(s.name, s.values) for s in data.series]
    draw = line_chart if data.kind == "line" else bar_chart
    return draw(data.x, series, title=title, y_label=data.y_label, threshold=data.threshold)
