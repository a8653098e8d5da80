"""CSV order import: reading and checking the file, the exact preview, all-or-nothing and
exactly-once imports, and the admin screen (upload, preview, confirm)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import path, reverse

from channels.admin_csv import csv_import_view, csv_sample_view
from channels.models import ChannelSyncRun
from channels.services import csv_import
from channels.services.csv_import import (
    COLUMNS,
    orders_csv_import,
    orders_csv_parse,
    orders_csv_sample,
)
from fulfilment.models import Shipment
from inventory import services as stock
from oms.errors import ValidationFailed
from oms.roles import MANAGER, WAREHOUSE
from orders.models import Customer, Order
from tests.factories import ChannelFactory, LocationFactory, SkuFactory, UserFactory
from tests.outbox import run_outbox

# The screens as channels/admin.py wires them (ChannelAdmin.get_urls), ahead of the admin's own
# catch-all "<object_id>/" redirect; this module is the URLconf of its tests.
urlpatterns = [
    path(
        "admin/inventory/channel/<int:channel_id>/import-csv/",
        admin.site.admin_view(csv_import_view),
    ),
    path("admin/inventory/channel/import-csv/sample.csv", admin.site.admin_view(csv_sample_view)),
    path("admin/", admin.site.urls),
]
pytestmark = pytest.mark.urls(__name__)

SAMPLE = "/admin/inventory/channel/import-csv/sample.csv"

ORDER_DEFAULTS = {
    "currency": "EUR",
    "payment_status": "paid",
    "email": "anna@example.com",
    "first_name": "Anna",
    "last_name": "Schmidt",
    "ship_line1": "Torstraße 1",
    "ship_city": "Berlin",
    "ship_postal_code": "10119",
    "ship_country": "DE",
    "shipping_price": "4.95",
}


def order_rows(
    external_id: str, lines: list[tuple[str, Any, str]] | None = None, **fields: str
) -> list[dict[str, str]]:
    """The rows of one order: order columns on the first row only, one row per line."""
    rows = []
    for index, (sku, quantity, price) in enumerate(lines or [("TEE-1", 1, "19.95")]):
        row = {"external_id": external_id, "sku": sku, "quantity": str(quantity)}
        row["unit_price"] = price
        if index == 0:
            row.update({**ORDER_DEFAULTS, **fields})
        rows.append(row)
    return rows


def csv_bytes(
    rows: list[dict[str, str]],
    *,
    columns: tuple[str, ...] = COLUMNS,
    delimiter: str = ",",
    bom: bool = False,
) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=columns, restval="", extrasaction="ignore", delimiter=delimiter
    )
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def good_file(count: int = 2, start: int = 1) -> bytes:
    rows: list[dict[str, str]] = []
    for number in range(start, start + count):
        rows += order_rows(f"W-{number}", [("TEE-1", 1, "19.95"), ("MUG-1", 2, "9.90")])
    return csv_bytes(rows)


def row_errors(preview) -> dict[int, list[str]]:
    return {row.number: row.error_texts() for row in preview.rows if row.errors}


@pytest.fixture
def shop(db):
    """A channel selling from a Berlin warehouse that stocks TEE-1 and MUG-1."""
    wh = LocationFactory(code="WH")
    channel = ChannelFactory(code="web", currency="EUR", locations=[wh])
    for code in ("TEE-1", "MUG-1"):
        sku = SkuFactory(code=code)
        stock.stock_adjust(sku=sku, location=wh, kind="receipt", quantity=500)
    return channel


@pytest.fixture
def roles(db):
    """Grant the roles their permissions, as a second `migrate` would (see tests/orders)."""
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)


def staff_client(*roles: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles), is_staff=True))
    return client


@pytest.fixture
def manager(roles) -> Client:
    return staff_client(MANAGER)


def import_url(channel) -> str:
    return f"/admin/inventory/channel/{channel.pk}/import-csv/"


def after_job(client: Client, response):
    """The page of the job a POST started, once a worker has run it."""
    assert response.status_code == 302, response.content.decode()[:500]
    assert "?job=" in response["Location"]
    run_outbox("channels.csv_orders_job")
    return client.get(response["Location"])


def upload(client: Client, channel, data: bytes, name: str = "orders.csv"):
    response = client.post(
        import_url(channel),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "_preview": "1"},
    )
    return after_job(client, response)


def confirm(client: Client, channel, token: str):
    return client.post(import_url(channel), {"token": token, "_confirm": "1"})


def confirm_token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "no confirm button"
    return match.group(1)


# --- reading the file -------------------------------------------------------------------------


def test_a_missing_required_column_refuses_the_file(shop):
    columns = tuple(c for c in COLUMNS if c != "quantity")
    preview = orders_csv_parse(channel=shop, data=csv_bytes(order_rows("W-1"), columns=columns))
    assert not preview.ok
    assert preview.errors == [
        f"Row 1: the header lacks the required column quantity (found {', '.join(columns)})."
    ]


def test_bad_values_are_errors_of_their_row_and_column(shop):
    rows = [
        *order_rows("W-1", [("TEE-1", "two", "19.95"), ("MUG-1", 0, "9.90")]),
        *order_rows("W-2", currency="EURO"),
        *order_rows("W-3", payment_status="settled"),
        *order_rows("W-4", placed_at="yesterday", ship_country="DEU"),
        *order_rows("W-5", [("TEE-1", 1, "ten")]),
    ]
    preview = orders_csv_parse(channel=shop, data=csv_bytes(rows))
    assert not preview.ok
    errors = row_errors(preview)
    assert errors[2] == ["quantity: 'two' is not a whole number above 0."]
    assert errors[3] == ["quantity: '0' is not a whole number above 0."]
    assert errors[4] == ["currency: 'EURO' is not an ISO 4217 code."]
    assert errors[5][0].startswith("payment_status: 'settled' is not a payment status: use one")
    assert errors[6] == [
        "placed_at: 'yesterday' is not an ISO 8601 date and time, e.g. 2026-11-20T10:00:00+01:00.",
        "ship_country: 'DEU' is not a two-letter ISO country code such as DE.",
    ]
    assert errors[7] == ["unit_price: 'ten' is not an amount: write it like 19.95."]
    assert [o.state for o in preview.orders] == ["error"] * 5
    assert preview.error_messages()["row 2"] == errors[2]


def test_order_columns_must_agree_across_the_rows_of_an_order(shop):
    rows = order_rows("W-1", [("TEE-1", 1, "19.95"), ("MUG-1", 1, "9.90"), ("TEE-1", 1, "1")])
    rows[1]["currency"] = "eur"  # the same, in another case: fine
    rows[1]["ship_city"] = "Berlin"  # repeated: fine
    rows[2]["ship_city"] = "Hamburg"
    preview = orders_csv_parse(channel=shop, data=csv_bytes(rows))
    assert row_errors(preview) == {
        4: [
            "ship_city: 'Hamburg' differs from 'Berlin' on row 2 of the same order: an order's "
            "columns must agree."
        ]
    }


def test_rows_of_one_order_are_grouped_in_file_order_even_apart(shop):
    first, second = order_rows("W-1", [("TEE-1", 1, "19.95"), ("MUG-1", 3, "9.90")])
    rows = [first, *order_rows("W-2"), second]
    preview = orders_csv_parse(channel=shop, data=csv_bytes(rows))
    assert preview.ok
    assert [(o.external_id, [r.number for r in o.rows]) for o in preview.orders] == [
        ("W-1", [2, 4]),
        ("W-2", [3]),
    ]


def test_a_bom_semicolons_and_decimal_commas_are_read(shop):
    rows = order_rows("W-1", [("TEE-1", 2, "19,95")], shipping_price="4,95", total="44,85")
    data = csv_bytes(rows, delimiter=";", bom=True)
    assert data.startswith(b"\xef\xbb\xbf")
    preview = orders_csv_parse(channel=shop, data=data)
    assert preview.ok, preview.error_messages()
    assert preview.delimiter == ";"
    [order] = preview.new_orders
    assert order.total == Decimal("44.85")
    assert order.holds == []  # the channel total agrees: no totals_mismatch hold


def test_an_empty_currency_is_the_channel_s(shop):
    preview = orders_csv_parse(channel=shop, data=csv_bytes(order_rows("W-1", currency="")))
    assert preview.ok
    assert preview.orders[0].currency == "EUR"


def test_not_utf8_empty_too_many_rows_and_unknown_columns(shop, monkeypatch):
    assert (
        orders_csv_parse(channel=shop, data="é".encode("latin-1"))
        .errors[0]
        .startswith("The file is not UTF-8 text (byte 1)")
    )
    assert orders_csv_parse(channel=shop, data=b"").errors == ["The file is empty."]
    unclosed = csv_bytes(order_rows("W-1")) + b'W-2,"no end\r\n'
    assert orders_csv_parse(channel=shop, data=unclosed).errors == [
        "Row 3: the file is not valid CSV (unexpected end of data)."
    ]
    header_only = csv_bytes([])
    assert orders_csv_parse(channel=shop, data=header_only).errors == [
        "The file has a header but no rows."
    ]
    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    preview = orders_csv_parse(channel=shop, data=good_file(2))  # 4 rows
    assert preview.errors == ["The file has more than 3 rows: import at most 3 at a time."]
    monkeypatch.setattr(csv_import, "MAX_BYTES", 10)
    assert "larger than" in orders_csv_parse(channel=shop, data=good_file(1)).errors[0]
    monkeypatch.undo()
    data = csv_bytes(order_rows("W-1"), columns=(*COLUMNS, "gift_wrap"))
    preview = orders_csv_parse(channel=shop, data=data)
    assert preview.ok
    assert preview.ignored_columns == ["gift_wrap"]


# --- the exact preview ------------------------------------------------------------------------


def test_the_preview_captures_in_a_rolled_back_transaction(shop):
    rows = [
        *order_rows("W-1", [("TEE-1", 2, "19.95"), ("MUG-1", 1, "9.90")]),
        *order_rows("W-2", [("NOPE-9", 1, "5.00")]),
        *order_rows("W-3", payment_status="pending"),
    ]
    preview = orders_csv_parse(channel=shop, data=csv_bytes(rows))
    assert preview.ok
    assert Order.objects.count() == 0
    assert Customer.objects.count() == 0
    assert ChannelSyncRun.objects.count() == 0
    first, unknown, pending = preview.orders
    assert (first.state, first.status, first.total) == ("new", "allocated", Decimal("54.75"))
    assert unknown.holds == ["Unknown SKU: Unknown SKU codes: NOPE-9"]
    assert pending.holds == ["Payment pending: Payment status is pending."]


def test_capture_errors_are_mapped_to_the_rows_of_the_file(shop):
    rows = [
        *order_rows("W-1"),
        *order_rows("W-2", [("TEE-1", 1, "19.95"), ("MUG-1", 1, "9.999")]),
        *order_rows("W-3", shipping_price="-1"),
    ]
    preview = orders_csv_parse(channel=shop, data=csv_bytes(rows))
    assert row_errors(preview) == {
        4: ["unit_price: At most 2 decimal places in this currency."],
        5: ["shipping_price: Amounts are never negative."],
    }
    assert [o.state for o in preview.orders] == ["new", "error", "error"]
    assert Order.objects.count() == 0


def test_orders_already_imported_are_skipped_not_errors(shop):
    orders_csv_import(channel=shop, data=good_file(2), actor="anna")
    preview = orders_csv_parse(channel=shop, data=good_file(3))
    assert preview.ok
    assert [o.state for o in preview.orders] == ["existing", "existing", "new"]
    known = Order.objects.get(external_id="W-1")
    assert preview.orders[0].existing_id == known.pk
    assert preview.orders[0].existing_number == known.number


# --- importing --------------------------------------------------------------------------------


def test_a_good_file_imports_routed_orders_and_records_the_run(shop):
    run = orders_csv_import(channel=shop, data=good_file(2), actor="anna")
    assert (run.trigger, run.status, run.created, run.unchanged, run.failed) == (
        "csv",
        "succeeded",
        2,
        0,
        0,
    )
    assert run.finished_at is not None
    orders = list(Order.objects.order_by("external_id").prefetch_related("lines"))
    assert [o.external_id for o in orders] == ["W-1", "W-2"]
    first = orders[0]
    assert (first.status, first.is_on_hold, first.total) == ("allocated", False, Decimal("44.70"))
    assert [(ln.sku_code, ln.quantity) for ln in first.lines.order_by("line_number")] == [
        ("TEE-1", 1),
        ("MUG-1", 2),
    ]
    assert first.shipping_address["name"] == "Anna Schmidt"  # from first and last name
    assert first.raw_payload["source"] == "csv"
    assert [r["row"] for r in first.raw_payload["rows"]] == [2, 3]
    assert Shipment.objects.filter(order__in=orders).count() == 2


def test_a_file_whose_third_order_is_bad_imports_none(shop):
    rows = [
        *order_rows("W-1"),
        *order_rows("W-2"),
        *order_rows("W-3", [("TEE-1", 1, "19.999")]),  # passes the reading, refused by capture
        *order_rows("W-4"),
    ]
    with pytest.raises(ValidationFailed) as caught:
        orders_csv_import(channel=shop, data=csv_bytes(rows), actor="anna")
    assert caught.value.errors == {
        "row 4": ["unit_price: At most 2 decimal places in this currency."]
    }
    assert Order.objects.count() == 0
    assert Shipment.objects.count() == 0
    [run] = ChannelSyncRun.objects.all()  # the refusal is recorded, after the rollback
    assert (run.trigger, run.status, run.created, run.failed) == ("csv", "failed", 0, 1)
    assert "row 4: unit_price" in run.error


def test_a_file_with_a_row_error_is_refused_before_capturing(shop):
    rows = [*order_rows("W-1"), *order_rows("W-2", payment_status="")]
    with pytest.raises(ValidationFailed) as caught:
        orders_csv_import(channel=shop, data=csv_bytes(rows), actor="anna")
    assert list(caught.value.errors) == ["row 3"]
    assert Order.objects.count() == 0


def test_importing_the_same_file_twice_creates_nothing_the_second_time(shop):
    data = good_file(3)
    first = orders_csv_import(channel=shop, data=data, actor="anna")
    second = orders_csv_import(channel=shop, data=data, actor="anna")
    assert (first.created, first.unchanged) == (3, 0)
    assert (second.created, second.unchanged, second.status) == (0, 3, "succeeded")
    assert Order.objects.count() == 3
    third = orders_csv_import(channel=shop, data=good_file(4), actor="anna")
    assert (third.created, third.unchanged) == (1, 3)


def test_the_sample_file_imports_cleanly(shop):
    from inventory.demo import demo_skus

    # Its SKUs are products of the demo catalogue: the sample imports into the demo as it is.
    assert set(csv_import.SAMPLE_SKUS) <= {row["code"] for row in demo_skus()}
    wh = shop.locations.get()
    for code in csv_import.SAMPLE_SKUS:
        stock.stock_adjust(sku=SkuFactory(code=code), location=wh, kind="receipt", quantity=5)
    preview = orders_csv_parse(channel=shop, data=orders_csv_sample().encode())
    assert preview.ok, preview.error_messages()
    assert [(o.external_id, len(o.rows), o.holds) for o in preview.orders] == [
        ("WEB-1001", 2, []),
        ("WEB-1002", 1, []),
    ]


# --- the admin screen -------------------------------------------------------------------------


def test_only_staff_who_may_add_orders_use_the_screen(shop, roles):
    assert staff_client(WAREHOUSE).get(import_url(shop)).status_code == 403
    forbidden = staff_client(WAREHOUSE).post(
        import_url(shop), {"file": SimpleUploadedFile("o.csv", good_file(1)), "_preview": "1"}
    )
    assert forbidden.status_code == 403
    assert Client().get(import_url(shop)).status_code == 302  # to the login page
    page = staff_client(MANAGER).get(import_url(shop))
    assert page.status_code == 200
    text = page.content.decode()
    assert SAMPLE in text
    assert "payment_status" in text
    assert 'type="file"' in text
    sample = staff_client(MANAGER).get(SAMPLE)
    assert sample["Content-Type"].startswith("text/csv")
    assert sample.content.decode().splitlines()[0] == ",".join(COLUMNS)
    assert (
        staff_client(MANAGER).get("/admin/inventory/channel/999999/import-csv/").status_code == 404
    )


def test_preview_shows_errors_and_offers_no_import(shop, manager):
    rows = [*order_rows("W-1"), *order_rows("W-2", [("TEE-1", "x", "19.95")])]
    response = upload(manager, shop, csv_bytes(rows))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Row 3, quantity: &#x27;x&#x27; is not a whole number above 0." in text
    assert 'class="row-error"' in text
    assert "cell-error" in text
    assert 'name="_confirm"' not in text
    assert Order.objects.count() == 0


def test_preview_then_confirm_imports_exactly_what_was_previewed(shop, manager):
    response = upload(manager, shop, good_file(2), name="monday.csv")
    text = response.content.decode()
    assert response.status_code == 200
    assert "Preview of monday.csv" in text
    assert 'value="Import 2 orders"' in text
    assert "New</span>, total 44.70 EUR, will be allocated" in text
    assert Order.objects.count() == 0
    token = confirm_token(response)

    started = confirm(manager, shop, token)
    assert Order.objects.count() == 0  # queued: a worker imports it
    done = after_job(manager, started)
    text = " ".join(done.content.decode().split())
    run = ChannelSyncRun.objects.get(status="succeeded")
    assert "Imported 2 new orders from monday.csv into web." in text
    assert f"?channel__id__exact={shop.pk}" in text
    assert f"#{run.pk}" in text
    assert Order.objects.count() == 2

    # The same preview confirmed again: the import runs again and creates nothing.
    again = after_job(manager, confirm(manager, shop, token))
    assert "Imported 0 new orders" in " ".join(again.content.decode().split())
    assert Order.objects.count() == 2


def test_a_confirm_never_imports_another_file_than_the_one_previewed(shop, manager):
    from django.core import signing

    from oms.models import BackgroundJob

    first = confirm_token(upload(manager, shop, good_file(1, start=1)))
    second = upload(manager, shop, good_file(1, start=2))  # another tab, another file
    forged = confirm(manager, shop, "x" + first)
    assert forged.status_code == 400
    assert "not valid" in forged.content.decode()
    # A token of the first preview with the second file's hash (or another's preview).
    signed = signing.loads(first, salt="channels.admin_csv.import")
    other = BackgroundJob.objects.exclude(pk=signed["job"]).get()
    mixed = signing.dumps(
        {**signed, "sha256": other.result["sha256"]}, salt="channels.admin_csv.import"
    )
    refused = confirm(manager, shop, mixed)
    assert refused.status_code == 400
    assert "cannot be imported" in refused.content.decode()
    stranger = staff_client(MANAGER)
    assert confirm(stranger, shop, first).status_code == 400
    run_outbox()
    assert Order.objects.count() == 0
    after_job(manager, confirm(manager, shop, confirm_token(second)))
    assert list(Order.objects.values_list("external_id", flat=True)) == ["W-2"]
    # A job is its starter's alone.
    assert stranger.get(f"{import_url(shop)}?job={other.pk}").status_code == 404


def test_an_import_refused_at_confirm_shows_the_errors(shop, manager, monkeypatch):
    token = confirm_token(upload(manager, shop, good_file(1)))
    monkeypatch.setattr(csv_import, "EXTERNAL_ID_MAX", 2)  # the rules changed since the preview
    response = after_job(manager, confirm(manager, shop, token))
    text = response.content.decode()
    assert "The file has errors; no order was imported." in text
    assert "Row 2, external_id: At most 2 characters." in text
    assert Order.objects.count() == 0


def statements(shop, count: int, start: int) -> list[str]:
    """The statements of importing a file of `count` new orders, all of them routed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.services.capture import channel_by_code

    data = good_file(count, start=start)
    channel_by_code(shop.code)  # outside a transaction: the reference data is current again
    with CaptureQueriesContext(connection) as ctx:
        orders_csv_import(channel=shop, data=data, actor="test")
    routed = Order.objects.filter(external_id__startswith="W-", status="allocated").count()
    assert routed == Order.objects.count()
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.django_db(transaction=True)  # reference data is cached outside a test's transaction
def test_an_import_costs_the_same_statements_whatever_its_size(shop):
    # Capture is batched (orders.services.capture_batch) and routing too: a file's orders cost
    # a constant number of statements (about 50 each one order at a time).
    from django.db import connection

    statements(shop, 2, 1)  # warms the reference data
    # SQLite's INSERTs are cut at 999 parameters: its files stay below that.
    small, large = (10, 40) if connection.vendor == "postgresql" else (5, 20)
    counted = {n: statements(shop, n, start) for n, start in ((small, 100), (large, 200))}
    listing = "\n".join(f"{i}. {sql[:200]}" for i, sql in enumerate(counted[large], 1))
    assert len(counted[large]) == len(counted[small]), listing
    assert len(counted[large]) <= 40, listing


def test_a_batched_import_stores_what_one_order_at_a_time_stores(shop, monkeypatch):
    def snapshot(prefix: str) -> list[Any]:
        return [
            (
                o.status,
                o.total,
                o.email,
                o.customer_id is not None,
                o.search_text.replace(o.number, "N").replace(o.external_id.lower(), "x"),
                sorted((h.reason, h.note) for h in o.holds.all()),
                [(ln.sku_code, ln.quantity, ln.quantity_allocated) for ln in o.lines.all()],
                [e.kind for e in o.events.order_by("pk")],
                o.raw_payload["rows"],
            )
            for o in Order.objects.filter(external_id__startswith=prefix).order_by("pk")
        ]

    def rows(prefix: str) -> list[dict[str, str]]:
        return [
            *order_rows(f"{prefix}1", [("TEE-1", 1, "19.95"), ("MUG-1", 2, "9.90")]),
            *order_rows(f"{prefix}2", email="bob@example.com", total="1.00"),  # a total mismatch
            *order_rows(f"{prefix}3", payment_status="pending"),
            *order_rows(f"{prefix}4", [("NOPE", 1, "5.00")]),  # an unknown SKU: held
            *order_rows(f"{prefix}5", [("CAP-1", 1, "9.00")]),  # none in stock
        ]

    SkuFactory(code="CAP-1")

    orders_csv_import(channel=shop, data=csv_bytes(rows("B")), actor="test")

    def refuse(**_: Any) -> None:
        raise ValidationFailed("one at a time")

    monkeypatch.setattr(csv_import, "orders_capture_batch", refuse)
    orders_csv_import(channel=shop, data=csv_bytes(rows("S")), actor="test")
    batched, single = snapshot("B"), snapshot("S")
    assert len(batched) == 5
    for n, (b, s) in enumerate(zip(batched, single, strict=True), start=1):
        assert b[:-1] == s[:-1], n
        assert [r["row"] for r in b[-1]] == [r["row"] for r in s[-1]]


def test_the_channel_admin_routes_reach_these_views(shop, manager, settings):
    settings.ROOT_URLCONF = "oms.urls"
    url = reverse("admin:inventory_channel_import_csv", args=[shop.pk])
    assert url == import_url(shop)
    page = manager.get(url)
    assert page.status_code == 200
    assert reverse("admin:inventory_channel_csv_sample") == SAMPLE
    assert SAMPLE in page.content.decode()
    assert manager.get(SAMPLE).status_code == 200
