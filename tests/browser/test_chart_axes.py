"""Chart time axes in a real headless Chromium: the console's script writes the server's UTC tick
labels in the reader's time zone, dated only when the ticks fall on more than one local day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, sync_playwright

from airsoc.reporting.charts import Series, line_chart
from tests.browser.test_console_browser import CHROMIUM, CHROMIUM_ARGS

LIVE_JS = Path(__file__).resolve().parents[2] / "src/airsoc/server/static/live.js"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def local_ticks(browser: Browser, svg: str, zone: str) -> tuple[list[str], str]:
    """Return the tick labels and axis caption a reader in ``zone`` sees."""
    context = browser.new_context(timezone_id=zone)
    try:
        page = context.new_page()
        page.set_content(f"<!doctype html><html><body><main>{svg}</main></body></html>")
        page.add_script_tag(content=LIVE_JS.read_text())
        labels = page.locator("text.tick-time").all_text_contents()
        caption = page.locator("text.tick-zone").text_content() or ""
        return labels, caption
    finally:
        context.close()


def test_tick_labels_follow_the_readers_time_zone(chromium: Browser) -> None:
    # 22:30 to 01:30 UTC crosses midnight in UTC, and not in Kolkata (04:00 to 07:00).
    t0 = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    times = [t0 + timedelta(minutes=10 * i) for i in range(19)]
    svg = line_chart(times, [Series("rate", [float(i) for i in range(19)])], title="rate")
    assert "03-02 00:00" in svg  # the server's UTC labels carry the date

    labels, caption = local_ticks(chromium, svg, "Asia/Kolkata")
    kolkata = ZoneInfo("Asia/Kolkata")
    assert labels
    assert len(set(labels)) == len(labels)
    assert all(len(label) == 5 for label in labels), labels  # one local day: no date
    first_utc = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # the first round hour
    assert labels[0] == first_utc.astimezone(kolkata).strftime("%H:%M")
    assert caption.startswith("times ")
    assert caption.endswith(", 2026-03-02")

    # A reader in UTC sees them across two days, so dated.
    labels_utc, caption_utc = local_ticks(chromium, svg, "UTC")
    assert labels_utc[0] == "03-01 23:00"
    assert caption_utc.endswith("2026-03-01 to 2026-03-02")
