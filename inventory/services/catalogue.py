"""SKUs, their prices and locations.

Invariants: SKUs, prices and locations are created and changed only here, validated in full
first (ValidationFailed names the field); a code, once created, does not change; a SKU's
backorder flag is copied onto its stock levels in the same transaction (the database checks
it there); one price per SKU, currency and channel (or none: the default price).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from inventory.models import Channel, Location, Sku, SkuPrice, StockLevel
from oms.errors import Conflict, ValidationFailed
from oms.money import is_currency, is_current_currency, money_problem
from oms.services import model_create, model_update

#: What a SKU's update may change, after its code (the admin form and the API show these).
SKU_UPDATABLE = (
    "name",
    "barcode",
    "weight_grams",
    "is_active",
    "allow_backorder",
    "track_inventory",
    "lead_time_days",
)
#: What a location's update may change, after its code (the API shows these, in this order).
LOCATION_UPDATABLE = (
    "name",
    "kind",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "latitude",
    "longitude",
    "is_active",
    "ships_online",
    "priority",
    "daily_capacity",
)


def sku_create(
    *,
    code: str,
    name: str,
    barcode: str = "",
    weight_grams: int | None = None,
    is_active: bool = True,
    allow_backorder: bool = False,
    track_inventory: bool = True,
    lead_time_days: int = 14,
) -> Sku:
    """Create a SKU. Raises ValidationFailed (bad or duplicate code/barcode), Conflict (race)."""
    return model_create(
        Sku,
        data={
            "code": code,
            "name": name,
            "barcode": barcode,
            "weight_grams": weight_grams,
            "is_active": is_active,
            "allow_backorder": allow_backorder,
            "track_inventory": track_inventory,
            "lead_time_days": lead_time_days,
        },
    )


@transaction.atomic
def sku_update(*, sku: Sku, data: Mapping[str, Any]) -> Sku:
    """Change the updatable fields of a SKU present in `data`. Raises ValidationFailed."""
    if data.get("allow_backorder") is False and sku.allow_backorder:
        short = StockLevel.objects.filter(sku=sku, reserved__gt=F("on_hand"))
        if short.exists():
            raise Conflict(
                "Orders hold more of this SKU than is on hand: receive stock or release them "
                "before turning backorders off.",
                code="backorders_outstanding",
            )
    sku, changed = model_update(instance=sku, fields=SKU_UPDATABLE, data=data)
    if "allow_backorder" in changed:
        StockLevel.objects.filter(sku=sku).update(allow_backorder=sku.allow_backorder)
    return sku


def location_create(
    *,
    code: str,
    name: str,
    kind: str,
    country: str,
    line1: str = "",
    line2: str = "",
    city: str = "",
    region: str = "",
    postal_code: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    is_active: bool = True,
    ships_online: bool = True,
    priority: int = 100,
    daily_capacity: int | None = None,
) -> Location:
    """Create a location. Raises ValidationFailed (bad fields, duplicate code), Conflict (race)."""
    return model_create(
        Location,
        data={
            "code": code,
            "name": name,
            "kind": kind,
            "country": country,
            "line1": line1,
            "line2": line2,
            "city": city,
            "region": region,
            "postal_code": postal_code,
            "latitude": latitude,
            "longitude": longitude,
            "is_active": is_active,
            "ships_online": ships_online,
            "priority": priority,
            "daily_capacity": daily_capacity,
        },
    )


@transaction.atomic
def location_update(*, location: Location, data: Mapping[str, Any]) -> Location:
    """Change the updatable fields of a location present in `data`. Raises ValidationFailed."""
    location, _ = model_update(instance=location, fields=LOCATION_UPDATABLE, data=data)
    return location


def price_errors(*, currency: str, amount: Decimal) -> None:
    """Raise ValidationFailed unless `amount` is a price in `currency` (an ISO 4217 code, upper
    case): more than 0 and on the currency's grid. The admin form and the API say the same."""
    errors: dict[str, list[str]] = {}
    if not is_currency(currency):
        errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code."]
    else:
        problem = money_problem(amount, currency)
        if problem or amount <= 0:
            errors["amount"] = [problem or "A price is more than 0 (delete it to have none)."]
    if errors:
        raise ValidationFailed("The price cannot be set.", errors=errors)


@transaction.atomic
def sku_price_set(
    *,
    sku: Sku,
    currency: str,
    amount: Decimal,
    channel: Channel | None = None,
    create_only: bool = False,
) -> SkuPrice:
    """Set a SKU's current price in `currency` on `channel` (None: its default price), creating
    or replacing it. Raises ValidationFailed (unknown currency or, for a new price, one no
    longer in use; not more than 0; off the currency's grid), Conflict (`create_only` and the
    price exists, or a concurrent create)."""
    currency = (currency or "").upper()
    price_errors(currency=currency, amount=amount)
    price = (
        SkuPrice.objects.select_for_update()
        .filter(sku=sku, channel=channel, currency=currency)
        .first()
    )
    if price is None:
        if not is_current_currency(currency):
            raise ValidationFailed(
                "The price cannot be set.",
                errors={"currency": [f"{currency} is no longer in use anywhere."]},
            )
        try:
            with transaction.atomic():
                return SkuPrice.objects.create(
                    sku=sku, channel=channel, currency=currency, amount=amount
                )
        except IntegrityError:  # created meanwhile by another request
            raise Conflict(
                "This price was just set by someone else: read it again.", code="price_exists"
            ) from None
    if create_only:
        where = f"on {channel.code}" if channel else "by default"
        raise Conflict(
            f"{sku.code} already has a {currency} price {where} (#{price.pk}): change that one.",
            code="price_exists",
        )
    price.amount = amount
    price.save(update_fields=["amount", "updated_at"])
    return price


@transaction.atomic
def sku_price_delete(*, price: SkuPrice) -> None:
    """Remove a price: the SKU then sells at its default price there (or has none)."""
    price.delete()
