"""The order page's timeline in sentences: one renderer per event kind, a fallback for the rest.

A renderer turns an OrderEvent into a sentence (HTML, escaped) with links to what it names: the
order's lines (their row on the page), locations, and the records of higher apps (shipments,
returns, refunds), whose admin modules register the renderers of their own kinds with
`timeline_sentence` (a lower app never imports a higher one). Amounts are written in the
currency's format; ids, empty fields and raw data are never shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from inventory.models import Location
from oms.money import money_display
from orders.admin.display import address_lines, choice_labels
from orders.models import Order, OrderEvent, OrderLine
from orders.states import HoldReason, OrderStatus, PaymentStatus

Renderer = Callable[["Story", Mapping[str, Any]], SafeString | str]

_BY_KIND: dict[str, Renderer] = {}
_BY_PREFIX: dict[str, Renderer] = {}

# Keys never shown by the fallback: ids and plumbing of the integrations.
INTERNAL_KEYS = frozenset(
    {"decision", "shipment", "line", "order_line", "parcel", "source", "status_code", "url"}
)


def timeline_sentence(*kinds: str) -> Callable[[Renderer], Renderer]:
    """Register the renderer of event kinds; "shipment_*" covers every kind with that prefix.
    Used by orders and by the admin modules of higher apps for their own kinds."""

    def register(renderer: Renderer) -> Renderer:
        for kind in kinds:
            if kind.endswith("*"):
                _BY_PREFIX[kind[:-1]] = renderer
            else:
                _BY_KIND[kind] = renderer
        return renderer

    return register


def renderer_of(kind: str) -> Renderer:
    if kind in _BY_KIND:
        return _BY_KIND[kind]
    for prefix in sorted(_BY_PREFIX, key=len, reverse=True):
        if kind.startswith(prefix):
            return _BY_PREFIX[prefix]
    return fallback


@dataclass
class Story:
    """What renderers need to write one order's events: its currency, lines and locations,
    loaded once for the whole timeline."""

    order: Order
    kind: str = ""
    lines: list[OrderLine] = field(default_factory=list)
    _locations: dict[str, Location] | None = None

    # --- words for the renderers ------------------------------------------------------------

    def money(self, amount: Any, currency: str | None = None) -> str:
        try:
            return money_display(Decimal(str(amount)), currency or self.order.currency)
        except (InvalidOperation, ValueError):
            return str(amount)

    def link(self, viewname: str, pk: Any, text: str) -> SafeString:
        try:
            url = reverse(viewname, args=[pk])
        except NoReverseMatch:
            return format_html("{}", text)
        return format_html('<a href="{}">{}</a>', url, text)

    def line(self, pk: Any) -> SafeString:
        """ "line 2 (TEE-1)", a link to its row in the order's lines."""
        for index, line in enumerate(self.lines):
            if line.pk == pk:
                return format_html(
                    '<a href="#lines-{}">line {} ({})</a>', index, line.line_number, line.sku_code
                )
        return mark_safe("a line since removed")

    def location(self, ref: Any) -> SafeString:
        """A location by id or code, a link to its page."""
        if self._locations is None:
            found = Location.objects.only("id", "code", "name")
            self._locations = {}
            for loc in found:
                self._locations[loc.code] = loc
                self._locations[str(loc.pk)] = loc
        location = self._locations.get(str(ref))
        if location is None:
            return format_html("{}", ref or "an unknown location")
        return self.link("admin:inventory_location_change", location.pk, location.code)

    def units(self, items: Iterable[Any], *, key: str = "quantity", at: bool = True) -> SafeString:
        """Per line: "2 \N{MULTIPLICATION SIGN} line 1 (TEE-1) at BER-WH", joined."""
        parts = []
        for item in items:
            if not isinstance(item, Mapping):
                continue
            line = item.get("line", item.get("order_line"))
            where = (
                format_html(" at {}", self.location(item["location"]))
                if at and item.get("location")
                else ""
            )
            parts.append(
                format_html(
                    "{} \N{MULTIPLICATION SIGN} {}{}", item.get(key, "?"), self.line(line), where
                )
            )
        return join(parts)


def join(parts: Sequence[SafeString | str], last: str = "and") -> SafeString:
    """a, b and c (escaped)."""
    if not parts:
        return mark_safe("")
    if len(parts) == 1:
        return format_html("{}", parts[0])
    head = format_html_join(", ", "{}", ((p,) for p in parts[:-1]))
    return format_html("{} {} {}", head, last, parts[-1])


def sentence(event: OrderEvent, story: Story) -> SafeString:
    """The event in words, never raw data: a renderer that fails falls back to the kind."""
    data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
    story.kind = event.kind
    try:
        text = str(renderer_of(event.kind)(story, data))
        # A message quoted at a sentence's end brings its own full stop: "reference.." -> ".".
        if text.endswith("..") and not text.endswith("..."):
            text = text[:-1]
        return mark_safe(text)  # the renderers escape what they are given (format_html)
    except (KeyError, TypeError, ValueError, AttributeError):
        return format_html("{}.", humanise(event.kind))


def words(label: str) -> str:
    """A label inside a sentence: lower case, acronyms kept ("Unknown SKU" -> "unknown SKU")."""
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in label.split(" "))


def humanise(kind: str) -> str:
    return kind.replace("_", " ").strip().capitalize()


def fallback(story: Story, data: Mapping[str, Any]) -> SafeString:
    """An unknown kind: its name, then its plain non-empty facts ("Carrier: DHL"), no ids."""
    facts = []
    for key, value in data.items():
        if key in INTERNAL_KEYS or key.endswith("_id") or value in (None, "", [], {}):
            continue
        if isinstance(value, Mapping):
            continue
        if isinstance(value, list):
            value = f"{len(value)} item{'' if len(value) == 1 else 's'}"
        facts.append(format_html("{}: {}", humanise(key).lower(), value))
    if not facts:
        return format_html("{}.", humanise(story.kind))
    return format_html("{} ({}).", humanise(story.kind), join(facts))


def timeline(order: Order, events: Iterable[OrderEvent]) -> list[dict[str, Any]]:
    """The order's events, newest first, each {"at", "actor", "sentence", "kind"}."""
    story = Story(order=order, lines=list(order.lines.order_by("line_number")))
    rows = sorted(events, key=lambda e: (e.created_at, e.pk), reverse=True)
    return [
        {
            "at": event.created_at,
            "actor": "" if event.actor in ("", "system") else event.actor,
            "sentence": sentence(event, story),
            "kind": event.kind,
        }
        for event in rows
    ]


# --- the orders app's own kinds ------------------------------------------------------------------


def _status(value: Any) -> str:
    return words(choice_labels(OrderStatus.choices, [str(value)]))


@timeline_sentence("captured")
def _captured(story: Story, data: Mapping[str, Any]) -> SafeString:
    lines = int(data.get("lines") or 0)
    how = {"store": ", sold in store", "channel": ", fulfilled by the channel"}.get(
        str(data.get("fulfilled_by") or ""), ""
    )
    return format_html(
        "Order received from {} with {} line{} for {}{}.",
        data.get("channel") or story.order.channel.code,
        lines,
        "" if lines == 1 else "s",
        story.money(data["total"], data.get("currency")),
        how,
    )


@timeline_sentence("hold_placed")
def _hold_placed(story: Story, data: Mapping[str, Any]) -> SafeString:
    note = format_html(": {}", data["note"]) if data.get("note") else ""
    reason = choice_labels(HoldReason.choices, [data.get("reason", "")])
    return format_html("Put on hold ({}){}.", words(reason), note)


@timeline_sentence("hold_released")
def _hold_released(story: Story, data: Mapping[str, Any]) -> SafeString:
    reasons = words(choice_labels(HoldReason.choices, data.get("reasons") or []))
    note = format_html(" ({})", data["note"]) if data.get("note") else ""
    return format_html("Hold released{}{}.", f": {reasons}" if reasons else "", note)


@timeline_sentence("status_changed")
def _status_changed(story: Story, data: Mapping[str, Any]) -> SafeString:
    return format_html(
        "Status changed from {} to {}.", _status(data.get("from")), _status(data.get("to"))
    )


@timeline_sentence("payment_status_changed")
def _payment_status(story: Story, data: Mapping[str, Any]) -> SafeString:
    labels = PaymentStatus.choices
    return format_html(
        "Payment status changed from {} to {}.",
        words(choice_labels(labels, [str(data.get("before"))])),
        words(choice_labels(labels, [str(data.get("after"))])),
    )


@timeline_sentence("cancelled", "lines_cancelled")
def _cancelled(story: Story, data: Mapping[str, Any]) -> SafeString:
    what = "Order cancelled" if story.kind == "cancelled" else "Cancelled"
    items = story.units(data.get("lines") or [], at=False)
    reason = format_html(". Reason: {}", data["reason"]) if data.get("reason") else ""
    return format_html("{}: {}{}.", what, items, reason)


@timeline_sentence("note")
def _note(story: Story, data: Mapping[str, Any]) -> SafeString:
    return format_html("Note: {}", data.get("text", ""))


@timeline_sentence("address_changed")
def _address_changed(story: Story, data: Mapping[str, Any]) -> SafeString:
    before = ", ".join(address_lines(data.get("before") or {})) or "no address"
    after = ", ".join(address_lines(data.get("after") or {})) or "no address"
    return format_html("Shipping address changed from {} to {}.", before, after)


@timeline_sentence("converted")
def _converted(story: Story, data: Mapping[str, Any]) -> SafeString:
    base = str(data.get("base_currency") or story.order.base_currency)
    if base == story.order.currency:
        return format_html(
            "Total in the base currency: {} (same currency).", story.money(data["total_base"], base)
        )
    rate = Decimal(str(data.get("rate"))).normalize()
    return format_html(
        "Total converted to {} at 1 {} = {:f} {} ({} rate of {}).",
        story.money(data["total_base"], base),
        story.order.currency,
        rate,
        base,
        data.get("source") or "the",
        data.get("date") or "the day",
    )


@timeline_sentence("allocated")
def _allocated(story: Story, data: Mapping[str, Any]) -> SafeString:
    return format_html("Stock reserved: {}.", story.units(data.get("allocations") or []))


@timeline_sentence("deallocated")
def _deallocated(story: Story, data: Mapping[str, Any]) -> SafeString:
    reason = format_html(" ({})", data["reason"]) if data.get("reason") else ""
    return format_html(
        "Reservation released{}: {}.", reason, story.units(data.get("allocations") or [])
    )


@timeline_sentence("shipped")
def _shipped(story: Story, data: Mapping[str, Any]) -> SafeString:
    return format_html("Shipped: {}.", story.units(data.get("lines") or []))


@timeline_sentence("lines_changed")
def _lines_changed(story: Story, data: Mapping[str, Any]) -> SafeString:
    parts: list[SafeString | str] = []
    added = [
        f"{a.get('quantity')} \N{MULTIPLICATION SIGN} {a.get('sku')}"
        for a in data.get("added") or []
    ]
    if added:
        parts.append(format_html("added {}", ", ".join(added)))
    removed = data.get("removed") or []
    if removed:
        parts.append(
            format_html("removed {} line{}", len(removed), "" if len(removed) == 1 else "s")
        )
    changed = data.get("changed") or []
    if changed:
        parts.append(
            format_html("changed {} line{}", len(changed), "" if len(changed) == 1 else "s")
        )
    total = (
        format_html("; the total is now {}", story.money(data["total"]))
        if data.get("total")
        else ""
    )
    return format_html("Lines edited: {}{}.", join(parts) or "no change", total)


@timeline_sentence("routing_failed")
def _routing_failed(story: Story, data: Mapping[str, Any]) -> SafeString:
    return format_html("Routing failed and will be retried ({}).", data.get("error") or "no reason")


@timeline_sentence("sold_in_store")
def _sold_in_store(story: Story, data: Mapping[str, Any]) -> SafeString:
    short = data.get("not_in_ledger")
    note = " (some units were not in the stock ledger)" if short else ""
    return format_html("Sold in store at {}{}.", story.location(data.get("location")), note)


@timeline_sentence("fulfilled_by_channel")
def _fulfilled_by_channel(story: Story, data: Mapping[str, Any]) -> SafeString:
    if not data.get("shipped_elsewhere"):
        return mark_safe("Fulfilled by the channel: nothing to ship from our locations.")
    taken = (
        format_html("its units taken from {}", story.location(data["location"]))
        if data.get("location")
        else mark_safe("none of our stock taken")
    )
    missing = data.get("not_in_ledger") or {}
    short = (
        format_html(
            "; not in the stock ledger there: {}",
            join(
                [
                    format_html("{} \N{MULTIPLICATION SIGN} {}", sku, n)
                    for sku, n in sorted(missing.items())
                ]
            ),
        )
        if isinstance(missing, Mapping) and missing
        else ""
    )
    return format_html(
        "Already shipped on the channel when imported: never shipped here, {}{}.", taken, short
    )


@timeline_sentence("exchange_for_return", "exchange_order_created")
def _exchange(story: Story, data: Mapping[str, Any]) -> SafeString:
    if story.kind == "exchange_for_return":
        return format_html(
            "Exchange order for return {} of order {}.",
            data.get("number"),
            data.get("original_order"),
        )
    charge = Decimal(str(data.get("charge") or 0))
    extra = format_html("; the shopper pays {} more", story.money(charge)) if charge > 0 else ""
    return format_html(
        "Exchange order {} created for return {}{}.",
        data.get("exchange_order"),
        data.get("number"),
        extra,
    )
