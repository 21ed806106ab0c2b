from __future__ import annotations

import re

import numpy as np

from airsoc.detection import check_drift, render_drift_html


def test_every_column_gets_a_chart_and_names_are_escaped() -> None:
    rng = np.random.default_rng(0)
    ref = {"<script>x</script>": rng.normal(size=800), "c": rng.choice(["a&b", "z"], 800)}
    cur = {"<script>x</script>": rng.normal(1, 1, 800), "c": rng.choice(["a&b", "z"], 800)}
    page = render_drift_html(check_drift(ref, cur), title="t")
    assert page.count("<svg") == 2
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "a&amp;b" in page


def test_columns_without_data_say_so_instead_of_a_chart() -> None:
    report = check_drift({"x": [1.0, 2.0, 3.0]}, {"x": [float("nan")] * 3})
    page = render_drift_html(report)
    assert "no chart: nothing to compare" in page
    assert "all 3 current values are null" in page


def test_drifted_columns_come_first_with_statistics_beside_their_chart() -> None:
    rng = np.random.default_rng(1)
    ref = {"calm": rng.normal(size=800), "moved": rng.normal(size=800)}
    cur = {"calm": rng.normal(size=800), "moved": rng.normal(2, 1, 800)}
    report = check_drift(ref, cur)
    assert [v.subject for v in report.columns] == ["calm", "moved"]
    assert report.drifted == ["moved"]
    page = render_drift_html(report)
    assert page.index('id="column-moved"') < page.index('id="column-calm"')
    table = page[page.index("<h2>Columns</h2>") : page.index("<h2>Distributions</h2>")]
    assert table.index("<td>moved</td>") < table.index("<td>calm</td>")
    moved = page[page.index('id="column-moved"') : page.index('id="column-calm"')]
    svg_end = moved.index("</svg>")
    stats = moved[svg_end:]
    for label in ("<th>statistic</th>", "<th>threshold</th>", "<th>PSI</th>", "<th>q</th>"):
        assert label in stats
    svg = moved[moved.index("<svg") : svg_end + 6]
    ticks = re.findall(r'class="y-tick"', svg)
    tick_labels = re.findall(r'text-anchor="end">([\d.]+%)</text>', svg)
    assert len(ticks) >= 3
    assert tick_labels[0] == "0%"
    assert len(set(tick_labels)) == len(tick_labels)
    assert len(re.findall(r'class="x-label"', svg)) >= 3  # numeric bin edges along the axis


def test_every_category_is_labelled_and_long_labels_are_turned() -> None:
    rng = np.random.default_rng(2)
    names = [f"merchant category number {i:02d} (online)" for i in range(12)]
    ref = {"merchant": rng.choice(names, 1200)}
    cur = {"merchant": rng.choice(names[:6], 1200)}
    page = render_drift_html(check_drift(ref, cur))
    svg = page[page.index("<svg") : page.index("</svg>")]
    labels = re.findall(
        r'<text class="x-label"[^>]*>(?:<title>([^<]*)</title>)?([^<]*)</text>', svg
    )
    assert sorted(full or shown for full, shown in labels) == sorted(names)
    shown = [shown for _full, shown in labels]
    assert all(len(x) <= 28 for x in shown)
    assert len(set(shown)) == len(shown)  # cut in the middle: still told apart
    # The first turned label starts inside the picture.
    first = re.search(r'<text class="x-label" x="([\d.]+)"', svg)
    assert first is not None
    assert float(first.group(1)) - 0.71 * 6.2 * len(shown[0]) >= 0
    assert svg.count('class="x-label"') == svg.count("rotate(-45")
    # The turned labels fit: the chart grew downwards instead of cutting them.
    height = int(re.search(r'<svg width="\d+" height="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    assert height > 190


def test_short_categories_are_written_flat() -> None:
    rng = np.random.default_rng(3)
    ref = {"c": rng.choice(["a", "b", "c"], 500)}
    cur = {"c": rng.choice(["a", "b", "c"], 500)}
    svg = render_drift_html(check_drift(ref, cur))
    assert sorted(re.findall(r'<text class="x-label"[^>]*>([^<]*)</text>', svg)) == ["a", "b", "c"]
    assert "rotate(-45" not in svg
