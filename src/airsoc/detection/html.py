"""Return a self-contained HTML drift report: per column, both distributions as an SVG chart
(a y axis of shares with ticks, every category labelled, long labels turned), the column's
statistics beside it, drifted columns first.

The page is built from the verdicts' summaries (binned shares, never raw rows), so it is a few
hundred kilobytes and opens at once whatever the size of the data. No script, no stylesheet or
font from a CDN: it renders offline.

Example:
    >>> import numpy as np
    >>> from airsoc.detection.drift import check_drift
    >>> rng = np.random.default_rng(0)
    >>> report = check_drift({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)},
    ...                      {"x": rng.normal(1, 1, 500), "c": rng.choice(["a", "b"], 500)})
    >>> page = render_drift_html(report, title="nightly batch")
    >>> page.startswith("<!DOCTYPE html>"), page.count("<svg"), "http" in page
    (True, 2, False)
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from airsoc.detection.drift import DriftReport
from airsoc.detection.verdict import Verdict

__all__ = ["render_drift_html"]

_W, _H = 460, 190
_LEFT, _TOP, _RIGHT = 44, 22, 10
_COLORS = {"reference": "#4c78a8", "current": "#f58518"}
_BADGE = {"ok": "#2e7d32", "warn": "#b26a00", "drift": "#c62828"}
_ORDER = {"drift": 0, "warn": 1, "ok": 2}
#: Category labels longer than this are cut in the middle (whole in the bar's tooltip).
_LABEL_CHARS = 28
_CHAR_W = 6.2  # px per character at font-size 10

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}.badge{color:#fff;border-radius:3px;padding:1px 6px}
.col{display:flex;flex-wrap:wrap;gap:1em;margin:0 0 1.5em 0;align-items:flex-start}
.col h3{flex-basis:100%;margin:0}.stats td,.stats th{padding:2px 8px;font-size:12px}
.small{font-size:12px;color:#555;max-width:40em}
"""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _badge(decision: str) -> str:
    return f'<span class="badge" style="background:{_BADGE[decision]}">{decision}</span>'


def _share_ticks(top: float) -> list[float]:
    """Return round y ticks (shares) from 0 to at least ``top``.

    >>> _share_ticks(0.31)
    [0.0, 0.1, 0.2, 0.3, 0.4]
    >>> _share_ticks(0.0)
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if top <= 0:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    step = next((s for s in (0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25) if top / s <= 5), 0.25)
    count = max(2, math.ceil(top / step - 1e-9))
    return [round(step * i, 6) for i in range(count + 1)]


def _pct(share: float) -> str:
    return f"{share * 100:.3g}%"


def _x_labels(chart: dict[str, Any], n: int) -> list[tuple[float, str, str]]:
    """Return (slot position, shown label, whole label) for the x axis: every category, or a
    few bin edges of a numeric column (edge k lies between slots k and k + 1)."""
    if chart["kind"] == "numeric":
        edges: list[float] = chart["edges"]
        every = max(1, math.ceil(len(edges) / 6))
        picked = list(range(0, len(edges), every))
        if picked[-1] != len(edges) - 1:
            picked.append(len(edges) - 1)
        # Shares have one slot below the first edge and one above the last.
        offset = 1.0 if n == len(edges) + 1 else 0.0
        return [(k + offset, _num(edges[k]), _num(edges[k])) for k in picked]
    labels = [str(x) for x in chart["labels"]]
    return [(i + 0.5, _shorten(x), x) for i, x in enumerate(labels)]


def _shorten(label: str) -> str:
    """Return ``label`` cut in the middle to :data:`_LABEL_CHARS` characters: the start and
    the end of a long category name are what tell it from its neighbours.

    >>> _shorten("merchant category number 07 (online)")
    'merchant cate\u2026er 07 (online)'
    """
    if len(label) <= _LABEL_CHARS:
        return label
    head = (_LABEL_CHARS - 1) // 2
    return label[:head] + "\u2026" + label[-(_LABEL_CHARS - 1 - head) :]


def _bars(chart: dict[str, Any]) -> str:
    ref: list[float] = chart["reference"]
    cur: list[float] = chart["current"]
    n = max(len(ref), 1)
    plot_w = _W - _LEFT - _RIGHT
    slot = plot_w / n
    labels = _x_labels(chart, n)
    longest = max((len(shown) for _x, shown, _w in labels), default=0)
    rotate = chart["kind"] != "numeric" and longest * _CHAR_W > slot - 2
    bottom = 34 + (int(longest * _CHAR_W * 0.71) if rotate else 0)
    # A turned label reaches left of its bar: the first one must fit in the picture.
    left = max(_LEFT, int(longest * _CHAR_W * 0.71 - slot / 2) + 6) if rotate else _LEFT
    if left != _LEFT:
        plot_w = _W - left - _RIGHT
        slot = plot_w / n
    height = _H + bottom - 34
    plot_h = height - _TOP - bottom
    ticks = _share_ticks(max([*ref, *cur, 0.0]))
    top = ticks[-1]
    base = _TOP + plot_h
    parts = [
        f'<line x1="{left}" y1="{_TOP}" x2="{left}" y2="{base}" stroke="#888"/>'
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#888"/>'
    ]
    for t in ticks:
        y = base - plot_h * t / top
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
            f'<line class="y-tick" x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" '
            f'stroke="#888"/><text x="{left - 6}" y="{y + 3:.1f}" font-size="10" '
            f'text-anchor="end">{_pct(t)}</text>'
        )
    whole = {round(x - 0.5): w for x, _s, w in labels} if chart["kind"] != "numeric" else {}
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        for j, (share, key) in enumerate(((r, "reference"), (c, "current"))):
            h = plot_h * share / top
            x = left + i * slot + j * slot / 2
            what = escape(whole.get(i, ""))
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{max(slot / 2 - 0.5, 0.5):.1f}"'
                f' height="{h:.1f}" fill="{_COLORS[key]}"><title>{what + ": " if what else ""}'
                f"{key} {share:.2%}</title></rect>"
            )
    for pos, shown, full in labels:
        x = left + pos * slot
        y = base + 13
        tip = f"<title>{escape(full)}</title>" if shown != full else ""
        if rotate:
            parts.append(
                f'<text class="x-label" x="{x:.1f}" y="{y}" font-size="10" text-anchor="end" '
                f'transform="rotate(-45 {x:.1f} {y})">{tip}{escape(shown)}</text>'
            )
        else:
            parts.append(
                f'<text class="x-label" x="{x:.1f}" y="{y}" font-size="10" '
                f'text-anchor="middle">{tip}{escape(shown)}</text>'
            )
    legend = "".join(
        f'<rect x="{_W - 150 + k * 75}" y="4" width="10" height="10" fill="{color}"/>'
        f'<text x="{_W - 136 + k * 75}" y="13" font-size="10">{key}</text>'
        for k, (key, color) in enumerate(_COLORS.items())
    )
    return (
        # Inline SVG in HTML5 needs no namespace declaration (and so no URL at all).
        f'<svg width="{_W}" height="{height}" viewBox="0 0 {_W} {height}" role="img" '
        f'font-family="system-ui, sans-serif">'
        f'<text x="4" y="13" font-size="10" fill="#555">share of rows</text>'
        f"{legend}{''.join(parts)}</svg>"
    )


#: Evidence shown beside each chart, when the verdict has it: key, label.
_EVIDENCE = (
    ("psi", "PSI"),
    ("psi_band", "PSI band"),
    ("jensen_shannon", "Jensen-Shannon"),
    ("hellinger", "Hellinger"),
    ("wasserstein_normalised", "Wasserstein (normalised)"),
    ("mean_reference", "mean, reference"),
    ("mean_current", "mean, current"),
    ("std_reference", "std, reference"),
    ("std_current", "std, current"),
    ("null_rate_reference", "null rate, reference"),
    ("null_rate_current", "null rate, current"),
    ("new_category_share", "new categories' share"),
)


def _stats(v: Verdict) -> str:
    rows = [
        ("method", escape(v.method)),
        ("statistic", _num(v.statistic)),
        ("threshold", f"{_num(v.threshold)} ({v.threshold_source})"),
        ("p", _num(v.p_value)),
        ("q", _num(v.q_value)),
        ("effect", _num(v.effect_size)),
        ("rows", f"{v.n_reference or 0} reference, {v.n_current or 0} current"),
    ]
    for key, label in _EVIDENCE:
        value = v.evidence.get(key)
        if value is not None:
            rows.append((label, escape(value) if isinstance(value, str) else _num(value)))
    body = "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
    return f'<div><table class="stats">{body}</table><p class="small">{escape(v.reason)}</p></div>'


def _column(v: Verdict) -> str:
    chart = v.evidence.get("chart")
    figure = _bars(chart) if chart else '<p class="small">no chart: nothing to compare</p>'
    return (
        f'<div class="col" id="column-{escape(v.subject)}"><h3>{escape(v.subject)} '
        f"{_badge(v.decision)}</h3>{figure}{_stats(v)}</div>"
    )


def _ordered(columns: list[Verdict]) -> list[Verdict]:
    """Return the columns drifted first, then warned, then fine; larger effects first."""
    return sorted(columns, key=lambda v: (_ORDER.get(v.decision, 3), -(v.effect_size or 0.0)))


def render_drift_html(report: DriftReport, *, title: str = "Drift report") -> str:
    """Return the report as one HTML page (inline SVG charts, no external resources): drifted
    columns first, each chart with the column's statistics beside it."""
    columns = _ordered(report.columns)
    rows = "".join(
        f"<tr><td>{escape(v.subject)}</td><td>{escape(v.method)}</td>"
        f"<td>{_num(v.statistic)}</td><td>{_num(v.q_value)}</td><td>{_num(v.effect_size)}</td>"
        f"<td>{_num(v.threshold)}</td><td>{_badge(v.decision)}</td></tr>"
        for v in columns
    )
    quality = "".join(
        f"<li>{_badge(v.decision)} {escape(v.subject)}: {escape(v.reason)}</li>"
        for v in report.quality
    )
    diagnosis = (
        f"<p><b>Diagnosis:</b> {escape(report.diagnosis.reason)}</p>" if report.diagnosis else ""
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{_badge(report.dataset.decision)} {escape(report.dataset.reason)}</p>{diagnosis}"
        + (f"<h2>Data quality</h2><ul>{quality}</ul>" if quality else "")
        + "<h2>Columns</h2><table><tr><th>column</th><th>method</th><th>statistic</th>"
        "<th>q</th><th>effect</th><th>threshold</th><th>decision</th></tr>"
        f"{rows}</table><h2>Distributions</h2>"
        + "".join(_column(v) for v in columns)
        + "</body></html>"
    )
