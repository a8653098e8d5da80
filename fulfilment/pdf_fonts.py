"""The fonts of every PDF we print (labels, pick lists, packing slips), registered once.

A Unicode font when the system has one (names and addresses in any European script), else the
Bitstream Vera that ships with reportlab (Latin-1), else the PDF base fonts. Imported only where
a PDF is made: reportlab is not loaded at start-up.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_CANDIDATES = (
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    ("Vera.ttf", "VeraBd.ttf"),
)


@cache
def pdf_fonts() -> tuple[str, str]:
    """(regular, bold) font names to draw with; the first candidate that loads wins."""
    for regular, bold in FONT_CANDIDATES:
        if regular.startswith("/") and not (Path(regular).exists() and Path(bold).exists()):
            continue
        try:
            pdfmetrics.registerFont(TTFont("OMS-Regular", regular))
            pdfmetrics.registerFont(TTFont("OMS-Bold", bold))
        except Exception:  # a broken font file: try the next one
            continue
        return "OMS-Regular", "OMS-Bold"
    return "Helvetica", "Helvetica-Bold"
