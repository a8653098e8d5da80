"""The reconciliation report: a payment provider's refunds of a day against the OMS's records.

Invariants:
- records are matched by our key (the provider key the refund was sent with, which the
  provider keeps: Stripe's metadata `oms_refund_key`), never by amount;
- every difference is flagged, none is corrected here: `unknown_to_oms` (the provider made a
  refund the OMS did not ask for, or under a key it does not know), `missing_at_provider` (the
  OMS says a refund of that day succeeded, the provider lists none), `amount_differs`,
  `status_differs` (e.g. the provider paid a refund the OMS still shows pending or failed);
- the report reads; it writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q

from oms.errors import ValidationFailed
from oms.money import money_format
from returns.models import Refund
from returns.payments import ListingProvider, ProviderRecord, listing_provider_for
from returns.states import RefundStatus


@dataclass(frozen=True)
class ReconciliationLine:
    key: str
    refund: int | None
    order: str
    reference: str
    currency: str
    oms_amount: str | None
    provider_amount: str | None
    oms_status: str
    provider_status: str
    problem: str  # "" when both sides agree


def _amount(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else money_format(value, currency)


def _problem(refund: Refund | None, record: ProviderRecord | None) -> str:
    if refund is None:
        return "unknown_to_oms"
    if record is None:
        return "missing_at_provider" if refund.status == RefundStatus.SUCCEEDED else ""
    if refund.amount != record.amount or refund.currency != record.currency:
        return "amount_differs"
    if refund.status != record.state:
        return "status_differs"
    return ""


def payments_reconcile(
    *, provider: str, day: dt.date, source: ListingProvider | None = None
) -> dict[str, Any]:
    """The provider's refunds of `day` (UTC) against the OMS's refunds paid by that provider on
    that day (and those the provider's records name). Raises ValidationFailed (a provider that
    cannot list its refunds), TransientError (the provider did not answer)."""
    source = source or listing_provider_for(provider)
    if source is None:
        raise ValidationFailed(
            f"The {provider} provider cannot list its refunds.",
            errors={"provider": ["Reconciliation needs a provider that lists refunds: stripe."]},
        )
    records = source.refunds_on(day)
    keyed = {r.key: r for r in records if r.key}
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    ours = list(
        Refund.objects.filter(
            Q(provider=provider, updated_at__gte=start, updated_at__lt=start + dt.timedelta(days=1))
            | Q(provider_key__in=list(keyed))
            | Q(provider_key="", idempotency_key__in=list(keyed))
        )
        .select_related("order")
        .order_by("pk")
    )
    lines: list[ReconciliationLine] = []
    seen: set[str] = set()
    for refund in ours:
        key = refund.key_for_provider
        record = keyed.get(key)
        seen.add(key)
        lines.append(
            ReconciliationLine(
                key=key,
                refund=refund.pk,
                order=refund.order.number or str(refund.order_id),
                reference=record.reference if record else refund.provider_reference,
                currency=refund.currency,
                oms_amount=_amount(refund.amount, refund.currency),
                provider_amount=_amount(record.amount, record.currency) if record else None,
                oms_status=refund.status,
                provider_status=record.state if record else "",
                problem=_problem(refund, record),
            )
        )
    for record in records:
        if record.key and record.key in seen:
            continue
        lines.append(
            ReconciliationLine(
                key=record.key,
                refund=None,
                order="",
                reference=record.reference,
                currency=record.currency,
                oms_amount=None,
                provider_amount=_amount(record.amount, record.currency),
                oms_status="",
                provider_status=record.state,
                problem="unknown_to_oms",
            )
        )
    return {
        "provider": provider,
        "date": day.isoformat(),
        "provider_refunds": len(records),
        "oms_refunds": len(ours),
        "differences": sum(1 for line in lines if line.problem),
        "lines": [asdict(line) for line in lines],
    }
