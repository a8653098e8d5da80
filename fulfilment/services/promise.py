"""`POST /promise/`: can this basket reach this postcode, from where, and when?

Invariant: a promise reserves nothing and writes nothing; it plans exactly as routing would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import timezone

from fulfilment.geocoding import geocode
from fulfilment.services.routing import (
    Candidate,
    Need,
    Plan,
    _load_free,
    _plan,
    _policy_and_candidates,
    plan_dates,
)
from inventory.models import Channel, Sku
from oms.errors import ValidationFailed
from orders.models import Order


def _promise_input(
    *, channel: str, destination: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]
) -> tuple[Any, str, list[str], dict[str, Sku]]:
    """(channel, country, the lines' SKU codes, the active SKUs by code) of a valid request.

    Raises ValidationFailed with every problem at once."""
    errors: dict[str, list[str]] = {}
    channel_obj = Channel.objects.filter(code=channel).first()
    if channel_obj is None:
        errors["channel"] = [f"No channel {channel!r}."]
    country = str(destination.get("country") or "").upper()
    if len(country) != 2:
        errors["destination.country"] = ["An ISO 3166-1 alpha-2 country code."]
    codes = [str(line.get("sku") or "") for line in lines]
    skus = {s.code: s for s in Sku.objects.filter(code__in=codes, is_active=True)}
    if not lines:
        errors["lines"] = ["At least one line."]
    for index, line in enumerate(lines):
        if codes[index] not in skus:
            errors[f"lines.{index}.sku"] = [f"Unknown SKU {codes[index]!r}."]
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or quantity <= 0:
            errors[f"lines.{index}.quantity"] = ["A positive whole number."]
    if errors:
        raise ValidationFailed("The promise cannot be computed.", errors=errors)
    return channel_obj, country, codes, skus


def _promise_option(
    plan: Plan, candidates: Sequence[Candidate], *, country: str, now: dt.datetime
) -> dict[str, Any]:
    """The dates of a deliverable plan: it ships when its last location ships, arrives when
    its last parcel does."""
    by_pk = {c.location.pk: c for c in candidates}
    dates = plan_dates(plan, candidates, country, now)
    used = sorted(dates, key=lambda pk: by_pk[pk].sort_key())
    dated = [dates[pk] for pk in used]
    return {
        "locations": [by_pk[pk].location.code for pk in used],
        "ship_date": max(d.ship_date for d in dated),
        "delivery_date": max(d.delivery_date for d in dated),
        "carrier": dated[0].carrier,
        "service": dated[0].service,
    }


def promise(
    *,
    channel: str,
    destination: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Plan the basket like routing would and date it. Raises ValidationFailed (unknown
    channel or SKU, bad quantity, no destination country)."""
    channel_obj, country, codes, skus = _promise_input(
        channel=channel, destination=destination, lines=lines
    )
    now = now or timezone.now()
    needs = [
        Need(
            index,
            skus[code].pk if skus[code].track_inventory else None,
            code,
            int(line["quantity"]),
        )
        for index, (code, line) in enumerate(zip(codes, lines, strict=True))
    ]
    address = {"country": country, "postal_code": destination.get("postal_code") or ""}
    point = geocode(address)
    probe = Order(channel=channel_obj, shipping_address=address)
    policy, candidates, _ = _policy_and_candidates(probe, point, country)
    _load_free(candidates, {n.sku_id for n in needs if n.sku_id is not None})
    plan = _plan(needs, candidates, policy)
    deliverable = plan.kind in ("single", "split")
    options = []
    if deliverable:
        options.append(_promise_option(plan, candidates, country=country, now=now))
    return {
        "deliverable": deliverable,
        "reason": plan.reason,
        "options": options,
        "destination_precision": point.precision if point else "unplaced",
    }
