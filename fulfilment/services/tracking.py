"""Tracking: the carriers' scans of a shipment, recorded once, and what they set in motion.

Invariants:
- a carrier event is stored once per shipment (UniqueConstraint `tracking_event_once` on
  (shipment, external_id)): the same webhook or the same poll twice stores nothing new, appends
  nothing to the order timeline and changes nothing;
- `Shipment.tracking_status` is the status of the shipment's latest event (by occurred_at, then
  id); an event older than the latest one is stored and shown but moves nothing;
- the latest event "delivered" delivers the shipment through `shipment_deliver` (the order is
  delivered when all its shipments are); "exception" flags the shipment for staff
  (needs_attention and attention_message), puts the order on a customer-care hold where the
  order can still be held, and publishes fulfilment.events.ShipmentException; "returned"
  flags the shipment for staff;
- every new event is appended to the order timeline (kind "tracking");
- lock order Order -> Shipment (as every shipment service); no carrier is called while a row
  is locked: polling asks the carrier first, then locks and writes;
- an inbound carrier webhook is verified (the adapter checks the signature on the raw body)
  before anything is stored, stored once per (carrier, delivery id) in the kernel's inbox
  (oms.inbox, kind "carrier") and processed after commit by its task; processing the same
  delivery twice records nothing twice.

The carrier adapters (fulfilment.adapters.carriers, `carrier_for(code)`) are imported lazily:
`carrier_adapter` is the one place that looks a carrier up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fulfilment.events import ShipmentException
from fulfilment.models import Shipment, TrackingEvent, TrackingStatus
from fulfilment.services.shipments import _lock, shipment_deliver
from fulfilment.states import ShipmentStatus
from oms import events as domain_events
from oms import jsonsafe
from oms.errors import Conflict, DomainError, InvalidTransition, NotFound, ValidationFailed
from oms.inbox import inbox_store
from oms.limits import datetime_problem
from oms.models import InboundWebhook
from oms.outbox import outbox_enqueue
from orders.models import Order
from orders.services import order_event_add, order_hold
from orders.states import HoldReason

log = logging.getLogger(__name__)

#: Shipments shipped longer ago than this are no longer polled (the carrier forgot them too).
POLL_MAX_AGE = dt.timedelta(days=60)
#: Tracking statuses after which a carrier reports nothing more.
FINAL_STATUSES = frozenset({TrackingStatus.DELIVERED, TrackingStatus.RETURNED})
#: Headers that carry a webhook delivery's id, first match wins (Standard Webhooks first).
DELIVERY_ID_HEADERS = (
    "Webhook-Id",
    "X-Webhook-Id",
    "X-Event-Id",
    "X-Delivery-Id",
    "X-Notification-Id",
    "X-Message-Id",
)
#: Body fields that carry a delivery's or an event's id.
DELIVERY_ID_FIELDS = ("event_id", "eventId", "id", "delivery_id", "notification_id")
#: Body fields that carry a tracking number (when the adapter's events do not).
TRACKING_NUMBER_FIELDS = ("tracking_number", "trackingNumber", "tracking_code", "tracking_id")


class TrackingEventLike(Protocol):
    """What an adapter returns for one scan (fulfilment.adapters.carriers.TrackingEventData)."""

    @property
    def external_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def place(self) -> str: ...
    @property
    def occurred_at(self) -> dt.datetime: ...


class CarrierTracking(Protocol):
    """The tracking part of a carrier adapter."""

    def track(self, tracking_number: str) -> Sequence[TrackingEventLike]: ...

    def parse_tracking_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[TrackingEventLike]: ...


def carrier_adapter(code: str) -> CarrierTracking | None:
    """The adapter of carrier `code`, or None for a carrier without one (a manual carrier)."""
    from fulfilment.adapters.carriers import carrier_for

    if not code:
        return None
    try:
        adapter = carrier_for(code)
    except (LookupError, ValueError, DomainError):
        return None
    return cast(CarrierTracking | None, adapter)


def has_tracking_webhooks(adapter: object) -> bool:
    """Does the carrier push its events to us (then it is not polled)? An adapter may say so
    with `supports_tracking_webhooks`; otherwise a carrier whose webhook secret is configured
    pushes (webhooks are refused without one), and one without is polled."""
    declared = getattr(adapter, "supports_tracking_webhooks", None)
    if declared is not None:
        return bool(declared)
    return bool(getattr(adapter, "webhook_secret", ""))


def _shipment_label(shipment_id: int) -> str:
    return f"SH-{shipment_id}"


# --- recording ---------------------------------------------------------------------------------


def _event_key(event: TrackingEventLike) -> str:
    """The carrier's id of the event; one that sends none gets a digest of what it said."""
    external_id = str(event.external_id or "").strip()
    if external_id:
        return external_id[:128]
    basis = f"{event.status}|{event.occurred_at.isoformat()}|{event.description}|{event.place}"
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


def _raw(event: TrackingEventLike, source: str) -> dict[str, Any]:
    raw = getattr(event, "raw", None)
    return {"source": source, "data": raw if isinstance(raw, dict) else event_as_json(event)}


def event_as_json(event: TrackingEventLike) -> dict[str, Any]:
    """A JSON-ready copy of an adapter's event (what an InboundWebhook keeps)."""
    data = {
        "external_id": str(event.external_id or ""),
        "status": str(event.status),
        "description": str(event.description or ""),
        "place": str(event.place or ""),
        "occurred_at": event.occurred_at.isoformat(),
    }
    tracking_number = getattr(event, "tracking_number", None)
    if tracking_number:
        data["tracking_number"] = str(tracking_number)
    return data


class StoredEvent:
    """An event read back from JSON (an InboundWebhook's payload); a TrackingEventLike."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.external_id = str(data.get("external_id") or "")
        self.status = str(data.get("status") or "")
        self.description = str(data.get("description") or "")
        self.place = str(data.get("place") or "")
        self.occurred_at = dt.datetime.fromisoformat(str(data["occurred_at"]))
        self.tracking_number = str(data.get("tracking_number") or "")


def _validated(events: Iterable[TrackingEventLike]) -> dict[str, TrackingEventLike]:
    """The events by key (the first of duplicates wins); ValidationFailed for a bad one."""
    unique: dict[str, TrackingEventLike] = {}
    errors: dict[str, list[str]] = {}
    for index, event in enumerate(events):
        if event.status not in TrackingStatus.values:
            errors[f"events.{index}.status"] = [
                f"{event.status!r} is not one of {', '.join(TrackingStatus.values)}."
            ]
        elif not isinstance(event.occurred_at, dt.datetime) or timezone.is_naive(event.occurred_at):
            errors[f"events.{index}.occurred_at"] = ["A date and time with its offset."]
        elif problem := datetime_problem(event.occurred_at):
            errors[f"events.{index}.occurred_at"] = [problem]
        else:
            unique.setdefault(_event_key(event), event)
    if errors:
        raise ValidationFailed("These tracking events cannot be recorded.", errors=errors)
    return unique


@transaction.atomic
def tracking_events_record(
    *,
    shipment: Shipment | int,
    events: Sequence[TrackingEventLike],
    source: str,
    actor: str | None = None,
) -> Shipment:
    """Store the carrier events the shipment does not have yet and act on the latest one:
    delivered delivers the shipment, exception asks staff and customer care to look.

    `source` says where the events came from ("carrier:dhl" for a webhook, "poll:dhl").
    Raises NotFound (no shipment), ValidationFailed (an unknown status, a naive timestamp).
    """
    wanted = _validated(events)
    order, shipment = _lock(shipment)
    if not wanted:
        return shipment
    known = set(
        TrackingEvent.objects.filter(shipment=shipment, external_id__in=list(wanted)).values_list(
            "external_id", flat=True
        )
    )
    fresh = [
        TrackingEvent(
            shipment=shipment,
            external_id=key,
            status=event.status,
            description=str(event.description or "")[:255],
            place=str(event.place or "")[:128],
            occurred_at=event.occurred_at,
            raw=_raw(event, source),
        )
        for key, event in wanted.items()
        if key not in known
    ]
    if not fresh:
        return shipment  # a replay: nothing new
    # The shipment row lock serialises writers on PostgreSQL; ignore_conflicts keeps a racing
    # writer on a database without row locks from failing the whole batch.
    TrackingEvent.objects.bulk_create(fresh, ignore_conflicts=True)
    who = actor or source
    for event in sorted(fresh, key=lambda e: e.occurred_at):
        order_event_add(
            order=order,
            kind="tracking",
            actor=who,
            shipment=shipment.pk,
            status=event.status,
            description=event.description,
            place=event.place,
            occurred_at=event.occurred_at.isoformat(),
            source=source,
        )
    latest = TrackingEvent.objects.filter(shipment=shipment).order_by("-occurred_at", "-id").first()
    if latest is None or latest.external_id not in {e.external_id for e in fresh}:
        return shipment  # only older scans arrived: the shipment stays where it is
    if shipment.tracking_status != latest.status:
        shipment.tracking_status = latest.status
        shipment.save(update_fields=["tracking_status"])
    if latest.status == TrackingStatus.DELIVERED:
        _delivered(order, shipment, who)
    elif latest.status == TrackingStatus.EXCEPTION:
        _exception(order, shipment, latest, who)
    elif latest.status == TrackingStatus.RETURNED:
        _attention(
            shipment,
            f"The carrier is returning {_shipment_label(shipment.pk)} to sender"
            f"{': ' + latest.description if latest.description else ''}.",
        )
    shipment.refresh_from_db()
    return shipment


def _attention(shipment: Shipment, message: str) -> None:
    shipment.needs_attention = True
    shipment.attention_message = message[:500]
    shipment.save(update_fields=["needs_attention", "attention_message"])


def _delivered(order: Order, shipment: Shipment, actor: str) -> None:
    if shipment.status == ShipmentStatus.SHIPPED:
        shipment_deliver(shipment=shipment.pk, actor=actor)
    elif shipment.status != ShipmentStatus.DELIVERED:
        _attention(
            shipment,
            f"The carrier reports {_shipment_label(shipment.pk)} delivered, but it is "
            f"{shipment.get_status_display().lower()} here.",
        )


def _exception(order: Order, shipment: Shipment, event: TrackingEvent, actor: str) -> None:
    what = event.description or "the carrier reported a problem"
    where = f" ({event.place})" if event.place else ""
    message = f"Carrier exception on {_shipment_label(shipment.pk)}: {what}{where}"
    _attention(shipment, message)
    try:
        order_hold(order=order, reason=HoldReason.CUSTOMER_CARE, note=message, actor=actor)
    except InvalidTransition as exc:
        # orders refuses holds on shipped orders (a hold stops routing and fulfilment, and
        # nothing is left to stop): the flagged shipment and the event alert customer care.
        order_event_add(
            order=order,
            kind="customer_care_alert",
            actor=actor,
            shipment=shipment.pk,
            note=message,
            hold_refused=str(exc),
        )
    domain_events.publish(
        ShipmentException(shipment_id=shipment.pk, order_id=order.pk, description=what)
    )


# --- polling -----------------------------------------------------------------------------------


def tracking_poll_due() -> list[int]:
    """Shipped, not delivered shipments of carriers that do not push their events, oldest first."""
    since = timezone.now() - POLL_MAX_AGE
    candidates = (
        Shipment.objects.filter(status=ShipmentStatus.SHIPPED, shipped_at__gte=since)
        .exclude(Q(tracking_number="") | Q(carrier=""))
        .exclude(tracking_status__in=FINAL_STATUSES)
    )
    carriers = sorted(set(candidates.values_list("carrier", flat=True).distinct()))
    polled = []
    for code in carriers:
        adapter = carrier_adapter(code)
        if adapter is not None and not has_tracking_webhooks(adapter):
            polled.append(code)
    if not polled:
        return []
    return list(
        candidates.filter(carrier__in=polled)
        .order_by("shipped_at", "pk")
        .values_list("pk", flat=True)
    )


def tracking_poll() -> int:
    """Enqueue one `fulfilment.tracking_poll_shipment` task per shipment due (through the
    outbox); returns how many were enqueued."""
    due = tracking_poll_due()
    with transaction.atomic():
        for pk in due:
            outbox_enqueue(
                "fulfilment.tracking_poll_shipment",
                shipment_id=pk,
                dedupe_key=f"fulfilment.tracking_poll_shipment:{pk}",
            )
    return len(due)


def shipment_tracking_poll(*, shipment: Shipment | int, actor: str | None = None) -> Shipment:
    """Ask the carrier for the shipment's events, then record them (no row is locked while the
    carrier answers; call it outside a transaction).

    Raises NotFound, Conflict (`no_tracking_number`, `no_carrier_adapter`), and the carrier's
    TransientError (retry) or PermanentError.
    """
    pk = shipment if isinstance(shipment, int) else shipment.pk
    row = Shipment.objects.filter(pk=pk).values("carrier", "tracking_number").first()
    if row is None:
        raise NotFound(f"No shipment {pk}.")
    if not row["tracking_number"]:
        raise Conflict(
            f"{_shipment_label(pk)} has no tracking number to ask about.",
            code="no_tracking_number",
        )
    adapter = carrier_adapter(row["carrier"])
    if adapter is None:
        raise Conflict(
            f"{_shipment_label(pk)} went with {row['carrier'] or 'no carrier'}, which has no "
            "tracking connection.",
            code="no_carrier_adapter",
        )
    found = adapter.track(row["tracking_number"])
    return tracking_events_record(
        shipment=pk, events=list(found), source=f"poll:{row['carrier']}", actor=actor
    )


# --- inbound carrier webhooks --------------------------------------------------------------------


def _body_json(body: bytes) -> Any:
    try:
        return jsonsafe.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _find(node: Any, names: Sequence[str], depth: int = 0) -> str:
    """The first non-empty value of one of `names` in a JSON document (breadth first)."""
    if depth > 4:
        return ""
    if isinstance(node, dict):
        for name in names:
            value = node.get(name)
            if isinstance(value, str | int) and str(value):
                return str(value)
        children: Iterable[Any] = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return ""
    for child in children:
        found = _find(child, names, depth + 1)
        if found:
            return found
    return ""


def webhook_delivery_id(adapter: object, headers: Mapping[str, str], body: bytes) -> str:
    """The delivery's id: the adapter's own rule if it has one, else the usual event-id
    headers, else the id in the body, else a digest of the body (a redelivery repeats it)."""
    own = getattr(adapter, "webhook_delivery_id", None)
    if callable(own):
        value = str(own(headers, body) or "")
        if value:
            return value[:128]
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name in DELIVERY_ID_HEADERS:
        value = lowered.get(name.lower(), "").strip()
        if value:
            return value[:128]
    document = _body_json(body)
    if isinstance(document, dict):
        for name in DELIVERY_ID_FIELDS:
            field_value = document.get(name)
            if isinstance(field_value, str | int) and str(field_value):
                return str(field_value)[:128]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def carrier_webhook_receive(
    *, carrier: str, headers: Mapping[str, str], body: bytes
) -> tuple[InboundWebhook, bool]:
    """Verify a carrier's webhook on its raw body, store the delivery once and enqueue its
    processing after commit. Returns the delivery and whether it is new (False: a redelivery,
    nothing more is done).

    Raises NotFound (unknown carrier), ValidationFailed `json_too_deep` (nesting deeper than
    oms.jsonsafe.MAX_DEPTH, checked first), PermanentError (bad or missing signature: nothing is
    stored), ValidationFailed (an unreadable body). NUL characters are stripped from what is
    stored, and the delivery notes it (`nul_stripped`).
    """
    adapter = carrier_adapter(carrier)
    if adapter is None:
        raise NotFound(f"No carrier {carrier!r}.")
    jsonsafe.refuse_too_deep(body)  # before any parser recurses into it
    try:
        parsed = adapter.parse_tracking_webhook(headers, body)  # verifies the signature first
    except ValueError as exc:
        raise ValidationFailed(f"The carrier's webhook cannot be read: {exc}") from None
    document = _body_json(body)
    # NUL characters (jsonb refuses them) are stripped by the inbox, and the delivery says so:
    # the carrier would otherwise send the same delivery again forever.
    payload = {
        "body": document if document is not None else body.decode("utf-8", "replace"),
        "events": [event_as_json(event) for event in parsed],
    }
    code = str(getattr(adapter, "code", "") or carrier).strip().lower()
    return inbox_store(
        kind=InboundWebhook.Kind.CARRIER,
        source=code,
        delivery_id=webhook_delivery_id(adapter, headers, body),
        payload=payload,
    )


def _shipments_by_tracking_number(carrier: str, numbers: set[str]) -> dict[str, Shipment]:
    found: dict[str, Shipment] = {}
    for shipment in (
        Shipment.objects.filter(carrier__iexact=carrier, tracking_number__in=numbers)
        .exclude(status=ShipmentStatus.CANCELLED)
        .order_by("pk")
    ):
        found.setdefault(shipment.tracking_number, shipment)
    return found


def carrier_webhook_process(delivery: InboundWebhook) -> str:
    """The inbox's processor of kind carrier (run in one transaction with the marking of the
    delivery): record the events of a claimed carrier webhook on the shipments of their
    tracking numbers (events recorded already are not recorded again). Returns what could not
    be applied (unknown tracking numbers, refused events): noted on the delivery, not raised,
    since the carrier cannot fix them by sending again.
    """
    carrier = delivery.source
    source = f"carrier:{carrier}"
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    fallback = _find(payload.get("body"), TRACKING_NUMBER_FIELDS)
    by_number: dict[str, list[StoredEvent]] = {}
    for data in payload.get("events") or []:
        event = StoredEvent(data)
        by_number.setdefault(event.tracking_number or fallback, []).append(event)
    shipments = _shipments_by_tracking_number(carrier, {n for n in by_number if n})
    problems = [
        f"no shipment with tracking number {number or '(none)'}"
        for number in by_number
        if number not in shipments
    ]
    # Orders are locked in one order (by id) whatever the carrier's order: no deadlock with
    # another delivery that names the same shipments.
    for number, shipment in sorted(shipments.items(), key=lambda i: (i[1].order_id, i[1].pk)):
        batch = by_number[number]
        try:
            tracking_events_record(shipment=shipment.pk, events=batch, source=source)
        except DomainError as exc:
            problems.append(f"{_shipment_label(shipment.pk)}: {exc}")
    note = "; ".join(problems)[:500]
    if problems:
        log.warning("carrier webhook %s (%s): %s", delivery.pk, source, note)
    return note
