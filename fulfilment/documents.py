"""The PDFs printed at a location: the pick list and the packing slip (reportlab).

Imported only where a PDF is made (the admin's print views), never at start-up: reportlab
costs about a quarter of a second of every process's start. The data they print comes from
fulfilment.picklists (the pick list) and the shipment itself (the packing slip).

Invariants: everything here only reads; every SKU barcode and every shipment id ("SH-<id>")
is printed as Code 128, the symbology the pack station's scanners read.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from django_countries import countries
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, inch
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from fulfilment.models import Shipment, ShipmentLine
from fulfilment.pdf_fonts import pdf_fonts
from fulfilment.picklists import PickList, shipment_code

SIZE_4X6 = (4 * inch, 6 * inch)
FRAME_PADDING = 6  # reportlab's default frame padding, each side
PAGE_SIZES = {"a4": A4, "4x6": SIZE_4X6}


# --- PDF plumbing ---------------------------------------------------------------------------


def _styles(scale: float = 1.0) -> dict[str, ParagraphStyle]:
    regular, bold = pdf_fonts()

    def style(name: str, size: float, font: str = regular, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(
            name, fontName=font, fontSize=size * scale, leading=size * scale * 1.25, **extra
        )

    return {
        "title": style("title", 16, bold, spaceAfter=2 * mm),
        "merchant": style("merchant", 13, bold, spaceAfter=2 * mm),
        "meta": style("meta", 9, textColor=colors.HexColor("#444444")),
        "h2": style("h2", 11, bold, spaceBefore=5 * mm, spaceAfter=2 * mm),
        "cell": style("cell", 9),
        "cell_bold": style("cell_bold", 10, bold),
        "code": style("code", 9, bold),
        "head": style("head", 8, bold, textColor=colors.white),
        "small": style("small", 7.5, textColor=colors.HexColor("#444444")),
        "address": style("address", 11),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _barcode(
    value: str, *, max_width: float, bar_height: float = 9 * mm, bar_width: float = 0.9
) -> Flowable | None:
    """A Code 128 symbol of `value`, thinned down (never below 0.5 pt a bar) to fit."""
    if not value:
        return None
    try:
        width = bar_width
        symbol = _code128(value, width, bar_height)
        if symbol.width > max_width:
            width = max(0.5, width * max_width / symbol.width)
            symbol = _code128(value, width, bar_height)
    except Exception:  # a value Code 128 cannot carry: print no symbol
        return None
    return _Symbol(symbol)


class _Symbol(Flowable):
    """A barcode with room below it for its human-readable text (reportlab draws the text
    under the bars, outside the size it reports)."""

    def __init__(self, code: Code128) -> None:
        super().__init__()
        self.code = code
        self.text_height = code.fontSize * 1.5 if code.humanReadable else 0

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        width, height = self.code.wrap(available_width, available_height)
        self.width, self.height = width, height + self.text_height
        return self.width, self.height

    def draw(self) -> None:
        self.code.drawOn(self.canv, 0, self.text_height)


def _code128(value: str, bar_width: float, bar_height: float) -> Code128:
    return Code128(
        value,
        barWidth=bar_width,
        barHeight=bar_height,
        humanReadable=True,
        fontSize=6.5,
        lquiet=10 * bar_width,
        rquiet=10 * bar_width,
    )


def _check_box(size: float = 4 * mm) -> Drawing:
    box = Drawing(size, size)
    box.add(Rect(0, 0, size, size, fillColor=None, strokeColor=colors.black, strokeWidth=0.8))
    return box


def _numbered_canvas(footer: str, font: str) -> type[rl_canvas.Canvas]:
    """A canvas that writes "<footer> · Page n of N" on every page once all pages are laid out."""

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for page in self._pages:
                self.__dict__.update(page)
                width, _height = self._pagesize
                self.setFont(font, 7.5)
                self.setFillColor(colors.HexColor("#444444"))
                self.drawString(10 * mm if width > 300 else 5 * mm, 6 * mm, footer)
                self.drawRightString(
                    width - (10 * mm if width > 300 else 5 * mm),
                    6 * mm,
                    f"Page {self._pageNumber} of {total}",
                )
                super().showPage()
            super().save()

    return NumberedCanvas


def _local(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


def _table_style(header_rows: int = 1) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#333333")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, header_rows), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    return TableStyle(commands)


# --- the pick list as PDF -------------------------------------------------------------------

#: The SKU column of the pick list: as wide as the longest code needs, within these bounds; a
#: code longer than the widest column is set smaller, never wrapped ("KID-JKT-YELLOW-104" is
#: read at a shelf: a code broken over two lines is misread).
SKU_COLUMN_MIN = 34 * mm
SKU_COLUMN_MAX = 62 * mm
CELL_PADDING = 3 + 3  # LEFTPADDING and RIGHTPADDING of _table_style


def _code_column_width(codes: list[str], style: ParagraphStyle) -> float:
    longest = max((stringWidth(c, style.fontName, style.fontSize) for c in codes), default=0)
    return float(min(max(SKU_COLUMN_MIN, longest + CELL_PADDING + 2), SKU_COLUMN_MAX))


def _one_line(code: str, style: ParagraphStyle, width: float) -> ParagraphStyle:
    """The code's style, its size lowered until the code fits the column on one line."""
    room = width - CELL_PADDING - 2
    needed = stringWidth(code, style.fontName, style.fontSize)
    if needed <= room:
        return style
    size = max(5.0, style.fontSize * room / needed)
    return ParagraphStyle(f"{style.name}-fit", parent=style, fontSize=size, leading=size * 1.2)


def _pick_row(row: Any, styles: dict[str, ParagraphStyle], widths: list[float]) -> list[Any]:
    """One stop of the walk: the box to tick, bin, SKU (on one line), name, quantity, the
    shipments it goes to, the barcode."""
    return [
        _check_box(),
        _p(row.bin or "(no bin)", styles["cell_bold"] if row.bin else styles["small"]),
        _p(row.sku_code, _one_line(row.sku_code, styles["code"], widths[2])),
        _p(row.sku_name, styles["cell"]),
        _p(str(row.quantity), styles["cell_bold"]),
        _p(
            "\n".join(f"{shipment_code(pk)} \u00d7 {q}" for pk, q in row.shipments),
            styles["small"],
        ),
        _barcode(row.barcode, max_width=widths[-1] - 6) or _p("", styles["cell"]),
    ]


def pick_list_pdf(pick_list: PickList) -> bytes:
    """A printable A4 pick list: one row per stop of the walk, a box to tick, the barcodes."""
    styles = _styles()
    regular, _bold = pdf_fonts()
    buffer = io.BytesIO()
    printed = _local(pick_list.generated_at)
    title = f"Pick list {pick_list.location_code} {pick_list.location_name}".strip()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="OMS",
        subject=f"Printed {printed}",
    )
    n_shipments, n_rows = len(pick_list.shipments), len(pick_list.rows)
    story: list[Flowable] = [
        _p(title, styles["title"]),
        _p(
            f"Printed {printed} · {n_shipments} shipment{'s' if n_shipments != 1 else ''} · "
            f"{n_rows} SKU{'s' if n_rows != 1 else ''} · {pick_list.total_units} "
            f"unit{'s' if pick_list.total_units != 1 else ''} · walk in bin order",
            styles["meta"],
        ),
        Spacer(1, 4 * mm),
    ]
    usable = A4[0] - 24 * mm - 2 * FRAME_PADDING
    sku_width = _code_column_width([row.sku_code for row in pick_list.rows], styles["code"])
    fixed = [8 * mm, 18 * mm, sku_width, None, 10 * mm, 24 * mm, 46 * mm]
    widths = [w if w is not None else usable - sum(x or 0 for x in fixed) for w in fixed]
    head = ["✓", "Bin", "SKU", "Name", "Qty", "Shipments", "Barcode"]
    data: list[list[Any]] = [[_p(h, styles["head"]) for h in head]]
    data += [_pick_row(row, styles, widths) for row in pick_list.rows]
    if pick_list.rows:
        table = Table(data, colWidths=widths, repeatRows=1)
        style = _table_style()
        style.add("ALIGN", (4, 1), (4, -1), "RIGHT")
        table.setStyle(style)
        story.append(table)
    else:
        story.append(_p("Nothing to pick.", styles["cell"]))

    # The shipments of the walk: tick each one off; the packer scans its code at the pack station.
    story.append(_p("Shipments on this list", styles["h2"]))
    s_widths = [9 * mm, 55 * mm, 50 * mm, 25 * mm, 25 * mm]
    s_data: list[list[Any]] = [
        [_p(h, styles["head"]) for h in ["✓", "Shipment", "Order", "Lines", "Units"]]
    ]
    for shipment in pick_list.shipments:
        s_data.append(
            [
                _check_box(),
                _barcode(shipment.code, max_width=s_widths[1] - 6)
                or _p(shipment.code, styles["cell"]),
                _p(shipment.order_number, styles["cell_bold"]),
                _p(str(shipment.lines), styles["cell"]),
                _p(str(shipment.units), styles["cell"]),
            ]
        )
    s_table = Table(s_data, colWidths=s_widths, repeatRows=1, hAlign="LEFT")
    s_table.setStyle(_table_style())
    story.append(s_table)
    doc.build(story, canvasmaker=_numbered_canvas(f"{title} · printed {printed}", regular))
    return buffer.getvalue()


# --- the packing slip -----------------------------------------------------------------------


def _address_lines(address: dict[str, Any]) -> list[str]:
    country = str(address.get("country") or "")
    city = " ".join(str(address.get(k) or "").strip() for k in ("postal_code", "city")).strip()
    lines = [
        str(address.get("name") or ""),
        str(address.get("company") or ""),
        str(address.get("line1") or ""),
        str(address.get("line2") or ""),
        city,
        str(address.get("region") or ""),
        str(countries.name(country) or country) if country else "",
    ]
    return [line.strip() for line in lines if line and line.strip()]


def _slip_header(
    code: str, *, width: float, small: bool, styles: dict[str, ParagraphStyle]
) -> Table:
    """The title on the left, the shipment's SH-<id> barcode on the right."""
    symbol = _barcode(
        code, max_width=width * 0.45, bar_height=(10 if small else 13) * mm, bar_width=1.3
    )
    header = Table(
        [[_p("Packing slip", styles["title"]), symbol or _p(code, styles["cell_bold"])]],
        colWidths=[width * 0.55, width * 0.45],
    )
    header.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return header


def _slip_facts(
    shipment: Shipment,
    *,
    number: str,
    code: str,
    parcels: list[int],
    width: float,
    small: bool,
    styles: dict[str, ParagraphStyle],
) -> Table:
    """Order, date, shipment, origin and the parcels (when weighed), as a two-column table."""
    order = shipment.order
    placed = timezone.localtime(order.placed_at).date().isoformat() if order.placed_at else ""
    facts = [
        ("Order", number),
        ("Order date", placed),
        ("Shipment", code),
        ("Ships from", f"{shipment.location.code} {shipment.location.name}".strip()),
    ]
    if parcels:
        total = sum(parcels)
        facts.append(("Parcels", f"{len(parcels)} · {total / 1000:.2f} kg"))
    facts_table = Table(
        [[_p(k, styles["small"]), _p(v, styles["cell_bold"])] for k, v in facts],
        colWidths=[width * 0.3 if small else 30 * mm, None],
        hAlign="LEFT",
    )
    facts_table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return facts_table


def _slip_contents(
    lines: list[ShipmentLine], *, width: float, styles: dict[str, ParagraphStyle]
) -> Table:
    """What is in the box: packed quantities once packing started, else the ordered ones."""
    packed = any(ln.quantity_packed for ln in lines)
    qty_head = "Packed" if packed else "Quantity"
    widths = [width * 0.36, width * 0.5, width * 0.14]
    data: list[list[Any]] = [[_p(h, styles["head"]) for h in ["SKU", "Name", qty_head]]]
    units = 0
    for ln in lines:
        quantity = ln.quantity_packed if packed else ln.quantity
        units += quantity
        sku = ln.order_line.sku
        data.append(
            [
                _p(sku.code if sku else ln.order_line.sku_code, styles["code"]),
                _p(ln.bought_name, styles["cell"]),
                _p(str(quantity), styles["cell_bold"]),
            ]
        )
    data.append(
        [
            _p("", styles["cell"]),
            _p("Total units", styles["cell"]),
            _p(str(units), styles["cell_bold"]),
        ]
    )
    table = Table(data, colWidths=widths, repeatRows=1)
    style = _table_style()
    style.add("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black)
    table.setStyle(style)
    return table


def packing_slip_pdf(shipment: Shipment | int, *, size: str = "a4") -> bytes:
    """The slip that goes in the box: the merchant's name (the channel's `display_name`; the
    logo is not printed: nothing is fetched at render time), ship-to, order number, what was
    packed, SH-<id> barcode.

    `size` is "a4" or "4x6" (a label printer). Three queries.
    """
    pk = shipment if isinstance(shipment, int) else shipment.pk
    shipment = Shipment.objects.select_related("order__channel", "location").get(pk=pk)
    lines = list(
        ShipmentLine.objects.filter(shipment=shipment)
        .select_related("order_line__sku")
        .order_by("order_line__line_number", "id")
    )
    parcels = list(shipment.parcels.order_by("id").values_list("weight_grams", flat=True))
    page = PAGE_SIZES.get(size, A4)
    small = page[0] < 400
    scale = 0.8 if small else 1.0
    margin = 6 * mm if small else 15 * mm
    styles = _styles(scale)
    regular, _bold = pdf_fonts()
    order = shipment.order
    number = str(order)
    code = shipment_code(shipment.pk)
    width = page[0] - 2 * margin - 2 * FRAME_PADDING
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 4 * mm,
        title=f"Packing slip {code} order {number}",
        author=order.channel.display_name,
    )
    address = _address_lines(dict(order.shipping_address or {}))
    story: list[Flowable] = [
        _p(order.channel.display_name, styles["merchant"]),
        _slip_header(code, width=width, small=small, styles=styles),
        Spacer(1, 3 * mm),
        _slip_facts(
            shipment,
            number=number,
            code=code,
            parcels=parcels,
            width=width,
            small=small,
            styles=styles,
        ),
        _p("Ship to", styles["h2"]),
        _p("\n".join(address) or "(no shipping address)", styles["address"]),
        _p("Contents", styles["h2"]),
        _slip_contents(lines, width=width, styles=styles),
    ]
    if order.notes.strip():
        story.append(
            KeepTogether(
                [
                    _p("Note from the customer", styles["h2"]),
                    _p(order.notes.strip(), styles["cell"]),
                ]
            )
        )
    doc.build(story, canvasmaker=_numbered_canvas(f"{code} · order {number}", regular))
    return buffer.getvalue()
