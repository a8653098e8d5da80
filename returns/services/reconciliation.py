"""The reconciliation report: a payment provider's refunds of a day against the OMS's records.

What each provider's side is:
- `stripe`: Stripe's own list of the day's refunds (StripeProvider.refunds_on);
- `manual` (cash, bank transfers, and refunds staff paid on a channel's site): the staff
  confirmations, i.e. each `refund_succeeded` entry of an order's timeline written when staff
  confirmed a refund with its reference (ManualConfirmations below); flagged besides the
  differences: `reference_reused` (one bank or till reference confirming two refunds) and
  `awaiting_confirmation` (a refund still waiting for staff to pay and confirm it);
- `channel`: the refunds the channel's connector pushed and what the channel answered
  (channels.payments.ChannelRefunds.refunds_on: the channel's refund id and amount per push).
  Refunds made directly on a channel's site, which no connector reads back, are not covered;
  refunds of channels without a refund API (Amazon, the till) are paid by hand and not listed
  by any connector: the report shows them unflagged (`not_listed`).

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


class ManualConfirmations:
    """The `manual` provider's side: staff's confirmations of the refunds they paid by hand (the
    `refund_succeeded` timeline entries of refunds of the manual provider, with the reference
    staff gave), by the day they were confirmed (UTC)."""

    name = "manual"

    def refunds_on(self, day: dt.date) -> list[ProviderRecord]:
        from orders.models import OrderEvent

        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        entries = list(
            OrderEvent.objects.filter(
                kind="refund_succeeded",
                created_at__gte=start,
                created_at__lt=start + dt.timedelta(days=1),
                data__provider="manual",
            ).values_list("data", flat=True)
        )
        ids = [int(e["refund_id"]) for e in entries if isinstance(e.get("refund_id"), int)]
        keys = {
            r.pk: r.key_for_provider
            for r in Refund.objects.filter(pk__in=ids).only("pk", "provider_key", "idempotency_key")
        }
        return [
            ProviderRecord(
                reference=str(entry.get("reference") or ""),
                key=keys.get(entry.get("refund_id"), ""),
                amount=Decimal(str(entry.get("amount") or "0")),
                currency=str(entry.get("currency") or ""),
                state="succeeded",
            )
            for entry in entries
        ]


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


def _lines_of_ours(
    provider: str,
    ours: list[Refund],
    records: list[ProviderRecord],
    keyed: dict[str, ProviderRecord],
    covers: Any,
) -> tuple[list[ReconciliationLine], set[str]]:
    """A line for each of the OMS's refunds, against the provider's record of it."""
    lines: list[ReconciliationLine] = []
    seen: set[str] = set()
    references: dict[str, int] = {}
    for listed_record in records:
        if listed_record.reference:
            reference = listed_record.reference
            references[reference] = references.get(reference, 0) + 1
    for refund in ours:
        key = refund.key_for_provider
        record = keyed.get(key)
        seen.add(key)
        problem = _problem(refund, record)
        listed = covers is None or record is not None or covers(refund)
        if not listed:
            problem = "not_listed" if problem == "missing_at_provider" else problem
        if provider == "manual" and not problem:
            if record is not None and references.get(record.reference, 0) > 1:
                problem = "reference_reused"
            elif refund.status == RefundStatus.PENDING and refund.waiting_for == "staff":
                problem = "awaiting_confirmation"
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
                problem=problem,
            )
        )
    return lines, seen


def _lines_unknown_to_oms(
    records: list[ProviderRecord], seen: set[str]
) -> list[ReconciliationLine]:
    """A line for each of the provider's records the OMS has no refund for."""
    return [
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
        for record in records
        if not (record.key and record.key in seen)
    ]


def payments_reconcile(
    *, provider: str, day: dt.date, source: ListingProvider | None = None
) -> dict[str, Any]:
    """The provider's refunds of `day` (UTC) against the OMS's refunds paid by that provider on
    that day (and those the provider's records name). Raises ValidationFailed (a provider that
    cannot list its refunds), TransientError (the provider did not answer)."""
    source = source or listing_provider_for(provider)
    if source is None and provider == "manual":
        source = ManualConfirmations()
    if source is None:
        raise ValidationFailed(
            f"The {provider} provider cannot list its refunds.",
            errors={
                "provider": [
                    "Reconciliation needs a provider that lists refunds: stripe, "
                    "manual, or channel with its connectors installed."
                ]
            },
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
        .select_related("order__channel")
        .order_by("pk")
    )
    lines, seen = _lines_of_ours(provider, ours, records, keyed, getattr(source, "covers", None))
    lines += _lines_unknown_to_oms(records, seen)
    return {
        "provider": provider,
        "date": day.isoformat(),
        "provider_refunds": len(records),
        "oms_refunds": len(ours),
        "differences": sum(1 for line in lines if line.problem and line.problem != "not_listed"),
        "lines": [asdict(line) for line in lines],
    }
