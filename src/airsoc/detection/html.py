"""Return a self-contained HTML drift report: per column, both distributions as an SVG chart.

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

from html import escape
from typing import Any

from airsoc.detection.drift import DriftReport
from airsoc.detection.verdict import Verdict

__all__ = ["render_drift_html"]

_W, _H, _PAD = 420, 140, 22
_COLORS = {"reference": "#4c78a8", "current": "#f58518"}
_BADGE = {"ok": "#2e7d32", "warn": "#b26a00", "drift": "#c62828"}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}.badge{color:#fff;border-radius:3px;padding:1px 6px}
.col{display:inline-block;margin:0 1.5em 1.5em 0;width:440px;vertical-align:top}
.small{font-size:12px;color:#555}
"""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _badge(decision: str) -> str:
    return f'<span class="badge" style="background:{_BADGE[decision]}">{decision}</span>'


def _bars(chart: dict[str, Any]) -> str:
    ref: list[float] = chart["reference"]
    cur: list[float] = chart["current"]
    n = max(len(ref), 1)
    top = max([*ref, *cur, 1e-9])
    slot = (_W - 2 * _PAD) / n
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        for j, (share, key) in enumerate(((r, "reference"), (c, "current"))):
            h = (_H - 2 * _PAD) * share / top
            x = _PAD + i * slot + j * slot / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{_H - _PAD - h:.1f}" width="{max(slot / 2 - 0.5, 0.5):.1f}"'
                f' height="{h:.1f}" fill="{_COLORS[key]}"><title>{key}: {share:.2%}</title></rect>'
            )
    if chart["kind"] == "numeric":
        edges = chart["edges"]
        lo_label, hi_label = _num(edges[0]), _num(edges[-1])
    else:
        labels = chart["labels"]
        lo_label = escape(str(labels[0])) if labels else ""
        hi_label = escape(str(labels[-1])) if labels else ""
    parts.append(f'<text x="{_PAD}" y="{_H - 6}" font-size="10">{lo_label}</text>')
    parts.append(
        f'<text x="{_W - _PAD}" y="{_H - 6}" font-size="10" text-anchor="end">{hi_label}</text>'
    )
    legend = "".join(
        f'<rect x="{_W - 150 + k * 75}" y="4" width="10" height="10" fill="{color}"/>'
        f'<text x="{_W - 136 + k * 75}" y="13" font-size="10">{key}</text>'
        for k, (key, color) in enumerate(_COLORS.items())
    )
    return (
        # Inline SVG in HTML5 needs no namespace declaration (and so no URL at all).
        f'<svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img">'
        f"{legend}{''.join(parts)}</svg>"
    )


def _column(v: Verdict) -> str:
    chart = v.evidence.get("chart")
    figure = _bars(chart) if chart else '<p class="small">no chart: nothing to compare</p>'
    return (
        f'<div class="col"><h3>{escape(v.subject)} {_badge(v.decision)}</h3>{figure}'
        f'<p class="small">{escape(v.method)}: statistic {_num(v.statistic)}, '
        f"effect {_num(v.effect_size)}, threshold {_num(v.threshold)} ({v.threshold_source}), "
        f"p {_num(v.p_value)}, q {_num(v.q_value)}<br>{escape(v.reason)}</p></div>"
    )


def render_drift_html(report: DriftReport, *, title: str = "Drift report") -> str:
    """Return the report as one HTML page (inline SVG charts, no external resources)."""
    rows = "".join(
        f"<tr><td>{escape(v.subject)}</td><td>{escape(v.method)}</td>"
        f"<td>{_num(v.statistic)}</td><td>{_num(v.q_value)}</td><td>{_num(v.effect_size)}</td>"
        f"<td>{_num(v.threshold)}</td><td>{_badge(v.decision)}</td></tr>"
        for v in report.columns
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
        + "".join(_column(v) for v in report.columns)
        + "</body></html>"
    )
