"""Server-side SVG charts: well-formed, labelled, scaled."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from airsoc.reporting.charts import PhaseSpan, Series, bar_chart, line_chart, phase_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_bars_scale_with_their_values() -> None:
    svg = bar_chart(["a", "b"], [Series("n", [1, 4])], title="Counts <by> kind", threshold=3)
    root = ET.fromstring(svg)  # well-formed XML, title escaped
    assert root.find(f"{SVG}title").text == "Counts <by> kind"  # type: ignore[union-attr]
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") != "#ffffff"]
    heights = [float(r.get("height", 0)) for r in bars]
    assert heights[1] == pytest.approx(4 * heights[0], rel=0.01)
    assert "threshold 3" in svg


def test_line_chart_draws_a_polyline_per_series() -> None:
    svg = line_chart(
        [str(i) for i in range(20)],
        [Series("psi", [i / 10 for i in range(20)]), Series("ks", [0.1] * 20)],
        title="drift",
    )
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{SVG}polyline"))) == 2
    assert "psi" in svg and "ks" in svg  # noqa: PT018 - both legends


def test_phase_chart_shows_each_phase_and_its_minutes() -> None:
    t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    spans = [
        PhaseSpan("detected", t0, t0 + timedelta(minutes=5)),
        PhaseSpan("contained", t0 + timedelta(minutes=5), t0 + timedelta(minutes=65)),
    ]
    svg = phase_chart(spans, title="phases")
    ET.fromstring(svg)
    assert ">5 min<" in svg
    assert ">60 min<" in svg
