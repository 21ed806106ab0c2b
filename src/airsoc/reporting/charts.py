"""Charts as server-side SVG: no JavaScript, no network, the same markup in the console, the HTML
report and (rasterised by the PDF writer) the PDF.

A line chart's x positions are either categories (evenly spaced) or times: then points sit at
their time, the ticks are picked from the span (distinct labels, the date when the span crosses
days), and vertical annotations (a routing change) and markers (an alarm) can be drawn on it.
Tick labels are UTC and carry ``data-at``, so the console's script can write them in the
reader's time zone. The y axis has round ticks; an unknown value (``None``) is a gap in a line,
"unknown" in a bar chart, never 0.

Example:
    >>> svg = bar_chart(["sev1", "sev2"], [Series("open", [1, 3])], title="Open incidents")
    >>> svg.startswith("<svg") and "Open incidents" in svg and svg.count("<rect") >= 2
    True
    >>> from datetime import UTC
    >>> t = [datetime(2026, 3, 1, 9, m, tzinfo=UTC) for m in (0, 20, 40)]
    >>> svg = line_chart(t, [Series("p95", [120.0, None, 180.0])], title="latency",
    ...                  annotations=[Annotation(t[1], "rollback to v1")])
    >>> svg.count("<circle") == 2 and "rollback to v1" in svg and 'data-at="2026-03-01T09:' in svg
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from airsoc.incidents.findings import ChartData

__all__ = [
    "PALETTE",
    "Annotation",
    "Marker",
    "PhaseSpan",
    "Series",
    "bar_chart",
    "chart_from_data",
    "line_chart",
    "phase_chart",
    "time_ticks",
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
    colour: str | None = None
    dash: str | None = None  # an SVG stroke-dasharray, e.g. "4 3"


@dataclass(frozen=True)
class Annotation:
    """A moment marked on a time axis by a vertical line and a label (a routing change)."""

    at: datetime
    label: str
    colour: str = "#555555"


@dataclass(frozen=True)
class Marker:
    """A point marked on a time axis (an alarm): a ring at ``value`` with a tooltip."""

    at: datetime
    value: float
    label: str
    colour: str = "#D55E00"


@dataclass(frozen=True)
class PhaseSpan:
    """A stretch of time an incident spent in one phase."""

    phase: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class _Scale:
    """A y axis: its bottom, top and tick step."""

    low: float
    high: float
    step: float

    def y(self, value: float, top: float, plot_h: float) -> float:
        share = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return top + plot_h - plot_h * share

    def ticks(self) -> list[float]:
        count = round((self.high - self.low) / self.step)
        return [self.low + self.step * i for i in range(count + 1)]


def _y_scale(values: Sequence[float], *, integer: bool = False, top: float | None = None) -> _Scale:
    """Return a y axis with four to six round ticks covering ``values`` (and 0).

    ``integer`` keeps the step whole (counts); ``top`` fixes the top (a share's 100%).

    >>> s = _y_scale([0.31]); (s.low, s.high, s.step)
    (0.0, 0.4, 0.1)
    >>> _y_scale([3], integer=True).ticks()
    [0.0, 1.0, 2.0, 3.0]
    >>> _y_scale([-2.0, 7.0]).ticks()
    [-2.0, 0.0, 2.0, 4.0, 6.0, 8.0]
    >>> _y_scale([], top=100).ticks()
    [0.0, 25.0, 50.0, 75.0, 100.0]
    """
    low = min([*values, 0.0])
    high = top if top is not None else max([*values, 0.0])
    if high <= low:
        high = low + 1.0
    raw = (high - low) / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * (1 + 1e-9))
    if integer:
        step = max(1.0, math.ceil(step))
    if top is not None:
        step = top / 4
    lo = math.floor(low / step + 1e-9) * step
    hi = math.ceil(high / step - 1e-9) * step
    return _Scale(round(lo, 12), round(hi, 12), step)


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


def _axes(left: int, top: int, plot_w: int, plot_h: int, scale: _Scale, y_label: str) -> list[str]:
    """Return the y axis: its line, a tick mark, gridline and label per tick, and its title."""
    out = [
        f'<line class="y-axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
        'stroke="#888" stroke-width="1"/>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#888" stroke-width="1"/>'
    ]
    for value in scale.ticks():
        y = scale.y(value, top, plot_h)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            'stroke="#e3e3e3" stroke-width="1"/>'
            f'<line class="y-tick" x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" '
            'stroke="#888" stroke-width="1"/>'
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


def _colour(s: Series, i: int) -> str:
    return s.colour or PALETTE[i % len(PALETTE)]


#: Estimated width of a character, in ems, for placing labels without measuring text: a little
#: wider than DejaVu Sans's average, so estimated labels never overlap drawn ones.
_CHAR_EM = 0.68
#: The legend's font size; the key sits before the text, and a gap after it.
_LEGEND_FONT, _LEGEND_KEY, _LEGEND_GAP = 11, 22, 14


def _text_width(text: str, size: float) -> float:
    """Return the estimated width of ``text`` at font ``size`` (px), from its character count."""
    return _CHAR_EM * size * len(text)


def _legend_text(s: Series) -> str:
    unknown = "" if any(v is not None for v in s.values) else " (unknown)"
    return f"{s.name}{unknown}"


def _legend_layout(series: Sequence[Series], width: int) -> list[tuple[int, int]]:
    """Return each legend item's (x, row), spaced by the width of its text (with its
    "(unknown)", if any) and wrapping at ``width``; one series needs no legend."""
    if len(series) < 2:
        return []
    spots, x, row = [], 12, 0
    for s in series:
        item_w = _LEGEND_KEY + round(_text_width(_legend_text(s), _LEGEND_FONT)) + _LEGEND_GAP
        if x + item_w - _LEGEND_GAP > width - 12 and x > 12:
            x, row = 12, row + 1
        spots.append((x, row))
        x += item_w
    return spots


def _legend(series: Sequence[Series], width: int, y0: float, *, boxes: bool = False) -> list[str]:
    """Return the legend: a key per series (a box for bars, a stroke for lines) and its name."""
    out = []
    for i, (s, (x, row)) in enumerate(zip(series, _legend_layout(series, width), strict=False)):
        y = y0 + 16 * row
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        key = (
            f'<rect x="{x + 4}" y="{y - 9}" width="10" height="10" fill="{_colour(s, i)}"/>'
            if boxes
            else f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" '
            f'stroke="{_colour(s, i)}" stroke-width="3"{dash}/>'
        )
        out.append(
            key + f'<text class="legend" x="{x + _LEGEND_KEY}" y="{y}" '
            f'font-size="{_LEGEND_FONT}" {_FONT} fill="#333">{escape(_legend_text(s))}</text>'
        )
    return out


def _legend_rows(series: Sequence[Series], width: int) -> int:
    layout = _legend_layout(series, width)
    return layout[-1][1] + 1 if layout else 0


def _threshold(
    threshold: float | None, scale: _Scale, left: int, top: int, plot_w: int, plot_h: int
) -> list[str]:
    if threshold is None:
        return []
    y = scale.y(threshold, top, plot_h)
    return [
        f'<line class="threshold" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
        'stroke="#D55E00" stroke-width="1.5" stroke-dasharray="6 4"/>'
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
    rows = _legend_rows(series, width)
    height += 16 * rows
    left, top, right, bottom = 56, 34, 12, 40 + 16 * rows
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [float(v) for s in series for v in s.values if v is not None]
    counts = bool(values) and all(v.is_integer() for v in values)
    scale = _y_scale([*values, threshold or 0.0], integer=counts)
    body = _axes(left, top, plot_w, plot_h, scale, y_label)
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * 0.7 / max(len(series), 1)
    base = scale.y(0.0, top, plot_h)
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
            y_value = scale.y(value, top, plot_h)
            y, h = min(y_value, base), abs(base - y_value)
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_colour(s, j)}"><title>{escape(s.name)} {escape(label)}: '
                f"{_fmt(value)}</title></rect>"
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" font-size="10" '
                f'text-anchor="middle" {_FONT} fill="#333">{_fmt(value)}</text>'
            )
        body.append(
            f'<text x="{left + slot * (i + 0.5):.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle" {_FONT} fill="#333">{escape(label)}</text>'
        )
    body += _threshold(threshold, scale, left, top, plot_w, plot_h)
    body += _legend(series, width, top + plot_h + 36, boxes=True)
    return _frame(width, height, title, body)


#: Tick steps of a time axis, shortest first.
_TIME_STEPS = tuple(
    timedelta(seconds=s)
    for s in (
        *(1, 2, 5, 10, 15, 30),
        *(60 * m for m in (1, 2, 5, 10, 15, 30)),
        *(3600 * h for h in (1, 2, 3, 6, 12)),
        *(86400 * d for d in (1, 2, 7, 14, 30, 91, 182, 365)),
    )
)


@dataclass(frozen=True)
class _Tick:
    at: datetime
    label: str
    unit: str  # second, minute or day: what the label is precise to


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _tick_label(moment: datetime, unit: str, *, dated: bool) -> str:
    if unit == "day":
        return f"{moment:%Y-%m-%d}"
    clock = f"{moment:%H:%M:%S}" if unit == "second" else f"{moment:%H:%M}"
    return f"{moment:%m-%d} {clock}" if dated else clock


def time_ticks(start: datetime, end: datetime, *, max_ticks: int = 7) -> list[_Tick]:
    """Return round, distinct tick times between ``start`` and ``end`` (UTC) and their labels.

    The step is the shortest of 1 s ... 1 year giving at most ``max_ticks`` ticks; labels are
    precise to the step (seconds, minutes or days) and carry the date when the span crosses days.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 3, 1, 23, 48, 10, tzinfo=UTC)
    >>> [t.label for t in time_ticks(t0, t0 + timedelta(seconds=50))]
    ['23:48:10', '23:48:20', '23:48:30', '23:48:40', '23:48:50', '23:49:00']
    >>> [t.label for t in time_ticks(t0, t0 + timedelta(hours=3), max_ticks=4)]
    ['03-02 00:00', '03-02 01:00', '03-02 02:00']
    >>> [t.label for t in time_ticks(t0, t0 + timedelta(days=9))][:2]
    ['2026-03-02', '2026-03-04']
    """
    start, end = _utc(start), _utc(end)
    span = max(end - start, timedelta(seconds=1))
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    unit = "day"
    if step < timedelta(days=1):
        unit = "second" if step < timedelta(minutes=1) else "minute"
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + step * math.ceil((start - epoch) / step)
    dated = start.date() != end.date()
    ticks, at = [], first
    while at <= end:
        ticks.append(_Tick(at, _tick_label(at, unit, dated=dated), unit))
        at += step
    return ticks


def _time_axis(
    start: datetime, end: datetime, left: int, top: int, plot_w: int, plot_h: int
) -> list[str]:
    """Return the x ticks and labels of a time axis and its caption (zone, date)."""
    sample = _tick_label(start, "minute", dated=start.date() != end.date())
    max_ticks = max(2, plot_w // (7 * len(sample) + 24))
    total = max((end - start).total_seconds(), 1e-9)
    out = []
    for tick in time_ticks(start, end, max_ticks=max_ticks):
        x = left + plot_w * (tick.at - start).total_seconds() / total
        iso = tick.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(
            f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" '
            'stroke="#888" stroke-width="1"/>'
            f'<text class="tick-time" data-at="{iso}" data-unit="{tick.unit}" x="{x:.1f}" '
            f'y="{top + plot_h + 16}" font-size="11" text-anchor="middle" {_FONT} fill="#333">'
            f"{tick.label}</text>"
        )
    caption = f"times UTC, {start:%Y-%m-%d}"
    if start.date() != end.date():
        caption += f" to {end:%Y-%m-%d}"
    out.append(
        f'<text class="tick-zone" data-from="{start:%Y-%m-%dT%H:%M:%SZ}" '
        f'data-to="{end:%Y-%m-%dT%H:%M:%SZ}" x="{left + plot_w}" y="{top + plot_h + 30}" '
        f'font-size="10" text-anchor="end" {_FONT} fill="#6b7686">{caption}</text>'
    )
    return out


def _annotations(
    annotations: Sequence[Annotation],
    position: Callable[[datetime], float],
    left: int,
    top: int,
    plot_w: int,
    plot_h: int,
) -> list[str]:
    """Return vertical lines with labels; labels that would overlap go on the next row."""
    out: list[str] = []
    row_ends: list[float] = []
    for note in sorted(annotations, key=lambda a: _utc(a.at)):
        x = position(note.at)
        if not left - 0.5 <= x <= left + plot_w + 0.5:
            continue
        label_w = 6 * len(note.label) + 6
        anchor_end = x + label_w > left + plot_w
        span = (x - label_w, x) if anchor_end else (x, x + label_w)
        row = next((r for r, end in enumerate(row_ends) if span[0] > end), len(row_ends))
        if row == len(row_ends):
            row_ends.append(span[1])
        row_ends[row] = span[1]
        y = top + 10 + 11 * (row % 4)
        tx, anchor = (x - 3, "end") if anchor_end else (x + 3, "start")
        out.append(
            f'<g class="annotation"><line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" '
            f'y2="{top + plot_h}" stroke="{note.colour}" stroke-width="1.5" '
            f'stroke-dasharray="2 3"/><text x="{tx:.1f}" y="{y}" font-size="10" '
            f'text-anchor="{anchor}" {_FONT} fill="{note.colour}">{escape(note.label)}</text>'
            f"<title>{escape(note.label)} at {_utc(note.at):%Y-%m-%d %H:%M:%S} UTC</title></g>"
        )
    return out


def line_chart(
    x: Sequence[str] | Sequence[datetime],
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    threshold: float | None = None,
    width: int = 640,
    height: int = 260,
    span: tuple[datetime, datetime] | None = None,
    annotations: Sequence[Annotation] = (),
    markers: Sequence[Marker] = (),
    y_top: float | None = None,
) -> str:
    """Return an SVG line chart.

    ``x`` holds categories (evenly spaced, some labelled) or times (placed at their time over
    ``span``, or the times' own range; then ``annotations`` and ``markers`` are drawn). A
    ``None`` value is a gap in its line; a value with unknown neighbours is drawn as a dot.
    ``y_top`` fixes the top of the y axis (100 for a percentage).
    """
    rows = _legend_rows(series, width)
    timed = bool(x) and isinstance(x[0], datetime)
    height += 16 * rows + (14 if timed else 0)
    left, top, right = 56, 34, 16
    bottom = 40 + 16 * rows + (14 if timed else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    values += [m.value for m in markers] if timed else []
    scale = _y_scale([*values, *([threshold] if threshold is not None else [])], top=y_top)
    body = _axes(left, top, plot_w, plot_h, scale, y_label)
    if timed:
        times = [_utc(t) for t in x if isinstance(t, datetime)]
        start, end = (_utc(span[0]), _utc(span[1])) if span else (min(times), max(times))
        if end <= start:
            start, end = start - timedelta(minutes=30), end + timedelta(minutes=30)
        total = (end - start).total_seconds()

        def position(moment: datetime) -> float:
            return left + plot_w * (_utc(moment) - start).total_seconds() / total

        xs = [position(t) for t in times]
        body += _time_axis(start, end, left, top, plot_w, plot_h)
        body += _annotations(annotations, position, left, top, plot_w, plot_h)
    else:
        step = plot_w / max(len(x) - 1, 1)
        xs = [left + step * i for i in range(len(x))]
        every = max(1, len(x) // 6)
        for i, label in enumerate(x):
            if i % every == 0 or i == len(x) - 1:
                body.append(
                    f'<text x="{xs[i]:.1f}" y="{top + plot_h + 16}" font-size="11" '
                    f'text-anchor="middle" {_FONT} fill="#333">{escape(str(label))}</text>'
                )
    for j, s in enumerate(series):
        colour = _colour(s, j)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        runs: list[list[tuple[float, float]]] = [[]]  # an unknown value breaks the line
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
                continue
            runs[-1].append((xs[i], scale.y(v, top, plot_h)))
        for run in (r for r in runs if r):
            if len(run) == 1:
                body.append(
                    f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2.5" fill="{colour}">'
                    f"<title>{escape(s.name)}</title></circle>"
                )
                continue
            points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
            body.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dash}><title>{escape(s.name)}</title></polyline>'
            )
    body += _threshold(threshold, scale, left, top, plot_w, plot_h)
    if timed:
        for m in markers:
            body.append(
                f'<circle class="marker" cx="{position(m.at):.1f}" '
                f'cy="{scale.y(m.value, top, plot_h):.1f}" r="5" fill="none" '
                f'stroke="{m.colour}" stroke-width="2"><title>{escape(m.label)}</title></circle>'
            )
    body += _legend(series, width, top + plot_h + 36 + (14 if timed else 0))
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
