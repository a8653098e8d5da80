"""Import of a sales channel's orders from a CSV file: previewed, then imported whole or not at all.

The file: UTF-8 (with or without a byte-order mark), comma- or semicolon-separated (the header
line decides), a header row, then one row per order line. The rows of one order share its
`external_id` and are grouped in file order (they need not be adjacent). Rows are numbered as a
spreadsheet numbers them: the header is row 1, blank rows count but are skipped.

Columns (names are case-insensitive; unknown columns are ignored and listed in the preview):

    column            level  required  meaning
    external_id       order  yes       the channel's reference; one order per (channel, external_id)
    external_number   order            the number the shopper sees on the channel
    placed_at         order            ISO 8601, e.g. 2026-11-20T10:00:00+01:00 (no offset: the
                                       server's time zone; empty: the time of import)
    currency          order            ISO 4217 code (empty: the channel's currency)
    payment_status    order  yes       pending, authorized, paid, partially_refunded, refunded,
                                       voided (only authorized and paid orders are routed)
    email, first_name, last_name, phone
                      order            the shopper
    ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country
                      order            the shipping address; ship_country a two-letter ISO code;
                                       ship_name empty: first_name and last_name
    shipping_price    order            amount (empty: 0)
    total             order            the channel's total, only compared (a mismatch holds)
    notes             order            free text
    sku               line   yes       our SKU code (an unknown code holds the order)
    quantity          line   yes       a whole number above 0
    unit_price        line   yes       amount per unit
    discount, tax     line             amounts for the whole line (empty: 0)

Amounts use a decimal point ("19.95"); a semicolon-separated file may use a decimal comma
("19,95"), as spreadsheets in many locales write it.

Invariants this module guards:
- order-level columns agree across the rows of one order: a row may leave them empty (it
  inherits the first value given), but a different value is an error of that row;
- the preview is exact: every new order goes through capture (validation, holds, routing)
  inside a transaction that is rolled back, and its errors are mapped back to the rows and
  columns of the file; orders the channel already has are shown as already imported;
- capture is batched: LOOKUP_CHUNK orders at a time in a constant number of statements
  (orders.services.capture_batch, the same validation as `order_capture`), routed as one batch;
  a chunk the batch refuses goes one order at a time through `order_capture`, which says which
  rows are wrong;
- an import is all or nothing: the file is read again from the same bytes and every order is
  captured in ONE transaction; any row that cannot be read or captured rolls all of it back,
  and a `ValidationFailed` names every bad row;
- an import is exactly once per order: capture is idempotent per (channel, external_id), so a
  file imported twice creates nothing the second time (its orders count as unchanged); an
  existing order is never changed by a file;
- every import is recorded as a ChannelSyncRun (trigger "csv"): a successful one with its
  counts, in the importing transaction; a refused one as a failed run with the errors, written
  after the rollback (no ChannelSyncFailure rows: nothing of a refused file is retried, the
  person fixes the file and imports it again);
- bounded: at most MAX_BYTES bytes and MAX_ROWS data rows per file (the import's one
  transaction holds its locks for the whole file). The back office runs the preview and the
  import as background jobs (channels.services.csv_jobs), which pass a `progress` callback
  told after each chunk of capture; a worker that dies mid-import rolls its transaction back
  and the job runs again from the start (nothing doubled: capture is idempotent per order).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from channels.models import ChannelSyncRun
from channels.states import SyncStatus, SyncTrigger
from inventory.models import Channel
from oms.errors import DomainError, ValidationFailed
from oms.limits import integer_range
from oms.money import is_currency, round_money
from orders.models import Order, OrderHold, OrderLine
from orders.services import order_capture
from orders.services.capture_batch import orders_capture_batch
from orders.services.routing import orders_route_now_many
from orders.states import HoldReason, OrderStatus, PaymentStatus

MAX_BYTES = 5 * 1024 * 1024
#: Each new order costs about 50 queries (capture ~15, routing ~35) in the preview and again in
#: the import, whose one transaction holds its locks (SQLite: the database's write lock, which
#: other writers wait for at most 30 s) for the whole file: about 12 s per 1,000 orders on
#: SQLite, 20 s on PostgreSQL. Larger files are split.
MAX_ROWS = 1_000
EXTERNAL_ID_MAX = 128
#: How many external ids one lookup query takes (SQLite limits the parameters of a query).
LOOKUP_CHUNK = 500

ORDER_COLUMNS = (
    "external_id",
    "external_number",
    "placed_at",
    "currency",
    "payment_status",
    "email",
    "first_name",
    "last_name",
    "phone",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "shipping_price",
    "total",
    "notes",
)
LINE_COLUMNS = ("sku", "quantity", "unit_price", "discount", "tax")
COLUMNS = ORDER_COLUMNS + LINE_COLUMNS
REQUIRED_COLUMNS = ("external_id", "payment_status", "sku", "quantity", "unit_price")

#: (column, level, required, meaning): the documentation shown on the upload page.
COLUMN_HELP: tuple[tuple[str, str, bool, str], ...] = (
    (
        "external_id",
        "order",
        True,
        "The channel's reference of the order; the rows of one "
        "order share it. An order the channel already has is skipped.",
    ),
    ("external_number", "order", False, "The order number the shopper sees on the channel."),
    (
        "placed_at",
        "order",
        False,
        "ISO 8601 date and time, e.g. 2026-11-20T10:00:00+01:00 "
        "(without an offset: the server's time zone; empty: the time of import).",
    ),
    ("currency", "order", False, "ISO 4217 code such as EUR (empty: the channel's currency)."),
    (
        "payment_status",
        "order",
        True,
        "One of " + ", ".join(PaymentStatus.values) + "; only "
        "authorized and paid orders are routed, the others are held.",
    ),
    ("email", "order", False, "The shopper's e-mail address."),
    ("first_name", "order", False, "The shopper's first name."),
    ("last_name", "order", False, "The shopper's last name."),
    ("phone", "order", False, "The shopper's phone number."),
    ("ship_name", "order", False, "Name on the parcel (empty: first and last name)."),
    ("ship_line1", "order", False, "Street and number."),
    ("ship_line2", "order", False, "Second address line."),
    ("ship_city", "order", False, "City."),
    ("ship_region", "order", False, "State, province or region code where the country uses one."),
    ("ship_postal_code", "order", False, "Postal code."),
    (
        "ship_country",
        "order",
        False,
        "Two-letter ISO country code, e.g. DE. An incomplete address holds the order.",
    ),
    ("shipping_price", "order", False, "Shipping charged (empty: 0)."),
    (
        "total",
        "order",
        False,
        "The channel's order total: only compared with ours, a mismatch holds the order.",
    ),
    ("notes", "order", False, "Free text kept on the order."),
    ("sku", "line", True, "Our SKU code (an unknown code holds the order)."),
    ("quantity", "line", True, "Units ordered: a whole number above 0."),
    ("unit_price", "line", True, "Price of one unit."),
    ("discount", "line", False, "Discount on the whole line (empty: 0)."),
    ("tax", "line", False, "Tax of the whole line (empty: 0)."),
)

#: Columns whose values are compared without regard to case (as capture reads them).
_UPPER = {"currency", "ship_country"}
_LOWER = {"payment_status", "email"}
_AMOUNT_COLUMNS = {"shipping_price", "total", "unit_price", "discount", "tax"}
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_WHOLE = re.compile(r"\+?\d+")
#: The largest quantity an order line holds (its column).
QUANTITY_MAX = integer_range(OrderLine, "quantity")[1]


@dataclass
class CsvRow:
    """One data row (one order line). `number` is its row in the file (the header is row 1)."""

    number: int
    values: dict[str, str]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column or "", message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, column: str, message: str) -> None:
        if (column, message) not in self.errors:
            self.errors.append((column, message))

    @property
    def bad_columns(self) -> set[str]:
        return {column for column, _ in self.errors if column}

    def error_texts(self) -> list[str]:
        return [f"{column}: {message}" if column else message for column, message in self.errors]

    def value(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass
class CsvOrder:
    """The rows of one external_id, with the order-level values they agree on."""

    external_id: str
    rows: list[CsvRow] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)  # order column -> value (normalised)
    sources: dict[str, CsvRow] = field(default_factory=dict)  # order column -> row giving it
    existing_id: int | None = None
    existing_number: str = ""
    # What capturing it did in the preview (rolled back): the order as it would be stored.
    total: Decimal | None = None
    currency: str = ""
    status: str = ""
    holds: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def is_existing(self) -> bool:
        return self.existing_id is not None

    @property
    def state(self) -> str:
        """error, existing (already imported, skipped) or new."""
        if not self.ok:
            return "error"
        return "existing" if self.is_existing else "new"

    @property
    def status_display(self) -> str:
        return str(OrderStatus(self.status).label) if self.status in OrderStatus.values else ""

    def row_for(self, column: str) -> CsvRow:
        return self.sources.get(column) or self.rows[0]


@dataclass
class CsvPreview:
    """The file read and checked: rows, the orders they form, and every problem."""

    channel: Channel
    sha256: str
    delimiter: str = ","
    rows: list[CsvRow] = field(default_factory=list)
    orders: list[CsvOrder] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # about the file as a whole
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[CsvRow]:
        return [row for row in self.rows if not row.ok]

    @property
    def ok(self) -> bool:
        return bool(self.orders) and not self.errors and not self.bad_rows

    @property
    def new_orders(self) -> list[CsvOrder]:
        return [order for order in self.orders if order.state == "new"]

    @property
    def existing_orders(self) -> list[CsvOrder]:
        return [order for order in self.orders if order.state == "existing"]

    @property
    def bad_orders(self) -> list[CsvOrder]:
        return [order for order in self.orders if order.state == "error"]

    @property
    def error_count(self) -> int:
        return len(self.errors) + sum(len(row.errors) for row in self.rows)

    def error_messages(self) -> dict[str, list[str]]:
        """File and row errors keyed `file` and `row N`, as a DomainError's `errors`."""
        messages: dict[str, list[str]] = {}
        if self.errors:
            messages["file"] = list(self.errors)
        for row in self.bad_rows:
            messages[f"row {row.number}"] = row.error_texts()
        return messages


# --- reading the file -------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str | None]:
    if len(data) > MAX_BYTES:
        return "", f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it."
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return "", (
            f"The file is not UTF-8 text (byte {exc.start + 1}): save it as "
            "“CSV UTF-8” and upload it again."
        )


def _records(text: str, preview: CsvPreview) -> list[tuple[int, list[str]]]:
    """The non-blank records of the file with their row numbers (the header first)."""
    if not text.strip():
        preview.errors.append("The file is empty.")
        return []
    first_line = text.lstrip("\r\n").splitlines()[0]
    preview.delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=preview.delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    number = 0
    try:
        for record in reader:
            number += 1
            if any(cell.strip() for cell in record):
                records.append((number, record))
                if len(records) > MAX_ROWS + 1:
                    preview.errors.append(
                        f"The file has more than {MAX_ROWS} rows: import at most {MAX_ROWS} "
                        "at a time."
                    )
                    return []
    except csv.Error as exc:
        preview.errors.append(f"Row {number + 1}: the file is not valid CSV ({exc}).")
        return []
    return records


def _header(record: list[str], number: int, preview: CsvPreview) -> list[str | None]:
    """The column of each cell of the header (None: ignored), or [] if the header is unusable."""
    names = [cell.strip().lower() for cell in record]
    columns: list[str | None] = []
    seen: set[str] = set()
    for name in names:
        if name in COLUMNS:
            if name in seen:
                preview.errors.append(f"Row {number}: the column {name} appears twice.")
            seen.add(name)
            columns.append(name)
        else:
            columns.append(None)
            if name:
                preview.ignored_columns.append(name)
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        preview.errors.append(
            f"Row {number}: the header lacks the required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (found {', '.join(n for n in names if n) or 'nothing'})."
        )
    return [] if preview.errors else columns


def _normalised(column: str, value: str) -> str:
    if column in _UPPER:
        return value.upper()
    if column in _LOWER:
        return value.lower()
    return value


def _amount(text: str, *, decimal_comma: bool) -> tuple[str | None, str | None]:
    """The amount as capture reads it ("19.95"), or an error. Empty text gives (None, None)."""
    value = text.strip().replace(" ", "")
    if not value:
        return None, None
    if decimal_comma and _DECIMAL_COMMA.fullmatch(value):
        value = value.replace(",", ".")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None, f"{text.strip()!r} is not an amount: write it like 19.95."
    if not amount.is_finite():
        return None, f"{text.strip()!r} is not an amount: write it like 19.95."
    return value, None


def _placed_at(text: str) -> tuple[dt.datetime | None, str | None]:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None, (
            f"{text.strip()!r} is not an ISO 8601 date and time, e.g. 2026-11-20T10:00:00+01:00."
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment, None


def _check_row(row: CsvRow, *, decimal_comma: bool) -> None:
    """The checks of one row's line columns (order-level ones are checked once per order)."""
    external_id = row.value("external_id")
    if not external_id:
        row.error("external_id", "Required: the channel's reference of the order.")
    elif len(external_id) > EXTERNAL_ID_MAX:
        row.error("external_id", f"At most {EXTERNAL_ID_MAX} characters.")
    if not row.value("sku"):
        row.error("sku", "Required: the SKU code of the line.")
    quantity = row.value("quantity")
    if not quantity:
        row.error("quantity", "Required: the units ordered.")
    elif not _WHOLE.fullmatch(quantity) or not quantity.lstrip("+0"):
        row.error("quantity", f"{quantity[:20]!r} is not a whole number above 0.")
    elif len(quantity.lstrip("+0")) > 10 or int(quantity.lstrip("+0")) > QUANTITY_MAX:
        row.error("quantity", f"At most {QUANTITY_MAX} units.")
    if not row.value("unit_price"):
        row.error("unit_price", "Required: the price of one unit.")
    for column in ("unit_price", "discount", "tax"):
        amount, error = _amount(row.value(column), decimal_comma=decimal_comma)
        if error:
            row.error(column, error)
        elif amount is not None:
            row.values[column] = amount


def _agree_order_fields(order: CsvOrder) -> None:
    """The order's fields from its rows (each from the first row giving it); a row giving
    another value than that row is an error on it."""
    for row in order.rows:
        for column in ORDER_COLUMNS:
            value = _normalised(column, row.value(column))
            if not value:
                continue
            if column not in order.fields:
                order.fields[column] = value
                order.sources[column] = row
            elif order.fields[column] != value:
                first = order.sources[column]
                row.error(
                    column,
                    f"{row.value(column)!r} differs from {first.value(column)!r} on row "
                    f"{first.number} of the same order: an order's columns must agree.",
                )


def _check_order(order: CsvOrder, channel: Channel, *, decimal_comma: bool) -> None:
    """The order-level values: agreed across rows, then each checked on the row giving it."""
    _agree_order_fields(order)
    fields = order.fields
    currency = fields.get("currency", "")
    if currency and not is_currency(currency):
        order.row_for("currency").error("currency", f"{currency!r} is not an ISO 4217 code.")
    elif not currency:
        fields["currency"] = channel.currency
    payment = fields.get("payment_status", "")
    if not payment:
        order.row_for("payment_status").error(
            "payment_status", f"Required: one of {', '.join(PaymentStatus.values)}."
        )
    elif payment not in PaymentStatus.values:
        order.row_for("payment_status").error(
            "payment_status",
            f"{payment!r} is not a payment status: use one of {', '.join(PaymentStatus.values)}.",
        )
    if fields.get("placed_at"):
        _, error = _placed_at(fields["placed_at"])
        if error:
            order.row_for("placed_at").error("placed_at", error)
    for column in ("shipping_price", "total"):
        if fields.get(column):
            amount, error = _amount(fields[column], decimal_comma=decimal_comma)
            if error or amount is None:
                order.row_for(column).error(column, error or "Not an amount.")
            else:
                fields[column] = amount
    country = fields.get("ship_country", "")
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        order.row_for("ship_country").error(
            "ship_country", f"{country!r} is not a two-letter ISO country code such as DE."
        )
    email = fields.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            order.row_for("email").error("email", f"{email!r} is not an e-mail address.")


def _existing(channel: Channel, orders: list[CsvOrder]) -> None:
    by_id = {order.external_id: order for order in orders}
    ids = list(by_id)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        found = Order.objects.filter(
            channel=channel, external_id__in=ids[start : start + LOOKUP_CHUNK]
        ).values_list("external_id", "pk", "number")
        for external_id, pk, number in found:
            by_id[external_id].existing_id = pk
            by_id[external_id].existing_number = number or ""


def _read(*, channel: Channel, data: bytes) -> CsvPreview:
    """Read and check the file without capturing anything (one query: the known orders)."""
    preview = CsvPreview(channel=channel, sha256=hashlib.sha256(data).hexdigest())
    text, error = _decode(data)
    if error:
        preview.errors.append(error)
        return preview
    records = _records(text, preview)
    if not records:
        return preview
    header_number, header = records[0]
    columns = _header(header, header_number, preview)
    if not columns:
        return preview
    if len(records) == 1:
        preview.errors.append("The file has a header but no rows.")
        return preview
    decimal_comma = preview.delimiter == ";"
    grouped: dict[str, CsvOrder] = {}
    for number, record in records[1:]:
        values = {column: "" for column in COLUMNS}
        for column, cell in zip(columns, record, strict=False):
            if column is not None:
                values[column] = cell.strip()
        row = CsvRow(number=number, values=values)
        extra = record[len(columns) :]
        if any(cell.strip() for cell in extra):
            row.error("", f"{len(record)} cells, but the header names {len(columns)} columns.")
        _check_row(row, decimal_comma=decimal_comma)
        preview.rows.append(row)
        external_id = row.value("external_id")
        if external_id:
            grouped.setdefault(external_id, CsvOrder(external_id=external_id)).rows.append(row)
    preview.orders = list(grouped.values())
    for order in preview.orders:
        _check_order(order, channel, decimal_comma=decimal_comma)
    _existing(channel, preview.orders)
    return preview


# --- capturing --------------------------------------------------------------------------------


def _capture_kwargs(
    order: CsvOrder, *, channel: Channel, sha256: str, actor: str
) -> dict[str, Any]:
    fields = order.fields
    name = fields.get("ship_name") or " ".join(
        part for part in (fields.get("first_name"), fields.get("last_name")) if part
    )
    address = {
        "name": name,
        "line1": fields.get("ship_line1", ""),
        "line2": fields.get("ship_line2", ""),
        "city": fields.get("ship_city", ""),
        "region": fields.get("ship_region", ""),
        "postal_code": fields.get("ship_postal_code", ""),
        "country": fields.get("ship_country", ""),
    }
    customer = {key: fields.get(key, "") for key in ("email", "first_name", "last_name", "phone")}
    placed_at = _placed_at(fields["placed_at"])[0] if fields.get("placed_at") else None
    return {
        "channel": channel.code,
        "external_id": order.external_id,
        "external_number": fields.get("external_number", ""),
        "currency": fields["currency"],
        "payment_status": fields["payment_status"],
        "placed_at": placed_at,
        "customer": customer if any(customer.values()) else None,
        "shipping_address": address,
        "shipping_price": fields.get("shipping_price") or "0",
        "total": fields.get("total") or None,
        "notes": fields.get("notes", ""),
        "lines": [
            {
                "sku": row.value("sku"),
                "quantity": int(row.value("quantity").lstrip("+0")),
                "unit_price": row.value("unit_price"),
                "discount": row.value("discount") or "0",
                "tax": row.value("tax") or "0",
            }
            for row in order.rows
        ],
        "raw_payload": {
            "source": "csv",
            "file_sha256": sha256,
            "rows": [{"row": row.number, **row.values} for row in order.rows],
        },
        "actor": actor,
    }


def _map_errors(order: CsvOrder, exc: DomainError, preview: CsvPreview) -> None:
    """Put capture's errors ("lines.0.quantity", "currency", ...) on the rows they come from."""
    if not isinstance(exc, ValidationFailed) or not exc.errors:
        order.rows[0].error("", str(exc))
        return
    for key, messages in exc.errors.items():
        text = " ".join(str(message) for message in messages)
        parts = key.split(".")
        if key == "channel":
            preview.errors.append(text)
        elif parts[0] == "lines" and len(parts) >= 2 and parts[1].isdigit():
            index = int(parts[1])
            row = order.rows[index] if index < len(order.rows) else order.rows[0]
            column = parts[2] if len(parts) > 2 and parts[2] in LINE_COLUMNS else ""
            row.error(column, text)
        elif parts[0] == "lines":
            order.rows[0].error("sku", text)
        elif parts[0] in ("shipping_address", "billing_address") and len(parts) > 1:
            column = f"ship_{parts[1]}"
            order.row_for(column).error(column if column in COLUMNS else "", text)
        elif key in COLUMNS:
            order.row_for(key).error(key, text)
        else:
            order.rows[0].error("", f"{key}: {text}")


def _capture(order: CsvOrder, *, preview: CsvPreview, actor: str) -> tuple[Order | None, bool]:
    """Capture one order; its errors go to its rows. Returns (order or None, created)."""
    try:
        result = order_capture(
            **_capture_kwargs(order, channel=preview.channel, sha256=preview.sha256, actor=actor)
        )
    except DomainError as exc:
        _map_errors(order, exc, preview)
        return None, False
    return result.order, result.created


#: Told (orders captured so far, orders to capture) after each chunk: a background job's progress.
Progress = Callable[[int, int], None]


def _capture_all(
    orders: list[CsvOrder],
    *,
    preview: CsvPreview,
    actor: str,
    progress: Progress | None = None,
    chunk_size: int = LOOKUP_CHUNK,
) -> list[tuple[CsvOrder, Order, bool]]:
    """Capture these orders in the caller's transaction, LOOKUP_CHUNK at a time in a constant
    number of statements (orders.services.capture_batch), then route the new ones as one batch:
    what capturing them one at a time would do. A chunk the batch refuses (a bad order, one
    imported meanwhile) is captured one order at a time, whose errors go to the rows. Returns
    (order of the file, stored order, created) for every order that could be captured."""
    done: list[tuple[CsvOrder, Order, bool]] = []
    for start in range(0, len(orders), chunk_size):
        chunk = orders[start : start + chunk_size]
        kwargs = [
            _capture_kwargs(o, channel=preview.channel, sha256=preview.sha256, actor=actor)
            for o in chunk
        ]
        try:
            with transaction.atomic():
                stored = orders_capture_batch(
                    channel=preview.channel.code,
                    captures=[{k: v for k, v in kw.items() if k != "channel"} for kw in kwargs],
                )
        except Exception:  # nothing of the chunk was written: one order at a time
            stored = [None] * len(chunk)
        # Routed in file order, before the orders after them are captured (as one at a time).
        orders_route_now_many(
            order_ids=[o.pk for o in stored if o is not None and not o.is_on_hold],
            trigger="captured",
            actor=actor,
        )
        for order, new in zip(chunk, stored, strict=True):
            if new is not None:
                done.append((order, new, True))
                continue
            result, created = _capture(order, preview=preview, actor=actor)
            if result is not None:
                done.append((order, result, created))
        if progress is not None:
            progress(start + len(chunk), len(orders))
    return done


def _outcomes(captured: dict[int, CsvOrder]) -> None:
    """What capturing did to each order (status, total, holds): two queries for all of them."""
    ids = list(captured)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        for pk, status, total, currency in Order.objects.filter(pk__in=chunk).values_list(
            "pk", "status", "total", "currency"
        ):
            order = captured[pk]
            order.status, order.total, order.currency = (
                status,
                round_money(total, currency),
                currency,
            )
        for order_id, reason, note in (
            OrderHold.objects.filter(order_id__in=chunk)
            .order_by("pk")
            .values_list("order_id", "reason", "note")
        ):
            label = HoldReason(reason).label if reason in HoldReason.values else reason
            captured[order_id].holds.append(f"{label}: {note}" if note else str(label))


def orders_csv_parse(
    *,
    channel: Channel,
    data: bytes,
    actor: str = "csv preview",
    progress: Progress | None = None,
    chunk_size: int = LOOKUP_CHUNK,
) -> CsvPreview:
    """Read and check a CSV file of orders for `channel` exactly as importing it would; writes
    nothing (every new order is captured in a transaction that is rolled back).

    Never raises for a bad file: the problems are in the preview's `errors` and rows.
    """
    preview = _read(channel=channel, data=data)
    candidates = [order for order in preview.orders if order.ok and not order.is_existing]
    if preview.errors or not candidates:
        return preview
    with transaction.atomic():
        captured: dict[int, CsvOrder] = {}
        for order, stored, created in _capture_all(
            candidates, preview=preview, actor=actor, progress=progress, chunk_size=chunk_size
        ):
            if created:
                captured[stored.pk] = order
            else:  # imported meanwhile by someone else
                order.existing_id, order.existing_number = stored.pk, stored.number or ""
        _outcomes(captured)
        transaction.set_rollback(True)
    return preview


def _refusal(preview: CsvPreview) -> ValidationFailed:
    return ValidationFailed(
        "The file has errors; no order was imported.",
        code="csv_import_invalid",
        errors=preview.error_messages(),
    )


def _record_refused(preview: CsvPreview, exc: ValidationFailed) -> None:
    details = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in exc.errors.items())
    ChannelSyncRun.objects.create(
        channel=preview.channel,
        trigger=SyncTrigger.CSV,
        status=SyncStatus.FAILED,
        failed=len(preview.bad_orders),
        finished_at=timezone.now(),
        error=f"{exc.detail} File sha256 {preview.sha256}. {details}"[:5000],
    )


def orders_csv_import(
    *,
    channel: Channel,
    data: bytes,
    actor: str,
    progress: Progress | None = None,
    chunk_size: int = LOOKUP_CHUNK,
) -> ChannelSyncRun:
    """Import every order of a CSV file into `channel` in one transaction; returns the run.

    Orders the channel already has are skipped (counted as unchanged). Raises ValidationFailed
    (any bad row: nothing is imported, `errors` names the rows; a failed run is recorded).
    """
    preview = _read(channel=channel, data=data)
    try:
        if not preview.ok:
            raise _refusal(preview)
        with transaction.atomic():
            run = ChannelSyncRun.objects.create(channel=channel, trigger=SyncTrigger.CSV)
            run.unchanged = sum(1 for order in preview.orders if order.is_existing)
            new = [order for order in preview.orders if not order.is_existing]
            for _, _, created in _capture_all(
                new, preview=preview, actor=actor, progress=progress, chunk_size=chunk_size
            ):
                if created:
                    run.created += 1
                else:
                    run.unchanged += 1
            if not preview.ok:
                raise _refusal(preview)  # rolls back every order captured above
            run.status = SyncStatus.SUCCEEDED
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "finished_at", "created", "unchanged"])
    except ValidationFailed as exc:
        _record_refused(preview, exc)
        raise
    return run


#: The SKUs of the sample file: products of the demo catalogue (inventory.demo), so the sample
#: imports cleanly into the demo.
SAMPLE_SKUS = ("MER-TEE-BLACK-M", "BTL-750-STEEL-750ML")


def orders_csv_sample() -> str:
    """A small example file: two orders, the first with two lines."""
    tee, bottle = SAMPLE_SKUS
    rows: Iterable[dict[str, str]] = (
        {
            "external_id": "WEB-1001",
            "external_number": "#1001",
            "placed_at": "2026-11-20T10:00:00+01:00",
            "currency": "EUR",
            "payment_status": "paid",
            "email": "anna.schmidt@example.com",
            "first_name": "Anna",
            "last_name": "Schmidt",
            "phone": "+49 30 1234567",
            "ship_name": "Anna Schmidt",
            "ship_line1": "Torstraße 1",
            "ship_city": "Berlin",
            "ship_postal_code": "10119",
            "ship_country": "DE",
            "shipping_price": "4.95",
            "total": "53.75",
            "notes": "Leave at the door",
            "sku": tee,
            "quantity": "2",
            "unit_price": "19.95",
        },
        {
            "external_id": "WEB-1001",
            "sku": bottle,
            "quantity": "1",
            "unit_price": "9.90",
            "discount": "1.00",
        },
        {
            "external_id": "WEB-1002",
            "external_number": "#1002",
            "placed_at": "2026-11-20T11:30:00+01:00",
            "currency": "EUR",
            "payment_status": "authorized",
            "email": "jean.dupont@example.com",
            "first_name": "Jean",
            "last_name": "Dupont",
            "ship_line1": "12 rue de la République",
            "ship_city": "Lyon",
            "ship_postal_code": "69002",
            "ship_country": "FR",
            "shipping_price": "0",
            "sku": tee,
            "quantity": "1",
            "unit_price": "19.95",
        },
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
