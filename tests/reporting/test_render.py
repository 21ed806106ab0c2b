"""The three formats of a post-mortem: Markdown, HTML with SVG charts, and PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from airsoc.clock import SimulatedClock
from airsoc.errors import InputError
from airsoc.reporting.render import render, render_html, render_markdown, render_pdf
from airsoc.reporting.report import PostmortemReport, build_report
from airsoc.store import Store

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECTIONS = [
    "Overview",
    "Impact",
    "Timeline",
    "Root cause and contributing factors",
    "Detection",
    "Response",
    "What went well",
    "What did not go well",
    "Action items",
    "Messaging",
    "ATLAS and OWASP mapping",
    "Metrics",
]


@pytest.fixture
def report(
    sqlite_store: Store, clock: SimulatedClock, worked_incident_sqlite: int
) -> PostmortemReport:
    with sqlite_store.read() as s:
        return build_report(s, incident_id=worked_incident_sqlite, now=clock.now())


def test_markdown_has_every_section_in_order(report: PostmortemReport) -> None:
    md = render_markdown(report)
    headings = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert headings == SECTIONS
    assert "| 2026-03-01 09:43 | sam | Approval granted: rollback to v6 approved. |" in md
    assert "**Root cause: Vendor batch 17 carried flipped fraud labels.**" in md
    assert "\n\n\n" not in md
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "postmortem.md").write_text(md)


def test_html_is_standalone_with_inline_charts(report: PostmortemReport) -> None:
    html = render_html(report)
    assert html.count("<svg") == 3
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in html
    (ARTIFACTS / "postmortem.html").parent.mkdir(exist_ok=True)
    (ARTIFACTS / "postmortem.html").write_text(html)


def test_pdf_carries_the_text_and_the_charts(report: PostmortemReport) -> None:
    data = render_pdf(report)
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for section in SECTIONS:
        assert section in text
    assert "Vendor batch 17 carried flipped fraud labels" in text
    assert "Gate promotion on recall against a fixed holdout set" in text
    assert "1 h 49 min" in text
    assert len(reader.pages) >= 2
    # the charts are drawn as vectors, their labels as text
    assert "Response times (minutes)" in text
    assert "threshold 0.1" in text
    assert "Time in each phase" in text
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "postmortem.pdf").write_bytes(data)


def test_an_unknown_format_is_refused(report: PostmortemReport) -> None:
    with pytest.raises(InputError, match="use md, html or pdf"):
        render(report, "docx")
