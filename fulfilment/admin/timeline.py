"""The sentences of fulfilment's events on the order page's timeline (orders.admin.timeline):
routing, shipments, labels, tracking, 3PL hand-offs and the shopper's e-mails, each shipment a
link to its page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from fulfilment.picklists import shipment_code
from fulfilment.states import ShipmentStatus
from orders.admin.display import choice_labels
from orders.admin.timeline import Story, humanise, timeline_sentence, words


def shipment(story: Story, data: Mapping[str, Any], *, first: bool = False) -> SafeString:
    """ "shipment SH-12", a link to its page ("Shipment SH-12" to start a sentence)."""
    word = "Shipment" if first else "shipment"
    pk = data.get("shipment")
    if not pk:
        return format_html("{}", f"{'A' if first else 'a'} shipment")
    return story.link("admin:fulfilment_shipment_change", pk, f"{word} {shipment_code(pk)}")


def _status(value: Any) -> str:
    return words(choice_labels(ShipmentStatus.choices, [str(value)]))


@timeline_sentence("routed")
def _routed(story: Story, data: Mapping[str, Any]) -> SafeString:
    outcome = {
        "single": "to one location",
        "split": "split over several locations",
        "backorder": "to wait for stock (backordered)",
        "partial": "in part, the rest waits for stock",
    }.get(str(data.get("outcome")), str(data.get("outcome") or ""))
    reason = format_html(": {}", data["reason"]) if data.get("reason") else ""
    decision = data.get("decision")
    why = (
        format_html(" ({})", story.link("admin:fulfilment_routingdecision_change", decision, "why"))
        if decision
        else ""
    )
    return format_html("Routed {}{}{}.", outcome, reason, why)


@timeline_sentence("shipment_*")
def _shipment_moved(story: Story, data: Mapping[str, Any]) -> SafeString:
    target = story.kind.removeprefix("shipment_")
    where = format_html(" at {}", story.location(data["location"])) if data.get("location") else ""
    verbs: dict[str, str] = {
        ShipmentStatus.PICKING: "picked",
        ShipmentStatus.PACKED: "packed",
        ShipmentStatus.SENT: "sent to the 3PL partner",
        ShipmentStatus.SHIPPED: "shipped",
        ShipmentStatus.DELIVERED: "delivered",
        ShipmentStatus.CANCELLED: "cancelled",
    }
    verb = verbs.get(target, _status(target))
    extra: list[SafeString] = []
    if data.get("parcels"):
        n = int(data["parcels"])
        extra.append(format_html("{} parcel{}", n, "" if n == 1 else "s"))
    if data.get("tracking_number"):
        carrier = f"{data['carrier']} " if data.get("carrier") else ""
        extra.append(format_html("tracking {}{}", carrier, data["tracking_number"]))
    if data.get("reason"):
        extra.append(format_html("{}", data["reason"]))
    detail = (
        format_html(" ({})", format_html_join("; ", "{}", ((p,) for p in extra))) if extra else ""
    )
    return format_html("{}{} {}{}.", shipment(story, data, first=True), where, verb, detail)


@timeline_sentence("short_pick")
def _short_pick(story: Story, data: Mapping[str, Any]) -> SafeString:
    return format_html(
        "Short pick on {}: {} missing; the rest is routed again.",
        shipment(story, data),
        story.units(data.get("lines") or [], key="missing", at=False),
    )


@timeline_sentence("label_requested", "label_retry", "label_created")
def _label(story: Story, data: Mapping[str, Any]) -> SafeString:
    carrier = data.get("carrier") or "the carrier"
    if story.kind == "label_created":
        tracking = (
            format_html(", tracking {}", data["tracking_number"])
            if data.get("tracking_number")
            else ""
        )
        return format_html(
            "Label bought from {} for {}{}.", carrier, shipment(story, data), tracking
        )
    again = " again" if story.kind == "label_retry" else ""
    service = format_html(" ({})", data["service"]) if data.get("service") else ""
    return format_html(
        "Label asked{} of {}{} for {}.", again, carrier, service, shipment(story, data)
    )


@timeline_sentence("label_*", "customer_care_alert")
def _label_problem(story: Story, data: Mapping[str, Any]) -> SafeString:
    what = {
        "label_failed": "Label not bought",
        "label_void_failed": "Label not voided",
        "label_held": "Label waits: the order is on hold",
        "customer_care_alert": "Customer care alerted",
    }.get(story.kind, humanise(story.kind))
    message = data.get("message") or data.get("note") or ""
    return format_html(
        "{} for {}{}.", what, shipment(story, data), format_html(": {}", message) if message else ""
    )


@timeline_sentence("tracking")
def _tracking(story: Story, data: Mapping[str, Any]) -> SafeString:
    place = format_html(" in {}", data["place"]) if data.get("place") else ""
    description = data.get("description") or humanise(str(data.get("status") or "update"))
    return format_html("Carrier: {}{} ({}).", description, place, shipment(story, data))


@timeline_sentence("partner_*")
def _partner(story: Story, data: Mapping[str, Any]) -> SafeString:
    where = format_html(" to {}", story.location(data["location"])) if data.get("location") else ""
    if story.kind == "partner_send_failed":
        return format_html(
            "{} not sent{}: {}.", shipment(story, data, first=True), where, data.get("message")
        )
    if story.kind == "partner_send_again":
        return format_html("{} sent again{}.", shipment(story, data, first=True), where)
    if story.kind == "partner_accepted_late":
        return format_html(
            "The 3PL partner accepted {} after it was {}.",
            shipment(story, data),
            _status(data.get("status")),
        )
    return format_html("The 3PL partner accepted {}.", shipment(story, data))


@timeline_sentence("email_sent")
def _email(story: Story, data: Mapping[str, Any]) -> SafeString:
    about = format_html(" about {}", shipment(story, data)) if data.get("shipment") else ""
    return format_html(
        "E-mail “{}” sent to {}{}.",
        humanise(str(data.get("email") or "")).lower(),
        data.get("to") or "the shopper",
        about,
    )
