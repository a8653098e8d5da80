"""The shopper's e-mails about a subscription: a renewal was ordered, its payment failed (with
the next try), the subscription failed, and the upcoming-renewal reminder N days before.

Invariants:
- enqueued through the outbox in the transaction of the fact they tell, sent by the task
  `subscriptions.email_send` outside any transaction or lock;
- each e-mail is sent at most once per (subscription, kind, renewal or renewal date) as far as
  the timeline knows: an `email_sent` subscription event records it;
- nothing is sent for a channel with `send_emails` off;
- every e-mail carries the shopper's self-service link (/track/subscription/<token>/),
  absolute (OMS_PUBLIC_URL).
"""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from oms.errors import PermanentError, TransientError, ValidationFailed
from oms.i18n import format_day
from oms.outbox import outbox_enqueue
from orders.language import shopper_language
from subscriptions.calendar import zone
from subscriptions.models import Subscription, SubscriptionEvent, SubscriptionRenewal
from subscriptions.selectors import channel_settings, line_price_text
from subscriptions.states import SubscriptionStatus

EVENT_KIND = "email_sent"
SUBJECTS = {
    "renewal_ordered": gettext_noop("Your subscription {number}: your next order is on its way"),
    "payment_failed": gettext_noop("Your subscription {number}: we could not take the payment"),
    "subscription_failed": gettext_noop("Your subscription {number} is on hold: payment needed"),
    "renewal_upcoming": gettext_noop("Your subscription {number} renews on {date}"),
}


def manage_url(sub: Subscription) -> str:
    return f"{str(settings.OMS_PUBLIC_URL).rstrip('/')}/track/subscription/{sub.manage_token}/"


def local_date(sub: Subscription, moment: dt.datetime) -> dt.date:
    return moment.astimezone(zone(channel_settings(sub.channel_id).time_zone)).date()


def email_context(
    sub: Subscription, kind: str, renewal: SubscriptionRenewal | None
) -> dict[str, Any]:
    lines = [
        {
            "sku": line.sku.code,
            "name": line.sku.name,
            "quantity": line.quantity,
            "price": line_price_text(line, sub.currency),
            "price_text": line_price_text(line, sub.currency),
        }
        for line in sub.lines.select_related("sku")
    ]
    return {
        "kind": kind,
        "subscription": sub,
        "number": sub.number,
        "customer_name": sub.customer_name,
        "shop_name": sub.channel.display_name,
        "shop_logo_url": sub.channel.logo_url,
        "lines": lines,
        "currency": sub.currency,
        "next_date": local_date(sub, sub.next_order_at),
        "manage_url": manage_url(sub),
        "renewal": renewal,
        "order_number": renewal.order.number if renewal and renewal.order else "",
        "retry_date": (
            local_date(sub, renewal.next_attempt_at)
            if renewal is not None and renewal.next_attempt_at
            else None
        ),
        "error": renewal.last_error if renewal is not None else "",
    }


def email_render(
    sub: Subscription, kind: str, renewal: SubscriptionRenewal | None
) -> tuple[str, str, str]:
    if kind not in SUBJECTS:
        raise ValidationFailed(f"Unknown e-mail {kind!r}.")
    with translation.override(shopper_language(channel=sub.channel)):
        context = email_context(sub, kind, renewal)
        subject = gettext(SUBJECTS[kind]).format(
            number=sub.number, date=format_day(context["next_date"])
        )
        text = render_to_string(f"emails/subscription_{kind}.txt", context)
        html = render_to_string(f"emails/subscription_{kind}.html", {**context, "subject": subject})
    return subject, text, html


def _about(kind: str, renewal_id: int | None, attempt: int, sub: Subscription) -> str:
    """What makes one e-mail of `kind` unique: the renewal (and the payment attempt), or for
    the reminder the renewal date."""
    if kind == "renewal_upcoming":
        return sub.next_order_at.isoformat()
    return f"{renewal_id}-{attempt}" if attempt else str(renewal_id)


def _already_sent(sub_id: int, kind: str, about: str) -> bool:
    return SubscriptionEvent.objects.filter(
        subscription_id=sub_id, kind=EVENT_KIND, data__email=kind, data__about=about
    ).exists()


def subscription_email_send(
    *, subscription_id: int, kind: str, renewal_id: int | None = None, attempt: int = 0
) -> bool:
    """Send the shopper the e-mail `kind` (once); True if it was sent now. Raises
    ValidationFailed (unknown kind), TransientError (mail server unreachable), PermanentError."""
    if kind not in SUBJECTS:
        raise ValidationFailed(f"Unknown e-mail {kind!r}.")
    sub = Subscription.objects.select_related("channel").filter(pk=subscription_id).first()
    if sub is None or not sub.channel.send_emails or not sub.email:
        return False
    renewal = (
        SubscriptionRenewal.objects.select_related("order").filter(pk=renewal_id).first()
        if renewal_id is not None
        else None
    )
    about = _about(kind, renewal_id, attempt, sub)
    if _already_sent(sub.pk, kind, about):
        return False
    subject, text, html = email_render(sub, kind, renewal)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[sub.email]
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"{sub.email} refused: {exc.recipients}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientError(f"Mail not sent: {type(exc).__name__}: {exc}") from exc
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=sub.pk)
        if not _already_sent(sub.pk, kind, about):
            SubscriptionEvent.objects.create(
                subscription=locked,
                kind=EVENT_KIND,
                data={"email": kind, "about": about, "to": sub.email},
                created_at=timezone.now(),
            )
    return True


def subscription_reminders_enqueue(*, now: dt.datetime | None = None) -> int:
    """Enqueue the upcoming-renewal e-mail of each active subscription whose next renewal is
    within its channel's reminder_days and not reminded yet (once per renewal date)."""
    from subscriptions.models import ChannelSubscriptionSettings

    now = now or timezone.now()
    days_of = dict(ChannelSubscriptionSettings.objects.values_list("channel_id", "reminder_days"))
    default_days = ChannelSubscriptionSettings._meta.get_field("reminder_days").default
    horizon = now + dt.timedelta(days=max([default_days, *days_of.values()]))
    candidates = (
        Subscription.objects.filter(
            status=SubscriptionStatus.ACTIVE,
            next_order_at__gt=now,
            next_order_at__lte=horizon,
            channel__send_emails=True,
        )
        .exclude(reminded_for=F("next_order_at"))
        .values_list("pk", "channel_id", "next_order_at")
    )
    sent = 0
    for pk, channel_id, next_at in candidates:
        days = days_of.get(channel_id, default_days)
        if not days or next_at > now + dt.timedelta(days=days):
            continue
        with transaction.atomic():
            claimed = (
                Subscription.objects.filter(pk=pk, next_order_at=next_at)
                .exclude(reminded_for=next_at)
                .update(reminded_for=next_at)
            )
            if claimed:
                outbox_enqueue(
                    "subscriptions.email_send", subscription_id=pk, kind="renewal_upcoming"
                )
                sent += 1
    return sent
