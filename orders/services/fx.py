"""Currency conversion of orders into the base currency, and the refresh of stored rates.

Invariants: an order is converted once (its rate, source and date are stored and history is
never re-converted); a missing rate raises TransientError so that the task retries later; no
rate is ever guessed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from djmoney.contrib.exchange.exceptions import MissingRate
from djmoney.contrib.exchange.models import ExchangeBackend, Rate, get_rate

from oms.errors import TransientError
from oms.money import round_money
from orders.exchange_backend import SOURCE_ECB, SOURCE_OVERRIDE, OfflineEcbBackend
from orders.models import FxRatesRefresh, Order, RateOverride
from orders.services.conversion import SOURCE_SAME, converted_entry
from orders.services.lifecycle import _lock
from orders.services.timeline import order_event_add


@transaction.atomic
def fx_rates_refresh() -> FxRatesRefresh:
    """Store the latest offline ECB rates plus the overrides; returns the refresh record."""
    backend = OfflineEcbBackend()
    base = settings.OMS_BASE_CURRENCY
    backend.update_rates(base_currency=base)
    # A rate that is no longer published nor overridden must not linger.
    Rate.objects.filter(backend_id=backend.name).exclude(
        currency__in=list(backend.last_currencies)
    ).delete()
    currencies = list(
        Rate.objects.filter(backend_id=backend.name).values_list("currency", flat=True)
    )
    keys = [f"djmoney:get_rate:{c}:{base}:{backend.name}" for c in currencies]
    keys += [f"djmoney:get_rate:{base}:{c}:{backend.name}" for c in currencies]
    transaction.on_commit(lambda: cache.delete_many(keys))
    return FxRatesRefresh.objects.create(
        source=backend.name,
        rates_date=backend.last_rates_date or timezone.localdate(),
        currencies=len(currencies),
    )


def order_convert_total(*, order_id: int) -> Order:
    """Convert the order's total into the base currency once; replays return the order.

    Raises TransientError (no rate for the currency yet: retry later).
    """
    if not ExchangeBackend.objects.filter(name=OfflineEcbBackend.name).exists():
        fx_rates_refresh()
    with transaction.atomic():
        order = _lock(order_id)
        if order.total_base is not None:
            return order
        today = timezone.localdate()
        override = (
            RateOverride.objects.filter(currency=order.currency, valid_from__lte=today)
            .order_by("-valid_from")
            .first()
        )
        if order.currency == order.base_currency:
            rate, source, day = Decimal(1), SOURCE_SAME, today
        elif override is not None:
            # An override always wins; its rate is units of the currency per one base unit.
            rate, source, day = 1 / override.rate, SOURCE_OVERRIDE, override.valid_from
        else:
            try:
                rate = Decimal(get_rate(order.currency, order.base_currency))
            except MissingRate:
                raise TransientError(
                    f"No exchange rate {order.currency} -> {order.base_currency} yet."
                ) from None
            latest = FxRatesRefresh.objects.order_by("-refreshed_at", "-id").first()
            source, day = SOURCE_ECB, latest.rates_date if latest else today
        order.total_base = round_money(order.total * rate, order.base_currency)
        order.fx_rate = rate.quantize(Decimal("0.0000000001"))
        order.fx_source = source
        order.fx_date = day
        order.save(update_fields=["total_base", "fx_rate", "fx_source", "fx_date", "updated_at"])
        order_event_add(order=order, kind="converted", **converted_entry(order))
        return order
