"""The shopper's e-mails: order confirmed, shipped, delivered, delayed, cancelled.

Invariants:
- an e-mail is written to the outbox with the fact it tells (from the event
  handler), and sent by the task `fulfilment.email_send`, never inside a transaction or a lock;
- each e-mail is sent at most once per (order, kind, shipment) as far as the timeline knows: the
  task records an `email_sent` order event after sending and skips an e-mail already recorded,
  so a replay sends nothing more (a crash between sending and recording may send it twice:
  e-mails are at least once);
- nothing is sent for a channel with `send_emails` off or an order without an e-mail address;
- links in e-mails are absolute, built from OMS_PUBLIC_URL (the shopper's tracking page is
  /track/<order.tracking_token>/); only http(s) carrier links are shown.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django_countries import countries

from fulfilment.events import ShipmentDelivered, ShipmentException, ShipmentShipped
from fulfilment.models import Shipment, TrackingEvent, TrackingStatus
from fulfilment.states import ShipmentStatus
from oms.errors import PermanentError, TransientError, ValidationFailed
from oms.outbox import outbox_enqueue
from orders.events import OrderCancelled, OrderCaptured
from orders.language import shopper_language
from orders.models import Order, OrderEvent
from orders.services import order_event_add, order_get_for_update

log = logging.getLogger(__name__)

EVENT_KIND = "email_sent"


@dataclass(frozen=True)
class EmailKind:
    subject: str  # formatted with the order number, translated when rendered
    per_shipment: bool


KINDS: dict[str, EmailKind] = {
    "confirmed": EmailKind(gettext_noop("Order {number} confirmed"), per_shipment=False),
    "shipped": EmailKind(gettext_noop("Your order {number} is on its way"), per_shipment=True),
    "delivered": EmailKind(
        gettext_noop("Your order {number} has been delivered"), per_shipment=True
    ),
    "exception": EmailKind(gettext_noop("A delay with your order {number}"), per_shipment=True),
    "cancelled": EmailKind(gettext_noop("Order {number} cancelled"), per_shipment=False),
}

LINES_CAPTION = {
    "shipped": gettext_noop("In this parcel"),
    "cancelled": gettext_noop("Cancelled items"),
}


def public_url() -> str:
    """The site's public address (settings.OMS_PUBLIC_URL), without a trailing slash."""
    return str(settings.OMS_PUBLIC_URL).rstrip("/")


def tracking_page_url(order: Order) -> str:
    return f"{public_url()}/track/{order.tracking_token}/"


# --- event handlers (subscribed in FulfilmentConfig.ready) ----------------------------------------


def _enqueue(
    order_id: int, kind: str, shipment_id: int | None = None, *, wanted: bool | None = None
) -> None:
    if wanted is None:
        wanted = (
            Order.objects.filter(pk=order_id, channel__send_emails=True).exclude(email="").exists()
        )
    if not wanted:
        return
    outbox_enqueue("fulfilment.email_send", order_id=order_id, kind=kind, shipment_id=shipment_id)


def email_on_order_captured(event: OrderCaptured) -> None:
    _enqueue(event.order_id, "confirmed", wanted=event.emails)


def email_on_order_cancelled(event: OrderCancelled) -> None:
    if event.full:
        _enqueue(event.order_id, "cancelled")


def email_on_shipment_shipped(event: ShipmentShipped) -> None:
    _enqueue(event.order_id, "shipped", event.shipment_id)


def email_on_shipment_delivered(event: ShipmentDelivered) -> None:
    _enqueue(event.order_id, "delivered", event.shipment_id)


def email_on_shipment_exception(event: ShipmentException) -> None:
    _enqueue(event.order_id, "exception", event.shipment_id)


# --- rendering -----------------------------------------------------------------------------------


def _safe_url(value: str) -> str:
    parts = urlsplit(value or "")
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def _customer_name(order: Order) -> str:
    if order.customer is not None and order.customer.first_name:
        return order.customer.first_name
    name = str((order.shipping_address or {}).get("name") or "").strip()
    return name.split()[0] if name else ""


def email_context(order: Order, kind: str, shipment: Shipment | None = None) -> dict[str, Any]:
    """What the templates of `kind` show: the order, its lines (the shipment's when there is
    one), the tracking page and, for a shipment, its carrier, tracking and dates."""
    if shipment is not None:
        lines = [
            {"sku": ln.order_line.sku_code, "name": ln.order_line.name, "quantity": ln.quantity}
            for ln in shipment.lines.select_related("order_line").order_by("id")
        ]
    else:
        lines = [
            {"sku": ln.sku_code, "name": ln.name, "quantity": ln.quantity}
            for ln in order.lines.order_by("line_number")
        ]
    address = dict(order.shipping_address or {})
    code = str(address.get("country") or "").upper()
    address["country_name"] = str(countries.name(code) or code) if code else ""
    context: dict[str, Any] = {
        "kind": kind,
        "order": order,
        "number": order.number or str(order.pk),
        "customer_name": _customer_name(order),
        "lines": lines,
        "address": address,
        "tracking_page_url": tracking_page_url(order),
        "public_url": public_url(),
        "shop_name": order.channel.display_name,
        "shop_logo_url": order.channel.logo_url,
        "currency": order.currency,
        "shipment": shipment,
        "lines_caption": gettext(LINES_CAPTION.get(kind, gettext_noop("Items"))),
    }
    if shipment is not None:
        context["carrier_tracking_url"] = _safe_url(shipment.tracking_url)
        others = (
            Shipment.objects.filter(order_id=order.pk)
            .exclude(pk=shipment.pk)
            .exclude(status=ShipmentStatus.CANCELLED)
        )
        context["is_partial"] = others.exists()
        if kind == "exception":
            latest = (
                TrackingEvent.objects.filter(shipment=shipment, status=TrackingStatus.EXCEPTION)
                .order_by("-occurred_at", "-id")
                .first()
            )
            context["problem"] = latest.description if latest else ""
    return context


def email_render(order: Order, kind: str, shipment: Shipment | None = None) -> tuple[str, str, str]:
    """(subject, text, html) of an e-mail of `kind`, in the shopper's language.
    Raises ValidationFailed (unknown kind)."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValidationFailed(f"Unknown e-mail {kind!r}.")
    with translation.override(shopper_language(order=order)):
        context = email_context(order, kind, shipment)
        subject = gettext(spec.subject).format(number=context["number"])
        text = render_to_string(f"emails/{kind}.txt", context)
        html = render_to_string(f"emails/{kind}.html", {**context, "subject": subject})
    return subject, text, html


# --- sending -------------------------------------------------------------------------------------


def _already_sent(order_id: int, kind: str, shipment_id: int | None) -> bool:
    sent = OrderEvent.objects.filter(order_id=order_id, kind=EVENT_KIND, data__email=kind)
    if shipment_id is not None:
        sent = sent.filter(data__shipment=shipment_id)
    return sent.exists()


def order_email_send(*, order_id: int, kind: str, shipment_id: int | None = None) -> bool:
    """Send the shopper the e-mail `kind` of this order (once); True if it was sent now.
    Outside any transaction: the mail server is called holding no lock.

    Raises ValidationFailed (unknown kind, a shipment e-mail without a shipment),
    TransientError (the mail server could not be reached: retry), PermanentError (refused).
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValidationFailed(f"Unknown e-mail {kind!r}.")
    if spec.per_shipment and shipment_id is None:
        raise ValidationFailed(f"The {kind!r} e-mail is about a shipment.")
    if not spec.per_shipment:
        shipment_id = None
    order = Order.objects.select_related("channel", "customer").filter(pk=order_id).first()
    if order is None or not order.channel.send_emails or not order.email:
        return False
    shipment = None
    if shipment_id is not None:
        shipment = Shipment.objects.filter(pk=shipment_id, order_id=order.pk).first()
        if shipment is None:
            return False
    if _already_sent(order.pk, kind, shipment_id):
        return False
    subject, text, html = email_render(order, kind, shipment)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"{order.email} refused: {exc.recipients}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # connection, timeout, 4xx from the server
        raise TransientError(f"Mail not sent: {type(exc).__name__}: {exc}") from exc
    with transaction.atomic():
        locked = order_get_for_update(order.pk)
        if not _already_sent(order.pk, kind, shipment_id):
            order_event_add(
                order=locked, kind=EVENT_KIND, email=kind, shipment=shipment_id, to=order.email
            )
    return True
