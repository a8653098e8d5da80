"""Exchange rates set by staff (RateOverride) and their effect on the stored rates.

Invariants: an override is for an ISO 4217 currency other than the base currency, with a
positive rate (units of the currency per one unit of the base currency); saving or deleting one
refreshes the stored rates in the same transaction, so the next conversion uses it (an override
always wins over the ECB rate); a deleted override's rate never lingers: the ECB rate comes
back, or the currency has no rate at all and conversions wait for one. Orders already converted
are never re-converted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from djmoney.contrib.exchange.models import Rate

from oms.errors import ValidationFailed
from oms.money import is_currency
from oms.services import model_create, model_update
from orders.exchange_backend import OfflineEcbBackend
from orders.models import FxRatesRefresh, RateOverride
from orders.services.fx import fx_rates_refresh

RATE_OVERRIDE_FIELDS = ("rate", "valid_from", "note")


def _rate_cache_forget(currency: str) -> None:
    base = settings.OMS_BASE_CURRENCY
    backend = OfflineEcbBackend.name
    keys = [
        f"djmoney:get_rate:{currency}:{base}:{backend}",
        f"djmoney:get_rate:{base}:{currency}:{backend}",
    ]
    transaction.on_commit(lambda: cache.delete_many(keys))


@transaction.atomic
def rate_override_save(
    *,
    currency: str,
    rate: Decimal,
    valid_from: dt.date | None = None,
    note: str = "",
) -> RateOverride:
    """Create or change the override of `currency`, then refresh the stored rates.

    Raises ValidationFailed (unknown or base currency, rate not positive, note too long).
    """
    currency = str(currency or "").strip().upper()
    errors: dict[str, list[str]] = {}
    if not is_currency(currency):
        errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code."]
    elif currency == settings.OMS_BASE_CURRENCY:
        errors["currency"] = [f"{currency} is the base currency: its rate is always 1."]
    if rate is None or not Decimal(rate).is_finite() or Decimal(rate) <= 0:
        errors["rate"] = ["A positive rate: units of the currency per one unit of the base."]
    if errors:
        raise ValidationFailed("This exchange rate cannot be saved.", errors=errors)
    data: dict[str, object] = {"rate": Decimal(rate), "note": note}
    if valid_from is not None:
        data["valid_from"] = valid_from
    existing = RateOverride.objects.select_for_update().filter(currency=currency).first()
    if existing is None:
        override = model_create(RateOverride, data={"currency": currency, **data})
    else:
        override, _ = model_update(instance=existing, fields=RATE_OVERRIDE_FIELDS, data=data)
    fx_rates_refresh()
    _rate_cache_forget(currency)
    return override


@transaction.atomic
def rate_override_delete(*, override: RateOverride | int) -> FxRatesRefresh | None:
    """Remove an override; the ECB rate (if the ECB publishes the currency) takes its place.

    Returns the refresh record, or None if the override was already gone.
    """
    pk = override if isinstance(override, int) else override.pk
    found = RateOverride.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        return None
    currency = found.currency
    found.delete()
    # The rates backend only inserts and updates rates: drop the stored one, so that a currency
    # the ECB does not publish is left without a rate instead of keeping the override's.
    Rate.objects.filter(backend_id=OfflineEcbBackend.name, currency=currency).delete()
    refresh = fx_rates_refresh()
    _rate_cache_forget(currency)
    return refresh
