"""Reads of the orders app shared by the API, the admin and the apps above.

Invariant: order lists are built in a constant number of queries whatever the page size.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from djmoney.contrib.exchange.models import Rate

from orders.exchange_backend import OfflineEcbBackend
from orders.models import Customer, Order, OrderEvent, OrderHold, OrderLine, RateOverride
from orders.ports import order_shipments_port
from orders.states import HoldReason


def order_list() -> QuerySet[Order]:
    queryset = Order.objects.select_related("channel", "customer").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("line_number")),
        Prefetch("holds", queryset=OrderHold.objects.filter(released_at__isnull=True)),
    )
    # Shipments belong to fulfilment (above this app): its port reads them.
    shipments = order_shipments_port()
    return shipments.prefetch(queryset) if shipments is not None else queryset


def order_search(queryset: QuerySet[Order], term: str) -> QuerySet[Order]:
    """Match number, external id, e-mail, name, phone, SKU (and what higher apps add, such as
    tracking numbers) against the order's search text; a trigram index serves it on PostgreSQL.
    """
    words = term.lower().split()
    if not words:
        return queryset
    if len(words) == 1:
        return queryset.filter(Q(search_text__contains=words[0]) | Q(number=words[0]))
    for word in words:  # "schmidt anna" finds Anna Schmidt
        queryset = queryset.filter(search_text__contains=word)
    return queryset


def order_hold_reasons(order: Order | int) -> list[str]:
    """The order's active holds, oldest first, as staff read them: "Fraud review (the note)"."""
    labels = dict(HoldReason.choices)
    return [
        f"{labels.get(reason, reason)}{f' ({note})' if note else ''}"
        for reason, note in OrderHold.objects.filter(order=order, released_at__isnull=True)
        .order_by("placed_at", "id")
        .values_list("reason", "note")
    ]


def order_events(order: Order) -> QuerySet[OrderEvent]:
    return OrderEvent.objects.filter(order=order).order_by("created_at", "id")


def customer_orders(customer: Customer) -> QuerySet[Order]:
    return order_list().filter(customer=customer)


def rates_to_base(currencies: Iterable[str]) -> dict[str, Decimal]:
    """What one unit of each currency is in the base currency, as conversions of orders use
    it now (orders.services.fx: a staff override wins over the stored ECB rate); a currency
    without a rate is missing (never guessed). Reads only: 2 queries at most."""
    base = settings.OMS_BASE_CURRENCY
    wanted = {c for c in currencies if c and c != base}
    found: dict[str, Decimal] = {base: Decimal(1)}
    if not wanted:
        return found
    overrides = RateOverride.objects.filter(
        currency__in=wanted, valid_from__lte=timezone.localdate()
    ).values_list("currency", "rate")
    for currency, rate in overrides:
        found[currency] = 1 / rate
    rest = wanted - set(found)
    if rest:
        stored = Rate.objects.filter(
            backend_id=OfflineEcbBackend.name, currency__in=rest
        ).values_list("currency", "value")
        for currency, value in stored:
            if value:
                found[currency] = 1 / Decimal(value)
    return found
