"""The sentences of the channels' events on the order page's timeline (orders.admin.timeline):
a new version of the order from the channel ("Channel updated", saying what changed), and what
was pushed back to the channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from channels.states import PushKind
from orders.admin.display import address_lines, choice_labels
from orders.admin.timeline import Story, humanise, join, timeline_sentence, words

FIELD_NAMES = {
    "lines": "the lines",
    "email": "the e-mail address",
    "phone": "the phone number",
    "notes": "the shopper's note",
    "billing_address": "the billing address",
    "shipping_address": "the shipping address",
    "shipping_price": "the shipping price",
    "total": "the total",
    "amounts": "the amounts",
    "payment_status": "the payment status",
    "number": "the order number",
}


@timeline_sentence("channel_updated")
def _updated(story: Story, data: Mapping[str, Any]) -> SafeString:
    fields = data.get("not_applied")
    if fields is None:  # recorded before the sync named the changes
        return mark_safe("The channel sent a new version of the order; nothing applied.")
    if not fields:
        return mark_safe(
            "The channel sent a new version of the order; nothing the OMS keeps changed."
        )
    names = [FIELD_NAMES.get(str(f), humanise(str(f)).lower()) for f in fields]
    return format_html(
        "The channel changed {}; not applied here (the order as the OMS keeps it stands).",
        join(names),
    )


@timeline_sentence("channel_refunded_shipped_units")
def _refunded_after_shipment(story: Story, data: Mapping[str, Any]) -> SafeString:
    return format_html(
        "The channel refunded or removed {} after they shipped (the shopper keeps them; a return"
        " brings them back).",
        story.units(data.get("lines") or [], at=False),
    )


@timeline_sentence("channel_address_change_ignored")
def _address_ignored(story: Story, data: Mapping[str, Any]) -> SafeString:
    after = ", ".join(address_lines(data.get("after") or {})) or "an empty address"
    reason = format_html(" ({})", data["reason"]) if data.get("reason") else ""
    return format_html(
        "The channel changed the shipping address to {}; not applied{}.", after, reason
    )


@timeline_sentence("channel_*")
def _pushed(story: Story, data: Mapping[str, Any]) -> SafeString:
    # channel_{push kind}_pushed / channel_{push kind}_failed
    rest = story.kind.removeprefix("channel_")
    kind, _, outcome = rest.rpartition("_")
    what = words(choice_labels(PushKind.choices, [kind]))
    details: list[SafeString] = []
    if data.get("amount"):
        details.append(format_html("{}", story.money(data["amount"], data.get("currency"))))
    if data.get("tracking_number"):
        carrier = f"{data['carrier']} " if data.get("carrier") else ""
        details.append(format_html("tracking {}{}", carrier, data["tracking_number"]))
    detail = format_html(" ({})", join(details)) if details else ""
    if outcome == "pushed":
        return format_html("{} sent to the channel{}.", what.capitalize(), detail)
    error = format_html(": {}", data["error"]) if data.get("error") else ""
    return format_html("{} not sent to the channel{}{}.", what.capitalize(), detail, error)
