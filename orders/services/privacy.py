"""A customer's personal data: exported and erased on request (GDPR articles 15 and 17), and
every request recorded (PrivacyRequest).

Invariants:
- the export is built when it is asked for and never stored: the request row keeps only the
  counts of what it held;
- an erasure anonymises the person and keeps the business: orders, lines, amounts, statuses,
  countries, shipments, returns, refunds and the whole stock ledger stay as they are (nothing
  is deleted, no quantity changes, so `inventory_audit` stays clean and every count and report
  is unchanged); what goes is names, e-mails, phones, street addresses, coordinates, notes and
  comments, the personal keys of stored channel payloads, the order search text and the
  tracking link (a new token: old links stop working);
- an order still in fulfilment (pending, allocated, backordered, partially shipped), or whose
  shopper the apps above still serve (an open return), blocks the erasure of the whole
  request: nothing changes, the request is recorded `blocked` with the reasons and the caller
  gets Conflict `erasure_blocked` (409); it can be run again later;
- the customer row is anonymised (its e-mail becomes erased-<id>@erased.invalid, still unique)
  when none of its orders keeps personal data; a channel-scoped erasure (Shopify's
  customers/redact) leaves it when the customer still has orders of other channels;
- once an erasure completed, no request row keeps the person's e-mail: their requests carry
  `subject_key`, a keyed hash of it;
- lock order: PrivacyRequest, Customer, then Order by primary key, then the apps' rows.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from oms.errors import Conflict, NotFound, ValidationFailed
from oms.models import IdempotencyKey, OutboxMessage
from oms.personal_data import Scrubber, erased_email
from orders.models import (
    Customer,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestScope,
    PrivacyRequestStatus,
    tracking_token,
)
from orders.ports import personal_data_holders
from orders.services.capture import search_text_for
from orders.states import OrderStatus

#: An order's personal data can go once nothing more is sent for it.
ERASABLE_STATUSES = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED}
)
EXPORT_FORMAT = "oms-personal-data/1"


class ErasureBlocked(Conflict):
    code = "erasure_blocked"
    title = "Personal data still needed"

    def __init__(self, detail: str, *, request: PrivacyRequest) -> None:
        super().__init__(detail)
        self.request = request


def subject_key(email: str) -> str:
    """A keyed hash of an e-mail: finds a person's requests without keeping the address."""
    normal = email.strip().lower().encode()
    return hmac.new(settings.SECRET_KEY.encode(), normal, hashlib.sha256).hexdigest()


# --- who and which orders ------------------------------------------------------------------


@dataclass
class Subject:
    customer: Customer | None
    emails: list[str]
    channel_code: str = ""
    external_order_ids: list[str] = field(default_factory=list)
    scope: str = PrivacyRequestScope.CUSTOMER

    def orders(self) -> QuerySet[Order]:
        if self.scope == PrivacyRequestScope.CHANNEL:
            return Order.objects.filter(channel__code=self.channel_code)
        match = Q(pk__in=[])
        if self.customer is not None:
            match |= Q(customer=self.customer)
        for email in self.emails:
            match |= Q(email__iexact=email)
        if self.scope == PrivacyRequestScope.CHANNEL_CUSTOMER:
            if self.external_order_ids:
                match |= Q(external_id__in=self.external_order_ids)
            return Order.objects.filter(match, channel__code=self.channel_code)
        return Order.objects.filter(match)


def _customer_by_email(email: str) -> Customer | None:
    normal = email.strip().lower()
    if not normal:
        return None
    return Customer.objects.annotate(email_ci=Lower("email")).filter(email_ci=normal).first()


def _subject(customer: Customer | int | None, email: str) -> tuple[Customer | None, list[str]]:
    if customer is not None:
        pk = customer if isinstance(customer, int) else customer.pk
        found = Customer.objects.filter(pk=pk).first()
        if found is None:
            raise NotFound(f"No customer {pk}.")
        emails = [found.email] if found.erased_at is None else []
        if email and email.strip().lower() != found.email.lower():
            emails.append(email.strip().lower())
        return found, emails
    normal = (email or "").strip().lower()
    if not normal:
        raise ValidationFailed("Name the customer or an e-mail address.")
    return _customer_by_email(normal), [normal]


def _subject_of(request: PrivacyRequest) -> Subject:
    emails = [request.subject_email] if request.subject_email else []
    customer = request.customer
    if customer is not None and customer.erased_at is None and customer.email not in emails:
        emails.append(customer.email)
    return Subject(
        customer=customer,
        emails=emails,
        channel_code=request.channel_code,
        external_order_ids=[str(x) for x in request.external_order_ids or []],
        scope=request.scope,
    )


# --- recording ---------------------------------------------------------------------------------


def privacy_request_create(
    *,
    kind: str,
    source: str,
    requested_by: str,
    customer: Customer | int | None = None,
    email: str = "",
    channel_code: str = "",
    external_order_ids: Sequence[Any] = (),
    external_reference: str = "",
    scope: str = PrivacyRequestScope.CUSTOMER,
    detail: str = "",
) -> tuple[PrivacyRequest, bool]:
    """Record a request (pending). Returns it and whether it is new: the same sender's
    reference twice is one request. Raises NotFound, ValidationFailed (no subject)."""
    found: Customer | None
    emails: list[str]
    if scope == PrivacyRequestScope.CHANNEL:
        found, emails = None, []
        if not channel_code:
            raise ValidationFailed("A shop redaction names its channel.")
    elif scope == PrivacyRequestScope.CHANNEL_CUSTOMER and customer is None and not email.strip():
        found, emails = None, []  # only the channel's order ids name the person
        if not channel_code or not external_order_ids:
            raise ValidationFailed("Name the customer, an e-mail address or the orders.")
    else:
        found, emails = _subject(customer, email)
    if external_reference:
        existing = PrivacyRequest.objects.filter(
            source=source, external_reference=external_reference[:128]
        ).first()
        if existing is not None:
            return existing, False
    email_of_record = emails[0] if emails else ""
    request = PrivacyRequest.objects.create(
        kind=kind,
        source=source,
        scope=scope,
        customer=found,
        subject_email=email_of_record,
        subject_key=subject_key(email_of_record) if email_of_record else "",
        channel_code=channel_code,
        external_order_ids=[str(x) for x in external_order_ids],
        external_reference=external_reference[:128],
        requested_by=requested_by[:150],
        detail=detail,
    )
    return request, True


# --- export ------------------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _customer_doc(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "created_at": _iso(customer.created_at),
        "erased_at": _iso(customer.erased_at),
    }


def _order_doc(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number,
        "channel": order.channel.code,
        "external_id": order.external_id,
        "external_number": order.external_number,
        "status": order.status,
        "payment_status": order.payment_status,
        "placed_at": _iso(order.placed_at),
        "currency": order.currency,
        "total": str(order.total),
        "shipping_price": str(order.shipping_price),
        "email": order.email,
        "phone": order.phone,
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "notes": order.notes,
        "tracking_url_token": order.tracking_token,
        "lines": [
            {
                "sku": line.sku_code,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "quantity_shipped": line.quantity_shipped,
                "quantity_cancelled": line.quantity_cancelled,
                "quantity_returned": line.quantity_returned,
            }
            for line in order.lines.all()
        ],
        "holds": [
            {"reason": h.reason, "note": h.note, "placed_at": _iso(h.placed_at)}
            for h in order.holds.all()
        ],
        "timeline": [
            {"kind": e.kind, "actor": e.actor, "data": e.data, "at": _iso(e.created_at)}
            for e in order.events.all()
        ],
        "channel_payload": order.raw_payload,
        "personal_data_erased_at": _iso(order.personal_data_erased_at),
    }


def _export(subject: Subject) -> dict[str, Any]:
    orders = list(
        subject.orders()
        .select_related("channel")
        .prefetch_related("lines", "holds", "events")
        .order_by("placed_at", "pk")
    )
    order_ids = [o.pk for o in orders]
    emails_sent = [
        {
            "order": order.number,
            "email": event.data.get("email"),
            "to": event.data.get("to"),
            "at": _iso(event.created_at),
        }
        for order in orders
        for event in order.events.all()
        if event.kind == "email_sent"
    ]
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "generated_at": _iso(timezone.now()),
        "subject": {
            "emails": subject.emails,
            "customer_id": subject.customer.pk if subject.customer else None,
            "channel": subject.channel_code or None,
        },
        "customer": _customer_doc(subject.customer) if subject.customer else None,
        "orders": [_order_doc(o) for o in orders],
        "emails_sent": emails_sent,
    }
    for holder in personal_data_holders():
        document[holder.name] = holder.export(order_ids=order_ids, emails=subject.emails)
    return document


def _counts(document: dict[str, Any]) -> dict[str, int]:
    counts = {"orders": len(document["orders"]), "emails_sent": len(document["emails_sent"])}
    for key, value in document.items():
        if isinstance(value, dict):
            for name, rows in value.items():
                if isinstance(rows, list):
                    counts[f"{key}.{name}"] = len(rows)
    return counts


def customer_data_export(
    *,
    customer: Customer | int | None = None,
    email: str = "",
    source: str,
    requested_by: str,
) -> tuple[PrivacyRequest, dict[str, Any]]:
    """Everything held about a customer (by row or e-mail), as a JSON-ready document; the
    request is recorded completed. Raises NotFound, ValidationFailed (no subject)."""
    request, _ = privacy_request_create(
        kind=PrivacyRequestKind.EXPORT,
        source=source,
        requested_by=requested_by,
        customer=customer,
        email=email,
    )
    return privacy_request_export(request=request, actor=requested_by)


def _locked_request(request: PrivacyRequest | int, kind: str, what: str) -> PrivacyRequest:
    """The request locked, with its customer. Raises ValidationFailed (of another kind)."""
    pk = request if isinstance(request, int) else request.pk
    locked = (
        PrivacyRequest.objects.select_for_update(of=("self",)).select_related("customer").get(pk=pk)
    )
    if locked.kind != kind:
        raise ValidationFailed(f"Privacy request {pk} is not {what}.")
    return locked


def privacy_request_export(
    *, request: PrivacyRequest | int, actor: str
) -> tuple[PrivacyRequest, dict[str, Any]]:
    """Build the export of an export request (a Shopify data request waiting for staff, say)
    and mark it completed. Raises ValidationFailed (not an export request)."""
    with transaction.atomic():
        locked = _locked_request(request, PrivacyRequestKind.EXPORT, "an export")
        document = _export(_subject_of(locked))
        locked.status = PrivacyRequestStatus.COMPLETED
        locked.completed_at = timezone.now()
        locked.summary = {**_counts(document), "exported_by": actor}
        locked.save(update_fields=["status", "completed_at", "summary"])
    return locked, document


# --- erasure -----------------------------------------------------------------------------------


def customer_data_erase(
    *,
    customer: Customer | int | None = None,
    email: str = "",
    source: str,
    requested_by: str,
    channel_code: str = "",
    external_order_ids: Sequence[Any] = (),
    external_reference: str = "",
) -> PrivacyRequest:
    """Anonymise a customer (every channel, or one channel's orders with `channel_code`).
    Raises ErasureBlocked (recorded blocked: orders still in fulfilment), NotFound,
    ValidationFailed."""
    request, _ = privacy_request_create(
        kind=PrivacyRequestKind.ERASE,
        source=source,
        requested_by=requested_by,
        customer=customer,
        email=email,
        channel_code=channel_code,
        external_order_ids=external_order_ids,
        external_reference=external_reference,
        scope=PrivacyRequestScope.CHANNEL_CUSTOMER
        if channel_code
        else PrivacyRequestScope.CUSTOMER,
    )
    return privacy_request_run(request=request, actor=requested_by)


def shop_data_erase(
    *, channel_code: str, source: str, requested_by: str, external_reference: str = ""
) -> PrivacyRequest:
    """Anonymise every shopper of a channel (a shop that left: Shopify's shop/redact).
    Raises ErasureBlocked, ValidationFailed."""
    request, _ = privacy_request_create(
        kind=PrivacyRequestKind.ERASE,
        source=source,
        requested_by=requested_by,
        channel_code=channel_code,
        external_reference=external_reference,
        scope=PrivacyRequestScope.CHANNEL,
    )
    return privacy_request_run(request=request, actor=requested_by)


def privacy_request_run(*, request: PrivacyRequest | int, actor: str) -> PrivacyRequest:
    """Carry out a pending or blocked erasure request (a completed one is returned as it is).
    Raises ErasureBlocked (recorded blocked, nothing changed)."""
    with transaction.atomic():
        locked = _locked_request(request, PrivacyRequestKind.ERASE, "an erasure")
        if locked.status == PrivacyRequestStatus.COMPLETED:
            return locked
        subject = _subject_of(locked)
        if subject.customer is not None:
            Customer.objects.select_for_update().filter(pk=subject.customer.pk).first()
        orders = list(
            subject.orders()
            .select_for_update()
            .filter(personal_data_erased_at__isnull=True)
            .order_by("pk")
        )
        reasons = _blockers(orders)
        if reasons:
            locked.status = PrivacyRequestStatus.BLOCKED
            locked.detail = "; ".join(reasons)
            locked.summary = {"blocked_orders": len(reasons), "run_by": actor}
            locked.save(update_fields=["status", "detail", "summary"])
        else:
            summary = _erase(locked, subject, orders)
            keys = {subject_key(e) for e in subject.emails} | {locked.subject_key}
            locked.status = PrivacyRequestStatus.COMPLETED
            locked.completed_at = timezone.now()
            locked.detail = ""
            locked.subject_email = ""
            locked.summary = {**summary, "run_by": actor}
            locked.save(
                update_fields=["status", "completed_at", "detail", "subject_email", "summary"]
            )
            # The person's earlier requests forget the e-mail too.
            PrivacyRequest.objects.filter(subject_key__in=keys - {""}).exclude(
                subject_email=""
            ).update(subject_email="")
    if locked.status == PrivacyRequestStatus.BLOCKED:
        raise ErasureBlocked(
            f"The personal data are still needed: {locked.detail}.", request=locked
        )
    return locked


def _blockers(orders: Sequence[Order]) -> list[str]:
    reasons = [
        f"order {o.number or o.pk} is {o.status}"
        for o in orders
        if o.status not in ERASABLE_STATUSES
    ]
    ids = [o.pk for o in orders]
    for holder in personal_data_holders():
        reasons += holder.blockers(order_ids=ids)
    return reasons


def _address_values(address: Any) -> tuple[list[str], list[str]]:
    if not isinstance(address, dict):
        return [], []
    values = [address.get(k) for k in ("name", "line1", "line2", "company", "phone")]
    whole = [address.get(k) for k in ("city", "postal_code")]
    return [str(v) for v in values if v], [str(v) for v in whole if v]


def scrubber_for(
    customer: Customer | None, orders: Iterable[Order], emails: Iterable[str]
) -> Scrubber:
    """The person's values, to be erased wherever they were copied."""
    values: list[str] = list(emails)
    whole: list[str] = []
    if customer is not None and customer.erased_at is None:
        values += [customer.email, customer.phone, customer.name]
        values += [customer.first_name, customer.last_name]
    for order in orders:
        values += [order.email, order.phone, order.notes]
        for address in (order.shipping_address, order.billing_address):
            more, more_whole = _address_values(address)
            values += more
            whole += more_whole
    return Scrubber(values, whole_only=whole)


def _country_only(address: Any) -> dict[str, Any]:
    country = address.get("country") if isinstance(address, dict) else None
    return {"country": country} if country else {}


def _erase(request: PrivacyRequest, subject: Subject, orders: list[Order]) -> dict[str, Any]:
    now = timezone.now()
    groups: dict[Any, list[Order]] = defaultdict(list)
    for order in orders:
        groups[order.customer_id or order.email.lower() or f"order:{order.pk}"].append(order)
    totals: dict[str, int] = defaultdict(int)
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=[o.customer_id for o in orders])}
    if subject.customer is not None:
        customers.setdefault(subject.customer.pk, subject.customer)
    for group in groups.values():
        customer = customers.get(group[0].customer_id) if group[0].customer_id else None
        emails = subject.emails if subject.scope != PrivacyRequestScope.CHANNEL else []
        _erase_group(group, customer, emails, now, totals)
    if subject.scope == PrivacyRequestScope.CHANNEL:
        for holder in personal_data_holders():
            for name, count in holder.erase_channel(channel_code=subject.channel_code).items():
                totals[f"{holder.name}.{name}"] += count
    kept = _erase_customers(customers.values(), {o.pk for o in orders}, now, totals)
    summary: dict[str, Any] = {"orders": len(orders), **totals}
    if kept:
        summary["customers_kept"] = kept  # they still have orders of other channels
    return summary


def _erase_group(
    group: list[Order],
    customer: Customer | None,
    emails: Sequence[str],
    now: Any,
    totals: dict[str, int],
) -> None:
    """Erase one buyer's orders (one customer's, or one e-mail's) and what the other apps and
    the kernel hold about them; adds the counts to `totals`."""
    scrubber = scrubber_for(customer, group, emails)
    for name, count in _erase_orders(group, scrubber, now).items():
        totals[name] += count
    ids = [o.pk for o in group]
    group_emails = sorted({e for e in [*emails, *(o.email for o in group)] if e})
    if customer is not None and customer.erased_at is None:
        group_emails.append(customer.email)
    for holder in personal_data_holders():
        for name, count in holder.erase(
            order_ids=ids, emails=group_emails, scrubber=scrubber
        ).items():
            totals[f"{holder.name}.{name}"] += count
    for name, count in _erase_kernel_rows(group_emails, scrubber).items():
        totals[name] += count


def _erase_customers(
    customers: Iterable[Customer], erased_ids: set[int], now: Any, totals: dict[str, int]
) -> list[int]:
    """Erase the customers left without an order that keeps personal data; returns the ids of
    those kept (they still have such orders, of other channels)."""
    kept = []
    for customer in customers:
        if customer.erased_at is not None:
            continue
        remaining = customer.orders.filter(personal_data_erased_at__isnull=True).exclude(
            pk__in=erased_ids
        )
        if remaining.exists():
            kept.append(customer.pk)
            continue
        _erase_customer(customer, scrubber_for(customer, [], []), now)
        totals["customers"] += 1
    return kept


def _erase_orders(orders: list[Order], scrubber: Scrubber, now: Any) -> dict[str, int]:
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    ids = [o.pk for o in orders]
    for line in OrderLine.objects.filter(order_id__in=ids).only("order_id", "sku_code"):
        lines[line.order_id].append(line)
    for order in orders:
        order.email = ""
        order.phone = ""
        order.shipping_address = _country_only(order.shipping_address)
        order.billing_address = _country_only(order.billing_address)
        order.raw_payload = scrubber.json(order.raw_payload)
        order.notes = ""
        order.tracking_token = tracking_token()
        order.personal_data_erased_at = now
        order.search_text = search_text_for(order, lines[order.pk], None)
    Order.objects.bulk_update(
        orders,
        [
            "email",
            "phone",
            "shipping_address",
            "billing_address",
            "raw_payload",
            "notes",
            "tracking_token",
            "personal_data_erased_at",
            "search_text",
        ],
        batch_size=200,
    )
    events = list(OrderEvent.objects.filter(order_id__in=ids))
    for event in events:
        event.data = scrubber.json(event.data)
    OrderEvent.objects.bulk_update(events, ["data"], batch_size=500)
    holds = list(OrderHold.objects.filter(order_id__in=ids))
    for hold in holds:
        hold.note = scrubber.text(hold.note)
        hold.release_note = scrubber.text(hold.release_note)
    OrderHold.objects.bulk_update(holds, ["note", "release_note"], batch_size=500)
    return {"orders.events": len(events), "orders.holds": len(holds)}


def _erase_customer(customer: Customer, scrubber: Scrubber, now: Any) -> None:
    Customer.objects.filter(pk=customer.pk).update(
        email=erased_email(customer.pk),
        first_name="",
        last_name="",
        phone="",
        erased_at=now,
        updated_at=now,
    )
    content_type = ContentType.objects.get_for_model(Customer)
    for entry in LogEntry.objects.filter(content_type=content_type, object_id=str(customer.pk)):
        entry.object_repr = f"customer {customer.pk} (erased)"
        entry.change_message = scrubber.text(entry.change_message)
        entry.save(update_fields=["object_repr", "change_message"])


def _erase_kernel_rows(emails: Sequence[str], scrubber: Scrubber) -> dict[str, int]:
    """Copies the kernel kept: API answers stored for replays, outbox errors."""
    if not emails:
        return {}
    match_body = Q(pk__in=[])
    match_error = Q(pk__in=[])
    for email in emails:
        match_body |= Q(response_body__icontains=email)
        match_error |= Q(last_error__icontains=email)
    keys = list(IdempotencyKey.objects.filter(match_body))
    for key in keys:
        key.response_body = scrubber.json(key.response_body)
    IdempotencyKey.objects.bulk_update(keys, ["response_body"], batch_size=200)
    messages = list(OutboxMessage.objects.filter(match_error))
    for message in messages:
        message.last_error = scrubber.text(message.last_error)
    OutboxMessage.objects.bulk_update(messages, ["last_error"], batch_size=200)
    return {"oms.idempotency_keys": len(keys), "oms.outbox_messages": len(messages)}
