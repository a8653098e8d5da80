"""The order page's timeline in sentences (orders.admin.timeline): one renderer per event kind,
tested per kind with the data its service writes; amounts in the currency's format, links to
lines, locations, shipments, returns and refunds; no ids, empty fields or raw data; newest
first on the page."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.contrib import admin
from django.utils.html import strip_tags

from oms.roles import CUSTOMER_CARE
from orders.admin.timeline import _BY_KIND, _BY_PREFIX, fallback, renderer_of, timeline
from orders.models import FraudRuleKind, Order, OrderEvent
from tests.orders.test_admin import capture, staff_client, text

ORDERS = "/admin/orders/order/"


@pytest.fixture(autouse=True)
def admin_loaded():
    """The renderers of fulfilment, returns and channels register when their admin loads."""
    admin.autodiscover()


@pytest.fixture
def order(catalogue) -> Order:
    return capture(
        "TL-1",
        lines=[
            {"sku": "TEE-1", "quantity": 2, "unit_price": "19.95"},
            {"sku": "MUG-1", "quantity": 1, "unit_price": "8.00"},
        ],
    )


def say(order: Order, kind: str, data: dict[str, Any]) -> tuple[str, str]:
    """(the sentence as read, its HTML) of one event."""
    event = OrderEvent(order=order, kind=kind, data=data, actor="carla")
    event.save()
    html = str(timeline(order, [event])[0]["sentence"])
    return re.sub(r"\s+", " ", unescape(strip_tags(html))).strip(), html


def ids(order: Order, catalogue: dict[str, Any]) -> dict[str, int]:
    first, second = order.lines.order_by("line_number")
    return {"l1": first.pk, "l2": second.pk, "wh": catalogue["wh"].pk}


# (kind, data with {l1} {l2} {wh} for ids, the sentence ("2 * line 1": a multiplication sign),
# links that must be in it)
CASES: list[tuple[str, dict[str, Any], str, list[str]]] = [
    (
        "captured",
        {"channel": "web", "external_id": "X", "lines": 2, "total": "76.9500", "currency": "EUR"},
        "Order received from web with 2 lines for €76.95.",
        [],
    ),
    (
        "hold_placed",
        {"reason": "payment_pending", "note": "Payment status is pending."},
        "Put on hold (payment pending): Payment status is pending.",
        [],
    ),
    ("hold_released", {"reasons": ["manual"], "note": ""}, "Hold released: manual.", []),
    (
        "status_changed",
        {"from": "pending", "to": "allocated"},
        "Status changed from pending to allocated.",
        [],
    ),
    (
        "payment_status_changed",
        {"before": "pending", "after": "paid"},
        "Payment status changed from pending to paid.",
        [],
    ),
    (
        "lines_cancelled",
        {"reason": "", "lines": [{"line": "{l2}", "quantity": 1}]},
        "Cancelled: 1 * line 2 (MUG-1).",
        ["#lines-1"],
    ),
    (
        "cancelled",
        {"reason": "Changed mind", "lines": [{"line": "{l1}", "quantity": 2}]},
        "Order cancelled: 2 * line 1 (TEE-1). Reason: Changed mind.",
        ["#lines-0"],
    ),
    ("note", {"text": "Called back."}, "Note: Called back.", []),
    (
        "address_changed",
        {"before": {"city": "Berlin", "country": "DE"}, "after": {"city": "Lyon"}},
        "Shipping address changed from Berlin, DE Germany to Lyon.",
        [],
    ),
    (
        "converted",
        {
            "total_base": "85.2000",
            "base_currency": "EUR",
            "rate": "1.0000000000",
            "source": "same currency",
            "date": "2026-10-14",
        },
        "Total in the base currency: €85.20 (same currency).",
        [],
    ),
    (
        "allocated",
        {"allocations": [{"line": "{l1}", "location": "{wh}", "quantity": 2}]},
        "Stock reserved: 2 * line 1 (TEE-1) at WH.",
        ["#lines-0", "/admin/inventory/location/{wh}/change/"],
    ),
    (
        "deallocated",
        {
            "reason": "short pick",
            "allocations": [{"line": "{l1}", "location": "{wh}", "quantity": 1}],
        },
        "Reservation released (short pick): 1 * line 1 (TEE-1) at WH.",
        ["/admin/inventory/location/{wh}/change/"],
    ),
    (
        "shipped",
        {"shipment": 7, "lines": [{"line": "{l1}", "location": "{wh}", "quantity": 2}]},
        "Shipped: 2 * line 1 (TEE-1) at WH.",
        ["#lines-0"],
    ),
    (
        "lines_changed",
        {"added": [{"sku": "CAP-1", "quantity": 1}], "removed": [5], "changed": [], "total": "50"},
        "Lines edited: added 1 * CAP-1 and removed 1 line; the total is now €50.00.",
        [],
    ),
    (
        "routing_failed",
        {"trigger": "captured", "error": "TransientError: db gone"},
        "Routing failed and will be retried (TransientError: db gone).",
        [],
    ),
    ("sold_in_store", {"location": "WH", "not_in_ledger": []}, "Sold in store at WH.", []),
    (
        "fulfilled_by_channel",
        {},
        "Fulfilled by the channel: nothing to ship from our locations.",
        [],
    ),
    (
        "exchange_order_created",
        {"return_id": 3, "number": "100001-R1", "exchange_order": "100009", "charge": "5.00"},
        "Exchange order 100009 created for return 100001-R1; the shopper pays €5.00 more.",
        [],
    ),
    # fulfilment
    (
        "routed",
        {"outcome": "single", "reason": "nearest: WH (3 km)", "decision": 12},
        "Routed to one location: nearest: WH (3 km) (why).",
        ["/admin/fulfilment/routingdecision/12/change/"],
    ),
    (
        "shipment_picking",
        {"from": "pending", "location": "WH", "shipment": 104},
        "Shipment SH-104 at WH picked.",
        ["/admin/fulfilment/shipment/104/change/", "/admin/inventory/location/{wh}/change/"],
    ),
    (
        "shipment_shipped",
        {
            "from": "packed",
            "carrier": "dhl",
            "location": "WH",
            "shipment": 5,
            "tracking_number": "JJD01",
        },
        "Shipment SH-5 at WH shipped (tracking dhl JJD01).",
        ["/admin/fulfilment/shipment/5/change/"],
    ),
    (
        "shipment_cancelled",
        {"from": "pending", "reason": "order cancelled", "location": "WH", "shipment": 8},
        "Shipment SH-8 at WH cancelled (order cancelled).",
        [],
    ),
    (
        "short_pick",
        {"shipment": 9, "lines": [{"line": "{l2}", "missing": 1}]},
        "Short pick on shipment SH-9: 1 * line 2 (MUG-1) missing; the rest is routed again.",
        ["#lines-1"],
    ),
    (
        "label_created",
        {"shipment": 5, "parcel": 3, "carrier": "dhl", "tracking_number": "JJD01"},
        "Label bought from dhl for shipment SH-5, tracking JJD01.",
        [],
    ),
    (
        "label_failed",
        {"shipment": 5, "carrier": "dhl", "message": "Address refused."},
        "Label not bought for shipment SH-5: Address refused.",
        [],
    ),
    (
        "tracking",
        {
            "shipment": 5,
            "status": "delivered",
            "description": "Delivered to the recipient",
            "place": "Amsterdam",
            "occurred_at": "2026-12-03T05:29:42+00:00",
            "source": "demo",
        },
        "Carrier: Delivered to the recipient in Amsterdam (shipment SH-5).",
        [],
    ),
    (
        "partner_send_failed",
        {"shipment": 5, "location": "WH", "message": "HTTP 500"},
        "Shipment SH-5 not sent to WH: HTTP 500.",
        [],
    ),
    (
        "email_sent",
        {"email": "shipped", "shipment": 5, "to": "ada@example.com"},
        "E-mail “shipped” sent to ada@example.com about shipment SH-5.",
        [],
    ),
    # returns
    (
        "return_requested",
        {
            "return_id": 4,
            "number": "100001-R1",
            "source": "shopper",
            "lines": [{"order_line": "{l1}", "quantity": 1, "reason": "changed_mind"}],
        },
        "Return 100001-R1 requested by the shopper: 1 * line 1 (TEE-1).",
        ["/admin/returns/returnrequest/4/change/", "#lines-0"],
    ),
    (
        "return_received",
        {
            "return_id": 4,
            "number": "100001-R1",
            "location": "WH",
            "before": "authorised",
            "after": "received",
            "lines": [
                {
                    "order_line": "{l1}",
                    "quantity": 1,
                    "condition": "damaged",
                    "disposition": "quarantine",
                }
            ],
        },
        "Return 100001-R1 received at WH: 1 * line 1 (TEE-1) (damaged, quarantine).",
        ["/admin/returns/returnrequest/4/change/"],
    ),
    (
        "return_rejected",
        {"return_id": 4, "number": "100001-R1", "after": "rejected", "reason": "Used."},
        "Return 100001-R1 rejected: Used.",
        [],
    ),
    (
        "refund_requested",
        {"refund_id": 6, "return_id": 4, "amount": "19.9500", "currency": "EUR", "reason": ""},
        "Refund of €19.95 requested for a return.",
        ["/admin/returns/refund/6/change/"],
    ),
    (
        "refund_succeeded",
        {
            "refund_id": 6,
            "amount": "19.95",
            "currency": "EUR",
            "provider": "stripe",
            "reference": "re_1",
            "failure": "",
        },
        "Refund of €19.95 paid back by stripe (reference re_1).",
        ["/admin/returns/refund/6/change/"],
    ),
    (
        "refund_failed",
        {"refund_id": 6, "amount": "5", "currency": "JPY", "failure": "Card expired."},
        "Refund of ¥5 failed: Card expired.",
        [],
    ),
    (
        "payment_capture_succeeded",
        {"payment_id": 2, "amount": "39.9", "currency": "EUR", "reference": "ch_1", "failure": ""},
        "Capture of €39.90 succeeded (reference ch_1).",
        [],
    ),
    # channels
    (
        "channel_updated",
        {"not_applied": ["notes", "billing_address"]},
        "The channel changed the shopper's note and the billing address; not applied here "
        "(the order as the OMS keeps it stands).",
        [],
    ),
    (
        "channel_updated",
        {},
        "The channel sent a new version of the order; nothing applied.",
        [],
    ),
    (
        "channel_fulfilment_pushed",
        {
            "reference": "shipment-5",
            "external_id": "",
            "error": "",
            "shipment": 5,
            "carrier": "dhl",
            "tracking_number": "JJD01",
        },
        "Fulfilment sent to the channel (tracking dhl JJD01).",
        [],
    ),
    (
        "channel_refund_failed",
        {
            "reference": "r-1",
            "external_id": "",
            "error": "HTTP 422",
            "amount": "3.5",
            "currency": "EUR",
        },
        "Refund not sent to the channel (€3.50): HTTP 422.",
        [],
    ),
]


def fill(value: Any, known: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return known[value[1:-1]]
    if isinstance(value, dict):
        return {k: fill(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, known) for v in value]
    return value


@pytest.mark.parametrize(("kind", "data", "expected", "links"), CASES, ids=lambda c: str(c)[:30])
def test_each_kind_reads_as_a_sentence(order, catalogue, kind, data, expected, links):
    known = ids(order, catalogue)
    said, html = say(order, kind, fill(data, known))
    assert said == expected.replace(" * ", " \N{MULTIPLICATION SIGN} ")
    assert renderer_of(kind) is not fallback  # a renderer of its own, not the fallback
    for link in links:
        assert f'href="{link.format(**known)}"' in html, link
    for internal in ("{", "None", ": ;", "[", "_id"):
        assert internal not in said, internal


def test_an_unknown_kind_falls_back_to_its_name_and_plain_facts(order):
    said, _ = say(
        order,
        "gift_wrapped",
        {
            "shipment": 5,
            "refund_id": 3,
            "error": "",
            "note": None,
            "carrier": "dhl",
            "items": [{"line": 510}],
            "detail": {"raw": 1},
        },
    )
    # The name, then only the plain facts: no ids, no empty fields, no raw dicts.
    assert said == "Gift wrapped (carrier: dhl and items: 1 item)."
    assert "510" not in said
    assert "raw" not in said


def test_a_renderer_that_meets_odd_data_writes_the_kind_not_a_500(order):
    assert say(order, "captured", {"currency": "EUR"})[0] == "Captured."  # no total
    assert say(order, "refund_succeeded", {"amount": "n/a"})[0].startswith("Refund of n/a")


def test_every_kind_the_services_write_has_a_renderer():
    """The kinds found in the services (kind="…" and kind=f"prefix_…") are all rendered."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    kinds: set[str] = set()
    for app in ("orders", "fulfilment", "returns", "channels"):
        for path in (root / app).rglob("*.py"):
            source = path.read_text()
            if "order_event" not in source and "events_add" not in source:
                continue
            kinds |= set(re.findall(r'kind="([a-z_]+)"', source))
            kinds |= {f"{p}x" for p in re.findall(r'kind=f"([a-z]+_)\{', source)}
            kinds |= set(re.findall(r'\("([a-z_]+)", (?:payload\.)?actor', source))
            kinds |= set(re.findall(r'\(order, "([a-z_]+)", ', source))
    kinds |= {"email_sent", "routed", "hold_placed"}
    kinds -= set(FraudRuleKind.values)  # kind="value_over" in capture.py is a fraud rule's
    unrendered = sorted(k for k in kinds if renderer_of(k) is fallback)
    assert kinds
    assert not unrendered, unrendered
    assert len(_BY_KIND) + len(_BY_PREFIX) >= 30


def test_the_order_page_shows_the_timeline_newest_first_with_links(order, catalogue):
    from orders import services

    services.order_hold(order=order.pk, reason="manual", note="Wait for the customer.")
    services.order_note_add(order=order, text="Customer called about the colour.", actor="carla")
    care = staff_client(CUSTOMER_CARE, username="carla2")
    page = text(care.get(f"{ORDERS}{order.pk}/change/"))
    timeline_html = page[page.index('id="order-timeline-heading"') :]
    assert timeline_html.index("Customer called") < timeline_html.index("Put on hold (manual)")
    assert timeline_html.index("Put on hold (manual)") < timeline_html.index("Order received")
    assert "by carla" in timeline_html
    assert "€" in timeline_html  # the total in the currency's format
    for internal in ("line: ", "'line'", "return_id", "None", "error: ;"):
        assert internal not in strip_tags(timeline_html), internal


def test_older_events_fold_away_and_the_page_stays_short(order):
    from orders import services

    for n in range(12):
        services.order_note_add(order=order, text=f"Note number {n}.", actor="carla")
    care = staff_client(CUSTOMER_CARE, username="carla3")
    page = text(care.get(f"{ORDERS}{order.pk}/change/"))
    timeline_html = page[page.index('id="order-timeline-heading"') :]
    shown, folded = timeline_html.split("<details>", 1)
    assert shown.count("<li ") == 8
    assert "Note number 11." in shown
    assert "older events</summary>" in folded
    assert "Order received" in folded
