from __future__ import annotations

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
