"""Payments recorded on an order: the authorisation (or capture) the shop sends with it, and
capture on shipment.

Invariants:
- a payment's amount is positive, on the order's currency grid, in the order's currency; its
  key is unique (the same key again returns the first record, a different payment under it is
  a conflict);
- captured never exceeds what was authorised (when an authorisation is recorded), checked
  under the order's lock;
- capture on shipment (channels with `capture_on_shipment`, orders with an authorisation):
  each shipped shipment captures what it shipped, once (keyed by the shipment), never more
  than is left of the authorisation, so the shipments of a split order capture exactly the
  order's total; once nothing is left to ship, what was not captured is voided (once per
  order); captures and voids of one order go to the provider one at a time (a pending record
  is claimed under the order's lock), are looked up before a retry of a lost answer, and the
  order's payment_status follows (authorized, partially_paid, paid, voided, then refunds).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum

from oms.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermanentError,
    TransientError,
    ValidationFailed,
)
from oms.money import money_problem
from oms.outbox import outbox_enqueue
from orders.models import Order
from orders.services import order_event_add, order_get_for_update, order_payment_status_set
from orders.states import HoldReason, PaymentStatus
from returns.models import Payment
from returns.payments import (
    CaptureRequest,
    CapturingProvider,
    ChargeRequest,
    ChargingProvider,
    ProviderCapture,
    capturing_provider_for,
    charging_provider_for,
)
from returns.states import PaymentKind, PaymentRecordStatus

ZERO = Decimal(0)


def payments_total(order: Order, kind: str) -> Decimal:
    """What the order's succeeded payments of `kind` add up to."""
    total = Payment.objects.filter(
        order=order, kind=kind, status=PaymentRecordStatus.SUCCEEDED
    ).aggregate(total=Sum("amount"))["total"]
    return Decimal(total or ZERO)


@transaction.atomic
def payment_record(
    *,
    order: Order | int,
    kind: str,
    amount: Decimal,
    reference: str,
    provider: str = "",
    key: str = "",
    actor: str = "system",
) -> Payment:
    """Record an authorisation or capture the shop (or its provider) made for the order.

    Raises ValidationFailed (kind, amount, reference), Conflict `payment_exceeds_authorized`
    (a capture above what is authorised), Conflict `idempotency_key_reused`, NotFound.
    """
    if kind not in (PaymentKind.AUTHORIZATION, PaymentKind.CAPTURE):
        raise ValidationFailed(
            "Record an authorisation or a capture.",
            errors={"kind": ["One of: authorization, capture."]},
        )
    reference = (reference or "").strip()
    if not reference or len(reference) > 128:
        raise ValidationFailed(
            "The provider's reference is required.", errors={"reference": ["1 to 128 chars."]}
        )
    order_id = order if isinstance(order, int) else int(order.pk)
    locked = order_get_for_update(order_id)
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("A payment is positive.", errors={"amount": ["Must be > 0."]})
    problem = money_problem(amount, locked.currency)
    if problem:
        raise ValidationFailed(
            f"The amount is not an amount of {locked.currency}.", errors={"amount": [problem]}
        )
    key = key or f"{kind}-{locked.pk}-{reference}"
    existing = Payment.objects.filter(key=key).first()
    if existing is not None:
        if (existing.order_id, existing.kind, existing.amount) != (locked.pk, kind, amount):
            raise Conflict("This key was used for another payment.", code="idempotency_key_reused")
        return existing
    if kind == PaymentKind.CAPTURE:
        authorised = payments_total(locked, PaymentKind.AUTHORIZATION)
        captured = payments_total(locked, PaymentKind.CAPTURE)
        if authorised and captured + amount > authorised:
            raise Conflict(
                f"At most {authorised - captured} {locked.currency} is left to capture.",
                code="payment_exceeds_authorized",
            )
    payment = Payment.objects.create(
        order=locked,
        provider=provider or locked.channel.payment_provider,
        kind=kind,
        amount=amount,
        currency=locked.currency,
        reference=reference,
        key=key,
        actor=actor,
    )
    order_event_add(
        order=locked,
        kind=f"payment_{kind}_recorded",
        actor=actor,
        payment_id=payment.pk,
        amount=str(amount),
        currency=locked.currency,
        reference=reference,
        provider=payment.provider,
    )
    return payment


@transaction.atomic
def order_mark_paid(*, order: Order | int, reference: str, actor: str = "system") -> Payment:
    """Staff saw the money of an order held `payment_pending` arrive (a bank transfer, cash,
    a cheque): record what is still unpaid as a capture by hand (`manual`, with the
    transfer's reference) and set the order paid, which releases its payment hold
    (orders.services.order_payment_status_set -> order_release). The same reference again
    returns the first record. Raises ValidationFailed (reference), Conflict
    `order_not_awaiting_payment` (no active payment hold), NotFound."""
    reference = (reference or "").strip()
    if not reference or len(reference) > 128:
        raise ValidationFailed(
            "Give the payment's reference (the transfer's, receipt's or cheque's).",
            errors={"reference": ["1 to 128 characters."]},
        )
    order_id = order if isinstance(order, int) else int(order.pk)
    locked = order_get_for_update(order_id)
    key = f"mark-paid-{locked.pk}-{reference}"[:80]
    existing = Payment.objects.filter(key=key).first()
    if existing is not None:
        return existing
    held = locked.holds.filter(reason=HoldReason.PAYMENT_PENDING, released_at__isnull=True).exists()
    if not held:
        raise Conflict(
            f"Order {locked.number} is not held waiting for its payment.",
            code="order_not_awaiting_payment",
        )
    unpaid = locked.total - payments_total(locked, PaymentKind.CAPTURE)
    if unpaid <= 0:
        raise Conflict(
            f"Order {locked.number} is paid already: release its hold instead.",
            code="order_not_awaiting_payment",
        )
    payment = payment_record(
        order=locked,
        kind=PaymentKind.CAPTURE,
        amount=unpaid,
        reference=reference,
        provider="manual",
        key=key,
        actor=actor,
    )
    order_payment_status_set(order=locked, status=PaymentStatus.PAID, actor=actor)
    return payment


# --- capture on shipment -----------------------------------------------------------------------

CAPTURE_TASK = "returns.payment_capture"
VOID_TASK = "returns.payment_void"
SHIPPED_STATUSES = ("shipped", "delivered")


def capture_key(shipment_id: int, retry: int = 0) -> str:
    """The key of a shipment's capture; a retry after a failure is a new capture with a new
    key (`-r1`, `-r2` ...: a provider replays the failure of a key it saw)."""
    base = f"capture-shipment-{shipment_id}"
    return f"{base}-r{retry}" if retry else base


def shipment_captures(shipment_id: int) -> list[Payment]:
    """The capture records of a shipment, oldest first (retries after failures follow)."""
    base = capture_key(shipment_id)
    return list(
        Payment.objects.filter(
            Q(key=base) | Q(key__startswith=f"{base}-r"), kind=PaymentKind.CAPTURE
        ).order_by("pk")
    )


def capture_is_stuck(payment: Payment) -> bool:
    """A capture whose provider never answered through every retry of its task: still pending
    (it may have happened), flagged with the reason (see payment_capture_gave_up)."""
    return payment.status == PaymentRecordStatus.PENDING and bool(payment.failure_reason)


def void_key(order_id: int) -> str:
    return f"void-order-{order_id}"


def capture_on_shipment(order: Order) -> bool:
    """The order's channel captures on shipment and the order came authorised (a recorded
    authorisation with the provider's reference)."""
    return (
        bool(order.channel.capture_on_shipment)
        and Payment.objects.filter(
            order=order, kind=PaymentKind.AUTHORIZATION, status=PaymentRecordStatus.SUCCEEDED
        ).exists()
    )


def shipment_capture_amount(*, shipment_id: int) -> Decimal:
    """What a shipped shipment is worth to the shopper: per order line, the shipped units'
    share of the line's total (oms.money.units_share through units_paid: the line's units are
    taken from its first on, in the order of the shipments, so the shipments of a line add up
    to exactly its total), plus the shipping price with the order's first shipment."""
    from fulfilment.models import Shipment, ShipmentLine
    from returns.services._common import units_paid

    shipment = Shipment.objects.select_related("order").get(pk=shipment_id)
    order = shipment.order
    shipped = list(
        ShipmentLine.objects.filter(shipment__order=order, shipment__status__in=SHIPPED_STATUSES)
        .select_related("order_line")
        .order_by("shipment_id", "pk")
    )
    before: dict[int, int] = {}
    amount = ZERO
    for line in shipped:
        units = line.quantity_packed or line.quantity
        start = before.get(line.order_line_id, 0)
        if line.shipment_id == shipment_id:
            amount += units_paid(line.order_line, order, start, units)
        before[line.order_line_id] = start + units
    if shipped and shipped[0].shipment_id == shipment_id:
        amount += order.shipping_price
    return amount


def _pending_claim(
    *, order_id: int, key: str, kind: str, amount: Decimal, authorised: Decimal
) -> tuple[Payment | None, bool]:
    """The pending record of a capture or void about to be asked of the provider, and whether
    it is new, under the order's lock: one at a time per order (another one in flight:
    TransientError, try later); the same key again takes its own pending record back (its
    answer was lost). The amount is cut to what is left of the authorisation (None: nothing)."""
    with transaction.atomic():
        order = order_get_for_update(order_id)
        existing = Payment.objects.filter(key=key).first()
        if existing is not None:
            return existing, False
        busy = Payment.objects.filter(order=order, status=PaymentRecordStatus.PENDING).exists()
        if busy:
            raise TransientError(f"Another capture of order {order.number} is in flight.")
        amount = min(amount, authorised - payments_total(order, PaymentKind.CAPTURE))
        if amount <= 0:
            return None, False
        created = Payment.objects.create(
            order=order,
            provider=order.channel.payment_provider,
            kind=kind,
            status=PaymentRecordStatus.PENDING,
            amount=amount,
            currency=order.currency,
            key=key,
        )
        return created, True


def _outcome_save(*, payment: Payment, outcome: ProviderCapture) -> Payment:
    """Store the provider's answer on the pending record; the order's payment status follows."""
    with transaction.atomic():
        order = order_get_for_update(payment.order_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentRecordStatus.PENDING:
            return locked
        locked.status = outcome.state
        locked.reference = (outcome.reference or locked.reference)[:128]
        locked.failure_reason = outcome.message[:500]
        locked.save(update_fields=["status", "reference", "failure_reason", "updated_at"])
        order_event_add(
            order=order,
            kind=f"payment_{locked.kind}_{outcome.state}",
            payment_id=locked.pk,
            amount=str(locked.amount),
            currency=locked.currency,
            reference=locked.reference,
            failure=locked.failure_reason,
        )
        payment_status_sync(order=order)
        return locked


def payment_status_sync(*, order: Order) -> None:
    """The payment status of an order captured on shipment, from its records (call under the
    order's lock): nothing captured -> authorized (voided once the rest was voided); captured
    with units left to ship -> partially_paid; everything shipped or cancelled -> paid; then
    refunds -> partially_refunded, or refunded once they reach what was captured."""
    from returns.models import Refund
    from returns.states import RefundStatus

    captured = payments_total(order, PaymentKind.CAPTURE)
    voided = payments_total(order, PaymentKind.VOID)
    refunded = Decimal(
        Refund.objects.filter(order=order, status=RefundStatus.SUCCEEDED).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    remaining = any(
        line.quantity > line.quantity_shipped + line.quantity_cancelled
        for line in order.lines.all()
    )
    if captured <= 0:
        status = PaymentStatus.VOIDED if voided > 0 else PaymentStatus.AUTHORIZED
    elif refunded > 0:
        done = refunded >= captured and not remaining
        status = PaymentStatus.REFUNDED if done else PaymentStatus.PARTIALLY_REFUNDED
    else:
        status = PaymentStatus.PARTIALLY_PAID if remaining else PaymentStatus.PAID
    order_payment_status_set(order=order, status=status)


def _capture_request(payment: Payment, authorisation: Payment, *, final: bool) -> CaptureRequest:
    captured = payments_total(payment.order, PaymentKind.CAPTURE)
    return CaptureRequest(
        key=payment.key,
        order_id=payment.order_id,
        order_number=payment.order.number or str(payment.order_id),
        payment_reference=authorisation.reference,
        amount=payment.amount,
        currency=payment.currency,
        captured_before=captured,
        final=final,
    )


def payment_capture_shipment(
    *, shipment_id: int, provider: CapturingProvider | None = None
) -> Payment | None:
    """Capture what a shipment shipped (see shipment_capture_amount) from the order's
    authorisation, once per shipment (keyed); None when the order is not captured on shipment
    or the shipment is worth nothing. A capture whose earlier answer was lost is looked up
    first. TransientError propagates (the task retries); PermanentError fails the capture (on
    the order's timeline). Raises NotFound."""
    from fulfilment.models import Shipment

    shipment = Shipment.objects.select_related("order__channel").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} does not exist.")
    order = shipment.order
    if shipment.status not in SHIPPED_STATUSES or not capture_on_shipment(order):
        return None
    earlier = shipment_captures(shipment_id)
    latest = earlier[-1] if earlier else None
    if latest is not None and latest.status != PaymentRecordStatus.PENDING:
        return latest  # succeeded, or failed: staff retry it (payment_capture_retry)
    key = latest.key if latest is not None else capture_key(shipment_id)
    authorisation = _authorisation(order)
    payment, first = _pending_claim(
        order_id=order.pk,
        key=key,
        kind=PaymentKind.CAPTURE,
        amount=shipment_capture_amount(shipment_id=shipment_id),
        authorised=authorisation.amount,
    )
    if payment is None:
        return None
    psp = provider or capturing_provider_for(order.channel.payment_provider)
    if psp is None:
        outcome = ProviderCapture(
            state="failed", message=f"{order.channel.payment_provider} cannot capture."
        )
        return _outcome_save(payment=payment, outcome=outcome)
    left = authorisation.amount - payments_total(order, PaymentKind.CAPTURE)
    request = _capture_request(payment, authorisation, final=payment.amount == left)
    outcome = _asked(psp, request, first=first, void=False)
    return _outcome_save(payment=payment, outcome=outcome)


def payment_capture_gave_up(*, shipment_id: int, reason: str) -> None:
    """The capture task of a shipment failed for good (the provider never answered): its
    pending record stays pending (the capture may have happened) and is flagged with the
    reason, on the order's timeline; staff retry it (payment_capture_retry: looked up first)."""
    with transaction.atomic():
        pending = [c for c in shipment_captures(shipment_id) if c.status == "pending"]
        if not pending:
            return
        order = order_get_for_update(pending[-1].order_id)
        locked = Payment.objects.select_for_update().get(pk=pending[-1].pk)
        if locked.status != PaymentRecordStatus.PENDING:
            return
        locked.failure_reason = f"The payment provider did not answer: {reason}"[:500]
        locked.save(update_fields=["failure_reason", "updated_at"])
        order_event_add(
            order=order,
            kind="payment_capture_stuck",
            payment_id=locked.pk,
            amount=str(locked.amount),
            currency=locked.currency,
            reason=locked.failure_reason,
        )


def payment_capture_retry(*, payment: Payment | int, actor: str = "system") -> Payment:
    """Staff ask again for a capture that failed (a new capture record under a new key, for
    what is still left of the authorisation) or whose provider never answered (the same
    record, flag cleared). Either way the provider is asked first whether the capture
    happened (capture_lookup) before it is asked to capture: never captured twice. Runs after
    commit (the capture task, through the outbox). Raises InvalidTransition (not a failed or
    stuck capture, or not the shipment's latest), Conflict `capture_in_flight` (another
    capture of the order is pending), NotFound."""
    payment_id = payment if isinstance(payment, int) else int(payment.pk)
    order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Payment {payment_id} does not exist.")
    with transaction.atomic():
        order = order_get_for_update(order_id)
        locked = Payment.objects.select_for_update().get(pk=payment_id)
        shipment_id = _shipment_of(locked)
        if shipment_id is None or locked.kind != PaymentKind.CAPTURE:
            raise InvalidTransition(f"Payment {payment_id} is not a capture of a shipment.")
        captures = shipment_captures(shipment_id)
        if captures[-1].pk != locked.pk:
            raise InvalidTransition(
                f"Payment {payment_id} was retried already (payment {captures[-1].pk})."
            )
        if capture_is_stuck(locked):
            previous = locked.failure_reason
            locked.failure_reason = ""
            locked.save(update_fields=["failure_reason", "updated_at"])
            again = locked
        elif locked.status == PaymentRecordStatus.FAILED:
            busy = Payment.objects.filter(order=order, status=PaymentRecordStatus.PENDING)
            if busy.exists():
                raise Conflict(
                    f"Another capture of order {order.number} is in flight.",
                    code="capture_in_flight",
                )
            previous = locked.failure_reason
            again = Payment.objects.create(
                order=order,
                provider=locked.provider,
                kind=PaymentKind.CAPTURE,
                status=PaymentRecordStatus.PENDING,
                amount=locked.amount,
                currency=locked.currency,
                key=capture_key(shipment_id, len(captures)),
                actor=actor,
            )
        else:
            raise InvalidTransition(
                f"Payment {payment_id} is {locked.status}: only a failed capture, or one the "
                "provider never answered, is retried."
            )
        order_event_add(
            order=order,
            kind="payment_capture_retried",
            actor=actor,
            payment_id=again.pk,
            previous=previous,
        )
        outbox_enqueue(CAPTURE_TASK, shipment_id=shipment_id, dedupe_key=capture_key(shipment_id))
    return again


def _shipment_of(payment: Payment) -> int | None:
    """The shipment a capture record belongs to, from its key (capture_key)."""
    rest = payment.key.removeprefix("capture-shipment-")
    if rest == payment.key:
        return None
    number = rest.split("-r", 1)[0]
    return int(number) if number.isdigit() else None


def payment_void_rest(
    *, order_id: int, provider: CapturingProvider | None = None
) -> Payment | None:
    """Release what is authorised and was not captured once nothing of the order is left to
    ship (cancelled): one void per order. None when nothing is left to release or units are
    still to ship. Raises TransientError, NotFound."""
    order = Order.objects.select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    if not capture_on_shipment(order):
        return None
    if any(ln.quantity > ln.quantity_shipped + ln.quantity_cancelled for ln in order.lines.all()):
        return None
    key = void_key(order_id)
    done = Payment.objects.filter(key=key).exclude(status=PaymentRecordStatus.PENDING).first()
    if done is not None:
        return done
    authorisation = _authorisation(order)
    payment, _ = _pending_claim(
        order_id=order.pk,
        key=key,
        kind=PaymentKind.VOID,
        amount=authorisation.amount,
        authorised=authorisation.amount,
    )
    if payment is None:
        return None
    psp = provider or capturing_provider_for(order.channel.payment_provider)
    if psp is None:
        outcome = ProviderCapture(
            state="failed", message=f"{order.channel.payment_provider} cannot void."
        )
        return _outcome_save(payment=payment, outcome=outcome)
    request = _capture_request(payment, authorisation, final=True)
    outcome = _asked(psp, request, first=True, void=True)
    return _outcome_save(payment=payment, outcome=outcome)


def _authorisation(order: Order) -> Payment:
    found = (
        Payment.objects.filter(
            order=order, kind=PaymentKind.AUTHORIZATION, status=PaymentRecordStatus.SUCCEEDED
        )
        .order_by("pk")
        .first()
    )
    if found is None:
        raise NotFound(f"Order {order.number} has no authorisation.")
    return found


def _asked(
    psp: CapturingProvider, request: CaptureRequest, *, first: bool, void: bool
) -> ProviderCapture:
    """The provider's answer; PermanentError is a failed outcome. After an attempt whose
    answer was lost (the pending record was there already) a capture is looked up first."""
    try:
        if void:
            return psp.void(request)  # Stripe replays a cancel under the same key
        if not first:
            found = psp.capture_lookup(request)
            if found is not None:
                return found
        return psp.capture(request)
    except PermanentError as exc:
        return ProviderCapture(state="failed", message=str(exc)[:500])


# --- charges of a saved payment method (subscriptions' renewals) --------------------------------


def payment_charge(
    *,
    order_id: int,
    key: str,
    payment_reference: str,
    amount: Decimal,
    description: str = "",
    provider: ChargingProvider | None = None,
) -> Payment:
    """Charge the saved payment method `payment_reference` for the order, once per `key` (a
    pending record is written first; after an attempt whose answer was lost the provider is
    asked by key before charging). A success records the capture and marks the order paid
    (which releases its payment hold and routes it); a decline, a refusal or a provider that
    cannot charge is a `failed` record with the reason. TransientError propagates (try
    again later with the same key). Raises NotFound."""
    done = Payment.objects.filter(key=key).exclude(status=PaymentRecordStatus.PENDING).first()
    if done is not None:
        _charge_settled(done)
        return done
    with transaction.atomic():
        order = order_get_for_update(order_id)
        existing = Payment.objects.filter(key=key).first()
        first = existing is None
        payment = existing or Payment.objects.create(
            order=order,
            provider=order.channel.payment_provider,
            kind=PaymentKind.CAPTURE,
            status=PaymentRecordStatus.PENDING,
            amount=amount,
            currency=order.currency,
            key=key,
        )
    psp = provider or charging_provider_for(order.channel.payment_provider)
    if psp is None:
        outcome = ProviderCapture(
            state="failed",
            message=f"The channel's payment provider ({order.channel.payment_provider}) "
            "cannot charge a saved payment method.",
        )
    else:
        request = ChargeRequest(
            key=key,
            order_id=order.pk,
            order_number=order.number or str(order.pk),
            payment_reference=payment_reference,
            amount=payment.amount,
            currency=payment.currency,
            description=description,
        )
        try:
            found = None if first else psp.charge_lookup(request)
            outcome = found or psp.charge(request)
        except PermanentError as exc:
            outcome = ProviderCapture(state="failed", message=str(exc)[:500])
    with transaction.atomic():
        order = order_get_for_update(order_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status == PaymentRecordStatus.PENDING:
            locked.status = outcome.state
            locked.reference = (outcome.reference or locked.reference)[:128]
            locked.failure_reason = outcome.message[:500]
            locked.save(update_fields=["status", "reference", "failure_reason", "updated_at"])
            order_event_add(
                order=order,
                kind=f"payment_charge_{outcome.state}",
                payment_id=locked.pk,
                amount=str(locked.amount),
                currency=locked.currency,
                reference=locked.reference,
                failure=locked.failure_reason,
            )
    _charge_settled(locked)
    return locked


def _charge_settled(payment: Payment) -> None:
    """A succeeded charge's order is paid (a no-op when it is already): released and routed."""
    if payment.status == PaymentRecordStatus.SUCCEEDED:
        order_payment_status_set(order=payment.order_id, status=PaymentStatus.PAID)


def payment_charge_ahead(
    *,
    provider_name: str,
    key: str,
    payment_reference: str,
    amount: Decimal,
    currency: str,
    order_number: str,
    description: str = "",
    lookup_first: bool = False,
    provider: ChargingProvider | None = None,
) -> ProviderCapture:
    """Charge a saved payment method before its order exists (a subscription's renewal is
    charged first, then captured paid and routed once). Writes nothing: the caller records the
    outcome on the order it then captures (payment_charge_record). Repeating it with the same
    key is safe: the key is the provider's idempotency key (one charge per key), and with
    `lookup_first` (an attempt whose answer may have been lost long ago) the provider is asked
    by key before charging. A decline, a refusal or a provider that cannot charge is a failed
    outcome with the reason; TransientError propagates (try again with the same key)."""
    psp = provider or charging_provider_for(provider_name)
    if psp is None:
        return ProviderCapture(
            state="failed",
            message=f"The channel's payment provider ({provider_name}) cannot charge a saved "
            "payment method.",
        )
    request = ChargeRequest(
        key=key,
        order_id=0,  # not captured yet: the provider sees the order's number (its external id)
        order_number=order_number,
        payment_reference=payment_reference,
        amount=amount,
        currency=currency,
        description=description,
    )
    try:
        found = psp.charge_lookup(request) if lookup_first else None
        return found or psp.charge(request)
    except PermanentError as exc:
        return ProviderCapture(state="failed", message=str(exc)[:500])


def payment_charge_record(
    *, order: Order, key: str, amount: Decimal, outcome: ProviderCapture
) -> Payment:
    """Record on `order` the outcome of a charge made ahead of it (payment_charge_ahead), once
    per key, with its order event. The order's payment status is the capture's business (it
    was captured paid, or held payment_pending)."""
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                order=order,
                provider=order.channel.payment_provider,
                kind=PaymentKind.CAPTURE,
                status=outcome.state,
                amount=amount,
                currency=order.currency,
                reference=(outcome.reference or "")[:128],
                failure_reason=outcome.message[:500],
                key=key,
            )
            order_event_add(
                order=order,
                kind=f"payment_charge_{outcome.state}",
                payment_id=payment.pk,
                amount=str(payment.amount),
                currency=payment.currency,
                reference=payment.reference,
                failure=payment.failure_reason,
            )
    except IntegrityError:  # recorded already (the same renewal processed twice)
        return Payment.objects.get(key=key)
    return payment
