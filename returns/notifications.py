"""The shopper's e-mails about a return: confirmed (the shopper started it), authorised (staff
accepted it: here is the label), rejected.

Invariants (those of fulfilment.notifications, whose context and base templates are reused):
- enqueued only after the commit of the fact it tells, sent by the task `returns.return_email_send`
  outside any transaction or lock;
- each e-mail is sent at most once per (return, kind) as far as the timeline knows: an
  `email_sent` order event with `email` and `return` records it;
- nothing is sent for a channel with `send_emails` off or an order without an e-mail address;
- links are absolute (OMS_PUBLIC_URL): the return page and the label under /track/<token>/.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from fulfilment.notifications import EVENT_KIND, email_context, public_url
from oms.errors import PermanentError, TransientError, ValidationFailed
from orders.language import shopper_language
from orders.models import OrderEvent
from orders.services import order_event_add, order_get_for_update
from returns.models import ReturnRequest
from returns.states import LABEL_STATUSES

SUBJECTS = {
    "return_confirmed": gettext_noop("Your return {number} for order {order}"),
    "return_authorised": gettext_noop("Your return {number} is accepted"),
    "return_rejected": gettext_noop("About your return {number}"),
}


def return_page_url(ret: ReturnRequest) -> str:
    return f"{public_url()}/track/{ret.order.tracking_token}/return/{ret.number}/"


def return_label_url(ret: ReturnRequest) -> str:
    return f"{return_page_url(ret)}label.pdf"


def _rejection_reason(ret: ReturnRequest) -> str:
    event = (
        OrderEvent.objects.filter(
            order_id=ret.order_id, kind="return_rejected", data__return_id=ret.pk
        )
        .order_by("-id")
        .first()
    )
    return str((event.data or {}).get("reason") or "") if event else ""


def return_email_context(ret: ReturnRequest, kind: str) -> dict[str, Any]:
    context = email_context(ret.order, kind)
    context.update(
        {
            "return": ret,
            "return_number": ret.number,
            "return_page_url": return_page_url(ret),
            "label_url": return_label_url(ret) if ret.status in LABEL_STATUSES else "",
            "is_authorised": ret.status in LABEL_STATUSES,
            "lines": [
                {
                    "sku": rl.order_line.sku_code,
                    "name": rl.order_line.name,
                    "quantity": rl.quantity,
                    "exchange": rl.is_exchange,
                }
                for rl in ret.lines.select_related("order_line").order_by("id")
            ],
            "lines_caption": gettext("Items to return"),
            "has_exchange": ret.lines.filter(exchange_sku__isnull=False).exists(),
            "rejection_reason": _rejection_reason(ret) if kind == "return_rejected" else "",
        }
    )
    return context


def return_email_render(ret: ReturnRequest, kind: str) -> tuple[str, str, str]:
    """(subject, text, html) of a return e-mail, in the shopper's language. Raises
    ValidationFailed (unknown kind)."""
    if kind not in SUBJECTS:
        raise ValidationFailed(f"Unknown e-mail {kind!r}.")
    with translation.override(shopper_language(order=ret.order)):
        context = return_email_context(ret, kind)
        subject = gettext(SUBJECTS[kind]).format(number=ret.number, order=context["number"])
        text = render_to_string(f"emails/{kind}.txt", context)
        html = render_to_string(f"emails/{kind}.html", {**context, "subject": subject})
    return subject, text, html


def _already_sent(order_id: int, kind: str, return_id: int) -> bool:
    return OrderEvent.objects.filter(
        order_id=order_id, kind=EVENT_KIND, data__email=kind, data__return=return_id
    ).exists()


def return_email_send(*, return_id: int, kind: str) -> bool:
    """Send the shopper the e-mail `kind` about a return (once); True if it was sent now.

    Raises ValidationFailed (unknown kind), TransientError (mail server unreachable: retry),
    PermanentError (refused).
    """
    if kind not in SUBJECTS:
        raise ValidationFailed(f"Unknown e-mail {kind!r}.")
    ret = (
        ReturnRequest.objects.select_related("order", "order__channel", "order__customer")
        .filter(pk=return_id)
        .first()
    )
    if ret is None:
        return False
    order = ret.order
    if not order.channel.send_emails or not order.email:
        return False
    if _already_sent(order.pk, kind, ret.pk):
        return False
    subject, text, html = return_email_render(ret, kind)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[order.email]
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"{order.email} refused: {exc.recipients}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientError(f"Mail not sent: {type(exc).__name__}: {exc}") from exc
    with transaction.atomic():
        locked = order_get_for_update(order.pk)
        if not _already_sent(order.pk, kind, ret.pk):
            data: dict[str, Any] = {"email": kind, "shipment": None, "to": order.email}
            data["return"] = ret.pk
            order_event_add(order=locked, kind=EVENT_KIND, **data)
    return True
