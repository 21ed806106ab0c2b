"""A small PDF writer (fpdf2, pure Python) shared by every document airsoc renders: headings,
paragraphs, bullets, tables and SVG charts, in Latin-1 with the usual typographic substitutes.

Example:
    >>> doc = PdfDocument("Charter")
    >>> doc.heading("Scope")
    >>> doc.table([("fraud-detector", "high")], [2, 1], ("System", "Criticality"))
    >>> doc.output()[:5]
    b'%PDF-'
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["PdfDocument", "latin1"]

_LATIN1_SUBSTITUTES = {
    "…": "...",
    "—": "-",
    "–": "-",
    "→": "->",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "·": "-",
    "•": "-",
    "≥": ">=",
    "≤": "<=",
}


def latin1(text: str) -> str:
    """Return ``text`` as the PDF core fonts can draw it (Latin-1, common symbols spelled out).

    >>> latin1("detect → contain … ≥ sev2")
    'detect -> contain ... >= sev2'
    """
    for bad, good in _LATIN1_SUBSTITUTES.items():
        text = text.replace(bad, good)
    return text.encode("latin-1", "replace").decode("latin-1")


class PdfDocument:
    """An A4 document being written top to bottom."""

    def __init__(self, title: str) -> None:
        from fpdf import FPDF
        from fpdf.enums import XPos, YPos

        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title(latin1(title))
        self.pdf.set_creator("airsoc")
        self.pdf.add_page()
        self.width = self.pdf.w - self.pdf.l_margin - self.pdf.r_margin
        self._nl: dict[str, Any] = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    def heading(self, text: str, size: int = 13) -> None:
        """Write a bold heading."""
        self.pdf.ln(2)
        self.pdf.set_font("Helvetica", "B", size)
        self.pdf.multi_cell(self.width, 7, latin1(text), **self._nl)
        self.pdf.set_font("Helvetica", "", 10)

    def para(self, text: str, style: str = "") -> None:
        """Write a paragraph (``style``: "", "B", "I")."""
        self.pdf.set_font("Helvetica", style, 10)
        self.pdf.multi_cell(self.width, 5, latin1(text), **self._nl)
        self.pdf.ln(1)

    def bullets(self, items: list[str]) -> None:
        """Write a bulleted list."""
        for item in items:
            self.pdf.set_font("Helvetica", "", 10)
            self.pdf.multi_cell(self.width, 5, latin1(f"- {item}"), **self._nl)
        self.pdf.ln(1)

    def table(
        self, rows: Sequence[tuple[str, ...]], widths: list[float], header: tuple[str, ...] = ()
    ) -> None:
        """Write a table; ``widths`` are relative column widths."""
        self.pdf.set_font("Helvetica", "", 9)
        with self.pdf.table(
            col_widths=widths,
            text_align="LEFT",
            first_row_as_headings=bool(header),
            line_height=4.5,
        ) as t:
            for row in [*([header] if header else []), *rows]:
                cells = t.row()
                for value in row:
                    cells.cell(latin1(value))
        self.pdf.ln(2)

    def chart(self, svg: str, caption: str) -> None:
        """Draw an SVG chart with its caption, on a new page if it would not fit."""
        if self.pdf.will_page_break(70):
            self.pdf.add_page()
        # fpdf2 draws SVG shapes and text but not <title> tooltips; drop them.
        plain = re.sub(r"<title>.*?</title>", "", svg)
        self.pdf.image(io.BytesIO(plain.encode()), w=min(self.width, 170))
        if caption:
            self.pdf.set_font("Helvetica", "I", 8)
            self.pdf.multi_cell(self.width, 4, latin1(caption), **self._nl)
        self.pdf.ln(2)

    def output(self) -> bytes:
        """Return the finished PDF."""
        return bytes(self.pdf.output())
