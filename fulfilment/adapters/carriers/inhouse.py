"""The in-house carrier: our own 4x6 inch labels, made offline (our vans or a delivery partner
that scans our barcodes).

Invariants:
- nothing leaves the process: a label is computed from the reference, the shipment data and the
  parcel alone, so buying the same reference again returns the same tracking number, SSCC and
  barcodes (idempotent by construction); void() has nothing to refund;
- the tracking number is "NW" + the shipment id (8 digits) + the parcel id (9 digits) + their
  GS1 mod-10 check digit; the SSCC is extension digit + GS1 company prefix + the parcel id as
  serial reference + check digit (fulfilment.adapters.carriers.gs1);
- the PDF is one page of 288 x 432 pt (4 x 6 inch): ship-from, carrier and service, ship-to, a
  GS1-128 symbol of AI (420) + the ship-to postcode, a Code 128 symbol of the tracking number
  and a GS1-128 symbol of AI (00) + the SSCC, each with its text, in the PDF base fonts when
  every text fits them, else in an embedded Unicode font (an address in any European script
  prints right); the ZPL (203 dpi, UTF-8) carries the same fields and symbols (^BC, mode D for
  the GS1-128 ones);
- tracking comes from the delivery partner's webhook (`X-OMS-Signature: sha256=<hex HMAC-SHA256
  of the raw body>`), never by polling: track() returns [].
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from reportlab.graphics.barcode.code128 import Code128, Code128Auto
from reportlab.lib.pagesizes import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as rl_canvas

from fulfilment.adapters.carriers.base import (
    TRACKING_STATUSES,
    Address,
    Label,
    ParcelData,
    Rate,
    ShipmentData,
    TrackingEventData,
    parse_label_reference,
)
from fulfilment.adapters.carriers.gs1 import (
    gs1_128_data,
    gs1_check_digit,
    postcode_element,
    sscc,
    sscc_text,
)
from fulfilment.pdf_fonts import pdf_fonts
from oms import jsonsafe
from oms.errors import PermanentError
from oms.vendor_http import (
    check_signature,
    header,
    hmac_sha256_hex,
    parse_datetime,
)

PAGE = (4 * inch, 6 * inch)  # 288 x 432 pt
MARGIN = 10.0
SIGNATURE_HEADER = "X-OMS-Signature"


def tracking_number_for(shipment_id: int, parcel_id: int) -> str:
    """The in-house tracking number of a parcel: the same ids always give the same number."""
    digits = f"{shipment_id:08d}{parcel_id:09d}"
    return f"NW{digits}{gs1_check_digit(digits)}"


class InHouseCarrier:
    """Labels of our own, PDF and ZPL. See the module docstring."""

    code = "inhouse"

    def __init__(
        self,
        *,
        company_prefix: str = "4000001",
        extension_digit: int = 0,
        tracking_url_template: str = "",
        webhook_secret: str = "",
        currency: str = "EUR",
    ) -> None:
        sscc(company_prefix=company_prefix, serial=0, extension_digit=extension_digit)  # checks
        self.company_prefix = company_prefix
        self.extension_digit = extension_digit
        self.tracking_url_template = tracking_url_template
        self.webhook_secret = webhook_secret
        self.currency = currency

    # --- the protocol -------------------------------------------------------------------------

    def rate(self, shipment: ShipmentData, parcels: Sequence[ParcelData]) -> list[Rate]:
        return [
            Rate(
                carrier=self.code,
                service="standard",
                amount=Decimal("0.00"),
                currency=self.currency,
            )
        ]

    def buy_label(
        self, *, reference: str, shipment_data: ShipmentData, parcel: ParcelData
    ) -> Label:
        ids = parse_label_reference(reference)
        if ids is None:
            raise PermanentError(
                f"In-house labels need a reference SH-<id>-P<id>, not {reference!r}."
            )
        shipment_id, parcel_id = ids
        if parcel_id != parcel.id:
            raise PermanentError(f"Reference {reference} is not parcel {parcel.id}'s.")
        if not shipment_data.ship_to.postal_code and not shipment_data.ship_to.city:
            raise PermanentError("The shipping address has no postcode and no city.")
        tracking = tracking_number_for(shipment_id, parcel_id)
        number = sscc(
            company_prefix=self.company_prefix,
            serial=parcel_id,
            extension_digit=self.extension_digit,
        )
        url = (
            self.tracking_url_template.format(tracking_number=tracking)
            if self.tracking_url_template
            else ""
        )
        fields = _LabelFields(
            shipment=shipment_data,
            parcel=parcel,
            tracking_number=tracking,
            sscc=number,
            sscc_text=sscc_text(number, company_prefix_length=len(self.company_prefix)),
            postcode=postcode_element(shipment_data.ship_to.postal_code),
        )
        return Label(
            tracking_number=tracking,
            carrier_reference=reference,
            pdf=label_pdf(fields),
            zpl=label_zpl(fields),
            tracking_url=url,
            sscc=number,
        )

    def void(self, label: Label) -> None:
        return None  # nothing was paid: an unused in-house label is simply not used

    def track(self, tracking_number: str) -> list[TrackingEventData]:
        return []

    def parse_tracking_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[TrackingEventData]:
        """`{"events": [{"id", "tracking_number", "status", "description", "place",
        "occurred_at"}]}` signed with OMS_INHOUSE_WEBHOOK_SECRET; unknown statuses are skipped.
        """
        if not self.webhook_secret:
            raise PermanentError("In-house tracking webhooks are off: no webhook secret is set.")
        check_signature(
            given=header(headers, SIGNATURE_HEADER),
            expected="sha256=" + hmac_sha256_hex(self.webhook_secret, body),
            what="In-house tracking webhook",
        )
        try:
            payload = jsonsafe.loads(body)
        except ValueError as exc:
            raise PermanentError(f"In-house tracking webhook: not JSON ({exc}).") from None
        rows = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise PermanentError("In-house tracking webhook: no list of events.")
        events = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            status = str(row.get("status") or "")
            occurred = parse_datetime(row.get("occurred_at"))
            if status not in TRACKING_STATUSES or occurred is None or not row.get("id"):
                continue
            events.append(
                TrackingEventData(
                    external_id=str(row["id"])[:128],
                    status=status,
                    description=str(row.get("description") or "")[:255],
                    place=str(row.get("place") or "")[:128],
                    occurred_at=occurred,
                    tracking_number=str(row.get("tracking_number") or ""),
                    raw=row,
                )
            )
        return events


# --- the label ------------------------------------------------------------------------------


class _LabelFields:
    def __init__(
        self,
        *,
        shipment: ShipmentData,
        parcel: ParcelData,
        tracking_number: str,
        sscc: str,
        sscc_text: str,
        postcode: str,
    ) -> None:
        self.shipment = shipment
        self.parcel = parcel
        self.tracking_number = tracking_number
        self.sscc = sscc
        self.sscc_text = sscc_text
        self.postcode = postcode

    @property
    def service(self) -> str:
        return (self.shipment.service or "standard").upper()

    @property
    def parcel_text(self) -> str:
        weight = f"{self.parcel.weight_grams / 1000:.2f} kg"
        return f"Parcel {self.parcel.number} of {max(self.shipment.parcel_count, 1)} · {weight}"

    @property
    def reference_text(self) -> str:
        order = f"Order {self.shipment.order_number} · " if self.shipment.order_number else ""
        return f"{order}SH-{self.shipment.id}"

    @property
    def destination(self) -> str:
        to = self.shipment.ship_to
        return " ".join(p for p in (to.country, to.postal_code) if p)


def _fit(make: Any, value: str, max_width: float, bar_width: float, bar_height: float) -> Any:
    """A symbol no wider than max_width (bars thinned down, never below 0.6 pt)."""
    symbol = make(value, barWidth=bar_width, barHeight=bar_height, humanReadable=False)
    if symbol.width > max_width:
        bar_width = max(0.6, bar_width * max_width / symbol.width)
        symbol = make(value, barWidth=bar_width, barHeight=bar_height, humanReadable=False)
    return symbol


def _address_block(
    canvas: rl_canvas.Canvas,
    address: Address,
    *,
    x: float,
    top: float,
    width: float,
    fonts: tuple[str, str],
    size: float,
    max_lines: int,
) -> None:
    regular, bold = fonts
    y = top
    for index, line in enumerate(address.lines()[:max_lines]):
        font = bold if index == 0 else regular
        text = line
        while len(text) > 1 and pdfmetrics.stringWidth(text, font, size) > width:
            text = text[:-1]
        canvas.setFont(font, size)
        canvas.drawString(x, y, text)
        y -= size * 1.2


def _fonts_for(fields: _LabelFields) -> tuple[str, str]:
    """The PDF base fonts when every text fits their encoding (WinAnsi, about cp1252: most
    Western European addresses), which nothing needs to embed; else a Unicode TrueType font,
    embedded (several milliseconds more per label)."""
    texts = [
        *fields.shipment.ship_from.lines(),
        *fields.shipment.ship_to.lines(),
        fields.service,
        fields.parcel_text,
        fields.reference_text,
        fields.destination,
    ]
    try:
        "".join(texts).encode("cp1252")
    except UnicodeEncodeError:
        return pdf_fonts()
    return "Helvetica", "Helvetica-Bold"


def _draw_from(canvas: rl_canvas.Canvas, fields: _LabelFields, fonts: tuple[str, str]) -> None:
    """The top band: ship-from on the left, the carrier, service, parcel and reference right."""
    regular, bold = fonts
    width, height = PAGE
    inner = width - 2 * MARGIN
    canvas.setFont(regular, 6.5)
    canvas.drawString(MARGIN, height - MARGIN - 6, "FROM")
    _address_block(
        canvas,
        fields.shipment.ship_from,
        x=MARGIN,
        top=height - MARGIN - 15,
        width=inner * 0.58,
        fonts=(regular, bold),
        size=7.5,
        max_lines=6,
    )
    right = width - MARGIN
    canvas.setFont(bold, 15)
    canvas.drawRightString(right, height - MARGIN - 14, "IN-HOUSE")
    canvas.setFont(bold, 10)
    canvas.drawRightString(right, height - MARGIN - 28, fields.service)
    canvas.setFont(regular, 7)
    canvas.drawRightString(right, height - MARGIN - 40, fields.parcel_text)
    canvas.drawRightString(right, height - MARGIN - 50, fields.reference_text)
    canvas.setLineWidth(1.2)
    canvas.line(0, 354, width, 354)


def _draw_ship_to(canvas: rl_canvas.Canvas, fields: _LabelFields, fonts: tuple[str, str]) -> None:
    regular, bold = fonts
    width = PAGE[0]
    canvas.setFont(regular, 6.5)
    canvas.drawString(MARGIN, 344, "SHIP TO")
    _address_block(
        canvas,
        fields.shipment.ship_to,
        x=MARGIN + 8,
        top=328,
        width=width - 2 * MARGIN - 8,
        fonts=(regular, bold),
        size=11.5,
        max_lines=7,
    )
    canvas.line(0, 236, width, 236)


def _draw_postcode(canvas: rl_canvas.Canvas, fields: _LabelFields, fonts: tuple[str, str]) -> None:
    """AI (420): the ship-to postcode, for the sorting centre, and the destination beside it
    in the largest size that fits the room the symbol leaves."""
    regular, bold = fonts
    width = PAGE[0]
    inner = width - 2 * MARGIN
    right = width - MARGIN
    canvas.setFont(regular, 6.5)
    canvas.drawString(MARGIN, 227, "SHIP-TO POSTCODE")
    used = MARGIN
    if fields.postcode:
        symbol = _fit(Code128Auto, gs1_128_data("420", fields.postcode), inner * 0.6, 1.1, 42)
        symbol.drawOn(canvas, MARGIN - symbol.lquiet, 178)
        used = MARGIN + symbol.width - symbol.lquiet  # the bars and their right quiet zone
        canvas.setFont(regular, 8)
        canvas.drawString(MARGIN, 168, f"(420) {fields.postcode}")
    destination = fields.destination or "-"
    size = 20.0
    while size > 8 and pdfmetrics.stringWidth(destination, bold, size) > right - used - 4:
        size -= 1
    canvas.setFont(bold, size)
    canvas.drawRightString(right, 192, destination)
    canvas.line(0, 160, width, 160)


def _draw_codes(canvas: rl_canvas.Canvas, fields: _LabelFields, fonts: tuple[str, str]) -> None:
    """The tracking number (Code 128) and, below it, AI (00): the SSCC of the parcel."""
    regular, bold = fonts
    width = PAGE[0]
    inner = width - 2 * MARGIN
    canvas.setFont(regular, 6.5)
    canvas.drawString(MARGIN, 151, "TRACKING NUMBER")
    symbol = _fit(Code128, fields.tracking_number, inner, 1.2, 52)
    symbol.drawOn(canvas, (width - symbol.width) / 2, 94)
    canvas.setFont(bold, 11)
    canvas.drawCentredString(width / 2, 82, fields.tracking_number)
    canvas.line(0, 76, width, 76)

    canvas.setFont(regular, 6.5)
    canvas.drawString(MARGIN, 67, "SSCC")
    symbol = _fit(Code128Auto, gs1_128_data("00", fields.sscc), inner, 1.2, 40)
    symbol.drawOn(canvas, (width - symbol.width) / 2, 22)
    canvas.setFont(regular, 8.5)
    canvas.drawCentredString(width / 2, 10, fields.sscc_text)


def label_pdf(fields: _LabelFields) -> bytes:
    """The 4x6 inch PDF of one parcel's label, drawn top to bottom."""
    fonts = _fonts_for(fields)
    buffer = io.BytesIO()
    canvas = rl_canvas.Canvas(buffer, pagesize=PAGE, pageCompression=1)
    canvas.setTitle(f"Label {fields.tracking_number}")
    canvas.setAuthor("OMS")
    canvas.setSubject(fields.reference_text)
    _draw_from(canvas, fields, fonts)
    _draw_ship_to(canvas, fields, fonts)
    _draw_postcode(canvas, fields, fonts)
    _draw_codes(canvas, fields, fonts)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- ZPL (203 dpi: 812 x 1218 dots) ---------------------------------------------------------


def _zpl_text(value: str) -> str:
    """Field data for ^FH_: the characters ZPL reserves, written as hex."""
    return value.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


def _zpl_lines(x: int, y: int, size: int, lines: Sequence[str], *, bold_first: bool) -> list[str]:
    out = []
    for index, line in enumerate(lines):
        height = size + 6 if (bold_first and index == 0) else size
        out.append(f"^FO{x},{y}^A0N,{height},{height}^FH_^FD{_zpl_text(line)}^FS")
        y += height + 6
    return out


def label_zpl(fields: _LabelFields) -> str:
    """The same label for a thermal printer (ZPL II, UTF-8)."""
    commands = ["^XA", "^CI28", "^PW812", "^LL1218", "^LH0,0"]
    commands.append("^FO30,25^A0N,20,20^FDFROM^FS")
    commands += _zpl_lines(30, 50, 22, fields.shipment.ship_from.lines()[:6], bold_first=False)
    commands += [
        "^FO480,25^A0N,44,44^FB300,1,0,R^FDIN-HOUSE^FS",
        f"^FO480,75^A0N,30,30^FB300,1,0,R^FH_^FD{_zpl_text(fields.service)}^FS",
        f"^FO380,112^A0N,20,20^FB400,1,0,R^FH_^FD{_zpl_text(fields.parcel_text)}^FS",
        f"^FO380,138^A0N,20,20^FB400,1,0,R^FH_^FD{_zpl_text(fields.reference_text)}^FS",
        "^FO0,220^GB812,4,4^FS",
        "^FO30,235^A0N,20,20^FDSHIP TO^FS",
    ]
    commands += _zpl_lines(50, 265, 34, fields.shipment.ship_to.lines()[:7], bold_first=True)
    commands += ["^FO0,600^GB812,4,4^FS", "^FO30,615^A0N,20,20^FDSHIP-TO POSTCODE^FS"]
    if fields.postcode:
        commands.append(f"^FO30,645^BY2^BCN,110,Y,N,N,D^FD(420){fields.postcode}^FS")
    commands += [
        f"^FO430,680^A0N,60,60^FB350,1,0,R^FH_^FD{_zpl_text(fields.destination or '-')}^FS",
        "^FO0,800^GB812,4,4^FS",
        "^FO30,815^A0N,20,20^FDTRACKING NUMBER^FS",
        f"^FO60,845^BY3^BCN,150,Y,N,N^FD{fields.tracking_number}^FS",
        "^FO0,1030^GB812,4,4^FS",
        "^FO30,1045^A0N,20,20^FDSSCC^FS",
        f"^FO60,1075^BY3^BCN,100,Y,N,N,D^FD(00){fields.sscc}^FS",
        "^XZ",
    ]
    return "\n".join(commands) + "\n"
