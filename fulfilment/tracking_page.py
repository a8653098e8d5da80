"""The shopper's public tracking page, `/track/<token>/`: no login, the order's unguessable
`tracking_token` is the key.

Invariants:
- an unknown token and a malformed one get the same 404 page, which says nothing about which
  tokens exist;
- the page shows what the shopper may see: the order's number and date, its lines (name and
  quantity), each shipment's carrier, tracking number and link, expected delivery date and the
  carrier's events; never prices, notes, holds, attention flags, locations, the e-mail or the
  phone of the customer;
- cancelled shipments (routing's and the warehouse's internal changes) are not shown;
- it is built in a constant number of queries (6, one of them for the returns box) whatever the
  number of lines, shipments and events;
- it carries the channel's merchant name and, when set, its https logo: the Content-Security-
  Policy then allows images from that one host only (the OMS itself never fetches it);
- it is written in the order's language (orders.language.shopper_language), its dates in that
  language's format (oms.i18n); the 404 page, which knows no order, is English;
- both answers are private (`Cache-Control: private`), not indexed (`X-Robots-Tag: noindex`),
  and send no Referer with the token to the carriers' sites.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.http import require_safe

from fulfilment.models import Shipment, ShipmentLine, TrackingEvent, TrackingStatus
from fulfilment.states import ShipmentStatus
from oms.i18n import format_day
from orders.language import shopper_language
from orders.models import Order, OrderLine
from orders.states import OrderStatus

#: Tokens are secrets.token_urlsafe(24) (32 characters); anything else is not looked up.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: Only inline styles; nothing is loaded from anywhere (the returns feature may add a form).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: A logo's host as a CSP source may name (no IPv6 literal, no user info).
LOGO_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
CARRIER_NAMES = {
    "dhl": "DHL",
    "dpd": "DPD",
    "gls": "GLS",
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "hermes": "Hermes",
    "evri": "Evri",
    "royalmail": "Royal Mail",
    "royal_mail": "Royal Mail",
    "postnl": "PostNL",
    "colissimo": "Colissimo",
    "inhouse": gettext_noop("Our own delivery"),
    "in_house": gettext_noop("Our own delivery"),
    "manual": gettext_noop("Courier"),
}

# (css class, label, sentence) per tracking status, for shipped shipments.
TRACKING_TEXT: dict[str, tuple[str, str, str]] = {
    TrackingStatus.PRE_TRANSIT: (
        "shipped",
        gettext_noop("Shipped"),
        gettext_noop("The parcel is ready and waits for the carrier's first scan."),
    ),
    TrackingStatus.IN_TRANSIT: ("transit", "On its way", "The carrier is bringing it to you."),
    TrackingStatus.OUT_FOR_DELIVERY: (
        "out",
        gettext_noop("Out for delivery"),
        gettext_noop("The parcel is on the delivery vehicle today."),
    ),
    TrackingStatus.DELIVERED: ("delivered", "Delivered", "The carrier delivered it."),
    TrackingStatus.EXCEPTION: (
        "problem",
        gettext_noop("Delivery problem"),
        gettext_noop(
            "The carrier reported a problem. We are looking into it and will contact you if needed."
        ),
    ),
    TrackingStatus.RETURNED: (
        "problem",
        gettext_noop("Returned to sender"),
        gettext_noop("The carrier is sending the parcel back to us. We will contact you."),
    ),
}
STEPS = (
    gettext_noop("Ordered"),
    gettext_noop("Shipped"),
    gettext_noop("Out for delivery"),
    gettext_noop("Delivered"),
)
#: The carrier's event statuses as the shopper reads them (TrackingStatus's labels).
EVENT_LABELS = {
    TrackingStatus.PRE_TRANSIT: gettext_noop("Label created"),
    TrackingStatus.IN_TRANSIT: gettext_noop("In transit"),
    TrackingStatus.OUT_FOR_DELIVERY: gettext_noop("Out for delivery"),
    TrackingStatus.DELIVERED: gettext_noop("Delivered"),
    TrackingStatus.EXCEPTION: gettext_noop("Exception"),
    TrackingStatus.RETURNED: gettext_noop("Returned to sender"),
}


@dataclass
class Step:
    label: str
    done: bool
    current: bool


@dataclass
class PageEvent:
    status: str
    label: str
    description: str
    place: str
    occurred_at: dt.datetime
    problem: bool


@dataclass
class PageShipment:
    index: int
    carrier: str
    tracking_number: str
    tracking_url: str
    css: str
    label: str
    sentence: str
    expected_delivery_date: dt.date | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    when_label: str = ""  # the one date the shopper wants: delivered, expected or shipped
    when_text: str = ""
    when_iso: str = ""
    items: list[tuple[str, int]] = field(default_factory=list)
    events: list[PageEvent] = field(default_factory=list)


def day_text(day: dt.date | None, *, today: dt.date | None = None) -> str:
    """ "Today, Thu 26 Nov", "Tomorrow, Fri 27 Nov", "Mon 30 Nov", "Tue, 5 Jan 2027" (in the
    active language: "Morgen, Fr., 27. Nov.")."""
    if day is None:
        return ""
    today = today or timezone.localdate()
    text = format_day(day, "short_weekday" if day.year == today.year else "short_weekday_year")
    if day == today:
        return gettext("Today, {day}").format(day=text)
    if day == today + dt.timedelta(days=1):
        return gettext("Tomorrow, {day}").format(day=text)
    return text


def carrier_name(code: str) -> str:
    if not code:
        return gettext("Carrier")
    known = CARRIER_NAMES.get(code.strip().lower())
    if known:
        return gettext(known)
    words = code.replace("_", " ").replace("-", " ").split()
    return " ".join(w.upper() if len(w) <= 3 else w.capitalize() for w in words)


def tracking_order_get(token: str) -> Order | None:
    """The order of a tracking token with what the page shows, prefetched (5 queries)."""
    if not TOKEN.fullmatch(token or ""):
        return None
    shipments = (
        Shipment.objects.exclude(status=ShipmentStatus.CANCELLED)
        .only(
            "id",
            "order_id",
            "status",
            "carrier",
            "tracking_number",
            "tracking_url",
            "expected_delivery_date",
            "shipped_at",
            "delivered_at",
            "tracking_status",
        )
        .order_by("id")
        .prefetch_related(
            Prefetch(
                "tracking_events",
                queryset=TrackingEvent.objects.only(
                    "id", "shipment_id", "status", "description", "place", "occurred_at"
                ).order_by("-occurred_at", "-id"),
            ),
            Prefetch(
                "lines",
                queryset=ShipmentLine.objects.only(
                    "id", "shipment_id", "order_line_id", "quantity"
                ).order_by("id"),
            ),
        )
    )
    lines = (
        OrderLine.objects.select_related("sku")
        .only(
            "id",
            "order_id",
            "line_number",
            "name",
            "sku_code",
            "quantity",
            "quantity_cancelled",
            "sku__name",
        )
        .order_by("line_number")
    )
    return (
        Order.objects.filter(tracking_token=token)
        .select_related("channel")
        .only(
            "id",
            "number",
            "external_number",
            "status",
            "placed_at",
            "channel__name",
            "channel__merchant_name",
            "channel__logo_url",
            "channel__language",
            "raw_payload",
        )
        .prefetch_related(
            Prefetch("lines", queryset=lines, to_attr="page_lines"),
            Prefetch("shipments", queryset=shipments, to_attr="page_shipments"),
        )
        .first()
    )


def _line_name(line: OrderLine) -> str:
    return line.name or (line.sku.name if line.sku else "") or line.sku_code


def _shipment_text(shipment: Shipment) -> tuple[str, str, str]:
    if shipment.status == ShipmentStatus.DELIVERED:
        css, label, sentence = TRACKING_TEXT[TrackingStatus.DELIVERED]
    elif shipment.status == ShipmentStatus.SHIPPED:
        css, label, sentence = TRACKING_TEXT.get(shipment.tracking_status) or (
            "transit",
            gettext_noop("On its way"),
            gettext_noop("The parcel left our warehouse."),
        )
    else:
        css, label, sentence = (
            "preparing",
            gettext_noop("Being prepared"),
            gettext_noop("We are getting this parcel ready."),
        )
    return css, gettext(label), gettext(sentence)


def _when(shipment: Shipment) -> tuple[str, str, str]:
    if shipment.delivered_at:
        local = timezone.localtime(shipment.delivered_at)
        return gettext("Delivered"), day_text(local.date()), local.isoformat()
    if shipment.expected_delivery_date:
        day = shipment.expected_delivery_date
        return gettext("Expected delivery"), day_text(day), day.isoformat()
    if shipment.shipped_at:
        local = timezone.localtime(shipment.shipped_at)
        return gettext("Shipped"), day_text(local.date()), local.isoformat()
    return "", "", ""


def _page_shipments(order: Order, names: dict[int, str]) -> list[PageShipment]:
    labels = {str(status): gettext(label) for status, label in EVENT_LABELS.items()}
    problems = {TrackingStatus.EXCEPTION, TrackingStatus.RETURNED}
    result = []
    shipments: list[Shipment] = getattr(order, "page_shipments", [])
    for index, shipment in enumerate(shipments, start=1):
        css, label, sentence = _shipment_text(shipment)
        when_label, when_text, when_iso = _when(shipment)
        result.append(
            PageShipment(
                index=index,
                carrier=carrier_name(shipment.carrier) if shipment.carrier else "",
                tracking_number=shipment.tracking_number,
                tracking_url=shipment.tracking_url,
                css=css,
                label=label,
                sentence=sentence,
                expected_delivery_date=shipment.expected_delivery_date,
                shipped_at=shipment.shipped_at,
                delivered_at=shipment.delivered_at,
                when_label=when_label,
                when_text=when_text,
                when_iso=when_iso,
                items=[
                    (names.get(line.order_line_id, ""), line.quantity)
                    for line in shipment.lines.all()
                ],
                events=[
                    PageEvent(
                        status=event.status,
                        label=labels.get(event.status, event.status),
                        description=event.description,
                        place=event.place,
                        occurred_at=event.occurred_at,
                        problem=event.status in problems,
                    )
                    for event in shipment.tracking_events.all()
                ],
            )
        )
    return result


def _headline(order: Order, shipments: list[PageShipment]) -> tuple[str, str, str, int]:
    """(css class, status, sentence, step reached) of the whole order, in English (marked)."""
    if order.status == OrderStatus.CANCELLED:
        return "problem", gettext_noop("Cancelled"), gettext_noop("This order was cancelled."), -1
    css = {s.css for s in shipments}
    if order.status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED) or (
        shipments and css == {"delivered"}
    ):
        return (
            "delivered",
            gettext_noop("Delivered"),
            gettext_noop("Everything in this order was delivered."),
            3,
        )
    if "problem" in css:
        return (
            "problem",
            gettext_noop("Delivery problem"),
            gettext_noop("A carrier reported a problem with a parcel. We are looking into it."),
            1,
        )
    if "out" in css:
        return "out", gettext_noop("Out for delivery"), gettext_noop("A parcel arrives today."), 2
    if order.status == OrderStatus.PARTIALLY_SHIPPED or (
        "preparing" in css and css & {"shipped", "transit", "delivered"}
    ):
        return (
            "transit",
            gettext_noop("Partly shipped"),
            gettext_noop("Part of your order is on its way; the rest follows."),
            1,
        )
    if order.status == OrderStatus.SHIPPED or css & {"shipped", "transit"}:
        return (
            "transit",
            gettext_noop("On its way"),
            gettext_noop("Your order left our warehouse."),
            1,
        )
    return (
        "preparing",
        gettext_noop("Being prepared"),
        gettext_noop("We have your order and are getting it ready."),
        0,
    )


def tracking_context(order: Order) -> dict[str, Any]:
    lines: list[OrderLine] = getattr(order, "page_lines", [])
    names = {line.pk: _line_name(line) for line in lines}
    shipments = _page_shipments(order, names)
    css, status, sentence, reached = _headline(order, shipments)
    status, sentence = gettext(status), gettext(sentence)
    expected = [s.expected_delivery_date for s in shipments if s.expected_delivery_date]
    return {
        **shop_branding(order.channel),
        "order_number": order.number or order.external_number,
        "external_number": (order.external_number if order.external_number != order.number else ""),
        "placed_at": order.placed_at,
        "items": [
            (names[line.pk], line.quantity - line.quantity_cancelled)
            for line in lines
            if line.quantity > line.quantity_cancelled
        ],
        "shipments": shipments,
        "status_css": css,
        "status": status,
        "status_sentence": sentence,
        "steps": [
            Step(label=gettext(label), done=i < reached or reached == 3, current=i == reached)
            for i, label in enumerate(STEPS)
        ]
        if reached >= 0
        else [],
        "expected_delivery_date": max(expected) if expected and reached < 3 else None,
        "expected_text": day_text(max(expected)) if expected and reached < 3 else "",
        "delivered": reached == 3,
        "cancelled": reached < 0,
    }


def logo_source(url: str) -> str:
    """The CSP source ("https://host[:port]") that lets the page show the channel's logo, or ""
    when there is no logo or its host cannot be written as one (the page then shows none)."""
    if not url:
        return ""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    if parts.scheme != "https" or not LOGO_HOST.fullmatch(host):
        return ""
    return f"https://{host}:{port}" if port else f"https://{host}"


def shop_branding(channel: Any) -> dict[str, str]:
    """The header of every shopper page (tracking, returns, subscription): the channel's
    merchant name and its logo when it is an https URL the page may show ("" otherwise)."""
    return {
        "merchant_name": channel.display_name,
        "logo_url": channel.logo_url if logo_source(channel.logo_url) else "",
    }


def shopper_csp(logo_url: str = "") -> str:
    """The shopper pages' Content-Security-Policy, letting images come from the logo's host."""
    source = logo_source(logo_url)
    if not source:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("img-src 'self'", f"img-src 'self' {source}")


def _private(response: HttpResponse, logo_url: str = "") -> HttpResponse:
    patch_cache_control(response, private=True, no_cache=True, max_age=0)
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    response["Referrer-Policy"] = "no-referrer"  # the token never reaches a carrier's site
    response["Content-Security-Policy"] = shopper_csp(logo_url)
    return response


@require_safe
def tracking_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET /track/<token>/: the order's shipments and their tracking, for the shopper."""
    order = tracking_order_get(token)
    if order is None:
        return _private(render(request, "tracking/not_found.html", status=404))
    with translation.override(shopper_language(order=order)):
        context = tracking_context(order)
        response = render(request, "tracking/page.html", context)
    return _private(response, context["logo_url"])
