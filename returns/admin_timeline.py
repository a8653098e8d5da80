"""The sentences of returns' events on the order page's timeline (orders.admin.timeline):
returns, refunds and payments, each a link to its page, amounts in the currency's format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from orders.admin.display import choice_labels
from orders.admin.timeline import Story, humanise, timeline_sentence, words
from returns.states import Condition, Disposition, PaymentKind, ReturnStatus


def return_link(story: Story, data: Mapping[str, Any]) -> SafeString:
    label = str(data.get("number") or "")
    if not label:
        return format_html("{}", "a return")
    if not data.get("return_id"):
        return format_html("{}", label)
    return story.link("admin:returns_returnrequest_change", data["return_id"], label)


def refund_link(story: Story, data: Mapping[str, Any], *, first: bool = False) -> SafeString:
    """ "refund of €10.00", a link to the refund's page ("Refund of" to start a sentence)."""
    amount = story.money(data["amount"], data.get("currency")) if data.get("amount") else ""
    word = "Refund" if first else "refund"
    label = f"{word} of {amount}" if amount else word
    if not data.get("refund_id"):
        return format_html("{}", label)
    return story.link("admin:returns_refund_change", data["refund_id"], label)


@timeline_sentence("return_requested")
def _requested(story: Story, data: Mapping[str, Any]) -> SafeString:
    who = {"shopper": "by the shopper", "staff": "by staff"}.get(str(data.get("source")), "")
    items = story.units(data.get("lines") or [], at=False)
    override = (
        format_html(" (outside the return window: {})", data["override_reason"])
        if data.get("override_reason")
        else ""
    )
    return format_html(
        "Return {} requested{}: {}{}.",
        return_link(story, data),
        f" {who}" if who else "",
        items,
        override,
    )


@timeline_sentence("return_received")
def _received(story: Story, data: Mapping[str, Any]) -> SafeString:
    parts = []
    for item in data.get("lines") or []:
        condition = choice_labels(Condition.choices, [str(item.get("condition"))]).lower()
        fate = choice_labels(Disposition.choices, [str(item.get("disposition"))]).lower()
        parts.append(
            format_html(
                "{} \N{MULTIPLICATION SIGN} {} ({}, {})",
                item.get("quantity"),
                story.line(item.get("order_line")),
                condition,
                fate,
            )
        )
    where = format_html(" at {}", story.location(data["location"])) if data.get("location") else ""
    items = (
        format_html(": {}", format_html_join("; ", "{}", ((p,) for p in parts))) if parts else ""
    )
    return format_html("Return {} received{}{}.", return_link(story, data), where, items)


@timeline_sentence("return_*")
def _return_moved(story: Story, data: Mapping[str, Any]) -> SafeString:
    target = str(data.get("after") or story.kind.removeprefix("return_"))
    label = words(choice_labels(ReturnStatus.choices, [target]))
    automatic = " automatically" if data.get("automatic") else ""
    reason = format_html(": {}", data["reason"]) if data.get("reason") else ""
    return format_html("Return {} {}{}{}.", return_link(story, data), label, automatic, reason)


@timeline_sentence("refund_requested")
def _refund_requested(story: Story, data: Mapping[str, Any]) -> SafeString:
    why = format_html(" for {}", return_link(story, data)) if data.get("return_id") else ""
    reason = (
        format_html(" ({})", humanise(str(data["reason"])).lower())
        if data.get("reason") and not data.get("return_id")
        else ""
    )
    return format_html("{} requested{}{}.", refund_link(story, data, first=True), why, reason)


@timeline_sentence("refund_awaiting_confirmation")
def _refund_waiting(story: Story, data: Mapping[str, Any]) -> SafeString:
    message = format_html(": {}", data["message"]) if data.get("message") else ""
    return format_html(
        "{} waits for confirmation{}.", refund_link(story, data, first=True), message
    )


@timeline_sentence("refund_*")
def _refund_moved(story: Story, data: Mapping[str, Any]) -> SafeString:
    state = story.kind.removeprefix("refund_")
    verb = {
        "succeeded": "paid back",
        "failed": "failed",
        "stuck": "is stuck",
        "retried": "retried",
    }.get(state, humanise(state).lower())
    by = (
        format_html(" by {}", data["provider"])
        if data.get("provider") and state == "succeeded"
        else ""
    )
    ref = format_html(" (reference {})", data["reference"]) if data.get("reference") else ""
    why = data.get("failure") or (data.get("reason") if state == "stuck" else "")
    reason = format_html(": {}", why) if why else ""
    return format_html("{} {}{}{}{}.", refund_link(story, data, first=True), verb, by, ref, reason)


@timeline_sentence("payment_*")
def _payment(story: Story, data: Mapping[str, Any]) -> SafeString:
    # payment_{kind}_{state}: payment_capture_succeeded, payment_authorization_recorded
    rest = story.kind.removeprefix("payment_")
    kind, _, state = rest.rpartition("_")
    what = choice_labels(PaymentKind.choices, [kind])
    amount = story.money(data["amount"], data.get("currency")) if data.get("amount") else ""
    provider = format_html(" with {}", data["provider"]) if data.get("provider") else ""
    ref = format_html(" (reference {})", data["reference"]) if data.get("reference") else ""
    failure = format_html(": {}", data["failure"]) if data.get("failure") else ""
    return format_html(
        "{} of {} {}{}{}{}.", what, amount, humanise(state).lower(), provider, ref, failure
    )
