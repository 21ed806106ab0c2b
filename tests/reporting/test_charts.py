"""Server-side SVG charts: well-formed, labelled, scaled."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from airsoc.reporting.charts import (
    Annotation,
    Marker,
    PhaseSpan,
    Series,
    bar_chart,
    line_chart,
    phase_chart,
)

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


def _ticks(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [str(t.text) for t in root.iter(f"{SVG}text") if t.get("class") == "tick-time"]


@pytest.mark.parametrize(
    ("span", "count"),
    [
        (timedelta(seconds=50), 60),  # a minute of points: once "23:48, 23:48, 23:48"
        (timedelta(minutes=59), 60),
        (timedelta(hours=5), 30),  # crosses midnight: dated labels
        (timedelta(days=9), 40),
        (timedelta(days=400), 40),
    ],
)
def test_time_axis_labels_are_distinct_and_dated_across_days(span: timedelta, count: int) -> None:
    t0 = datetime(2026, 3, 1, 21, 48, 7, tzinfo=UTC)
    times = [t0 + span * i / (count - 1) for i in range(count)]
    svg = line_chart(times, [Series("rate", [float(i) for i in range(count)])], title="t")
    labels = _ticks(svg)
    assert 3 <= len(labels) <= 12
    assert len(set(labels)) == len(labels), labels
    crosses = times[0].date() != times[-1].date()
    if crosses and span < timedelta(days=1):
        assert all(re.fullmatch(r"\d\d-\d\d \d\d:\d\d", label) for label in labels), labels
    root = ET.fromstring(svg)
    at = [t.get("data-at") for t in root.iter(f"{SVG}text") if t.get("class") == "tick-time"]
    assert all(a and a.endswith("Z") for a in at)  # the console writes them in local time


def test_an_unknown_value_is_a_gap_never_a_zero() -> None:
    t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    times = [t0 + timedelta(minutes=i) for i in range(5)]
    svg = line_chart(times, [Series("p95", [120.0, 130.0, None, None, 150.0])], title="latency")
    root = ET.fromstring(svg)
    lines = list(root.iter(f"{SVG}polyline"))
    dots = list(root.iter(f"{SVG}circle"))
    assert len(lines) == 1  # the two known neighbours
    assert len(dots) == 1  # the lone known point after the gap
    ys = [float(p.split(",")[1]) for p in lines[0].get("points", "").split()]
    ys.append(float(dots[0].get("cy", 0)))
    zero = next(float(t.get("y", 0)) - 4 for t in root.iter(f"{SVG}text") if t.text == "0")
    assert all(y < zero - 10 for y in ys)
    assert len(ys) == 3  # five positions, two unknown: nothing drawn for them


def test_the_y_axis_has_round_ticks_and_annotations_and_alarms_are_drawn() -> None:
    t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    times = [t0 + timedelta(minutes=10 * i) for i in range(4)]
    svg = line_chart(
        times,
        [Series("psi", [0.05, 0.07, 0.26, 0.31])],
        title="drift",
        threshold=0.2,
        annotations=[Annotation(times[1], "promote v2"), Annotation(times[1], "canary v3 10%")],
        markers=[Marker(times[3], 0.31, "alarm")],
    )
    root = ET.fromstring(svg)
    ticks = [t for t in root.iter(f"{SVG}line") if t.get("class") == "y-tick"]
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end" and t.text]
    assert len(ticks) >= 4
    assert labels[:5] == ["0", "0.1", "0.2", "0.3", "0.4"]
    notes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "annotation"]
    assert len(notes) == 2
    ys = {n.find(f"{SVG}text").get("y") for n in notes}  # type: ignore[union-attr]
    assert len(ys) == 2  # labels at one moment are stacked, not drawn over each other
    assert [c.get("class") for c in root.iter(f"{SVG}circle")] == ["marker"]


def test_a_series_with_no_known_value_says_unknown_in_the_legend() -> None:
    svg = line_chart(["a", "b"], [Series("v1", [1.0, 2.0]), Series("v2", [None, None])], title="t")
    assert "v2 (unknown)" in svg
    assert svg.count("<polyline") == 1


@pytest.mark.parametrize("width", [640, 320])
def test_legend_entries_are_spaced_by_their_text_and_never_overlap(width: int) -> None:
    names = ["MTTA", "MTTC", "MTTR", "mean time to acknowledge", "p95 latency of the canary"]
    series = [Series(n, [None, None] if i < 3 else [1.0, 2.0]) for i, n in enumerate(names)]
    root = ET.fromstring(bar_chart(["data drift", "poisoning"], series, title="t", width=width))
    texts = [t for t in root.iter(f"{SVG}text") if (t.text or "").startswith(tuple(names))]
    assert [t.text for t in texts][:3] == ["MTTA (unknown)", "MTTC (unknown)", "MTTR (unknown)"]
    keys = [r for r in root.iter(f"{SVG}rect") if r.get("width") == "10"]
    assert len(keys) == len(texts) == len(names)
    rows: dict[str, list[tuple[float, float]]] = {}
    for key, text in zip(keys, texts, strict=True):
        # From the key to the end of the text, at 7 px a character (DejaVu Sans at 11 px).
        start, end = float(key.get("x", 0)), float(text.get("x", 0)) + 7 * len(text.text or "")
        assert end <= width
        rows.setdefault(text.get("y", ""), []).append((start, end))
    for spans in rows.values():
        for (_, end), (start, _) in pairwise(spans):
            assert end < start
    assert len(rows) >= 2  # the long names wrap to a second row
