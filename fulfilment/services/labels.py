"""Carrier labels: ask for them, buy them in the background, ship when every parcel has one.

Invariants:
- one label per parcel, ever: the OneToOne of ShippingLabel on the parcel is the last line; a
  label is stored only under the shipment's lock (lock order Order -> Shipment, through
  fulfilment.services.shipments._lock), after checking for an existing one; when a run finds
  that another run stored a different purchase for the parcel first, it keeps the stored one
  and voids its own; a label bought for a shipment that was cancelled meanwhile is voided;
- the carrier is called with no transaction open and no row locked: read, call out, then lock
  and write in a short transaction, then commit (ARCHITECTURE.md, rule 4);
- buying is idempotent on our reference "SH-<shipment>-P<parcel>" (the adapters guarantee it),
  so a run that died between buying and storing buys the same label again: replays (a task run
  twice, a worker lost with acks_late) never make two labels for one parcel;
- TransientError propagates (the task retries with backoff); a PermanentError flags the shipment
  (needs_attention, attention_message = the carrier's message) with an order event, and the
  run stops without raising; a flagged shipment is not bought for until staff ask again
  (`shipment_label_retry`, or a new `shipment_ship_request`);
- when every parcel has a label the shipment ships (fulfilment.services.shipments.shipment_ship)
  with the first parcel's tracking number; the task is written to the outbox with the request,
  so it runs once that commits, even if the broker is down at that moment;
- a purchase that gave up (the outbox's attempts are spent) flags the shipment; the recovery
  sweep (`labels_recover`) asks again for packed shipments with a carrier, no tracking number,
  no flag and no purchase pending or running;
- a held order gets no label: asking (`shipment_ship_request`, `shipment_label_retry`) is
  refused under the order's lock (OrderOnHold); a run that finds the order held buys nothing and
  flags the shipment "Order on hold: ..." without raising; a hold placed while a run buys keeps
  the labels bought and refuses the final ship, which flags it likewise. The release asks for
  the labels of such a shipment again (fulfilment.services.holds), and it ships then.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from fulfilment.adapters.carriers import (
    Address,
    CarrierAdapter,
    Label,
    ParcelData,
    ShipmentData,
    carrier_for,
    label_reference,
)
from fulfilment.models import Parcel, Shipment, ShippingLabel
from fulfilment.services.shipments import (
    _lock,
    refuse_if_on_hold,
    shipment_hold_flag,
    shipment_ship,
)
from fulfilment.states import ShipmentStatus
from oms.errors import (
    Conflict,
    DomainError,
    ExternalError,
    InvalidTransition,
    OrderOnHold,
    PermanentError,
    ValidationFailed,
)
from oms.logs import log_order
from oms.outbox import outbox_enqueue, outbox_open_keys
from orders.services import order_event_add

logger = logging.getLogger(__name__)

Stored = Literal["created", "existing", "duplicate", "refused"]


BUY_TASK = "fulfilment.labels_buy"


def buy_key(shipment_id: int) -> str:
    return f"{BUY_TASK}:{shipment_id}"


def _enqueue(shipment_id: int, actor: str) -> None:
    """The purchase runs in a worker once this transaction commits (through the outbox)."""
    outbox_enqueue(BUY_TASK, shipment_id=shipment_id, actor=actor, dedupe_key=buy_key(shipment_id))


def _code(shipment: Shipment | int) -> str:
    return f"SH-{shipment if isinstance(shipment, int) else shipment.pk}"


# --- asking for a label -----------------------------------------------------------------------


def shipment_ship_request(
    *, shipment: Shipment | int, carrier: str, service: str = "", actor: str = "system"
) -> Shipment:
    """Record the carrier and service of a packed shipment; its labels are bought in the
    background (task fulfilment.labels_buy), and it ships once every parcel has one.

    A shipment already shipped is returned as it is (a replay). Raises ValidationFailed
    (unknown carrier), InvalidTransition (not packed: pending, picking, sent, cancelled...),
    Conflict (labels of another carrier were bought already), OrderOnHold, NotFound.
    """
    code = (carrier or "").strip().lower()
    carrier_for(code)  # ValidationFailed for an unknown carrier, before anything is locked
    service = (service or "").strip()
    with transaction.atomic():
        order, locked = _lock(shipment)
        if locked.status == ShipmentStatus.SHIPPED:
            return locked
        refuse_if_on_hold(order, locked, doing="labelled")
        if locked.status != ShipmentStatus.PACKED:
            raise InvalidTransition(
                f"Shipment {locked.pk} is {locked.get_status_display().lower()}: only a packed "
                "shipment gets a label."
            )
        if locked.tracking_number:
            return locked
        other = (
            ShippingLabel.objects.filter(shipment=locked)
            .exclude(carrier=code)
            .values_list("carrier", flat=True)
            .first()
        )
        if other is not None:
            raise Conflict(
                f"Shipment {locked.pk} already has labels of {other}: ship it with {other}.",
                code="labels_of_another_carrier",
            )
        locked.carrier, locked.service = code[:32], service[:64]
        locked.needs_attention, locked.attention_message = False, ""
        locked.save(update_fields=["carrier", "service", "needs_attention", "attention_message"])
        order_event_add(
            order=order,
            kind="label_requested",
            actor=actor,
            shipment=locked.pk,
            carrier=locked.carrier,
            service=locked.service,
        )
        _enqueue(locked.pk, actor)
    return locked


def shipment_label_retry(*, shipment: Shipment | int, actor: str = "system") -> Shipment:
    """Buy the missing labels again after a carrier's refusal: clears needs_attention and
    enqueues fulfilment.labels_buy. Raises InvalidTransition (not packed, or no carrier),
    OrderOnHold."""
    with transaction.atomic():
        order, locked = _lock(shipment)
        refuse_if_on_hold(order, locked, doing="labelled")
        if locked.status != ShipmentStatus.PACKED or not locked.carrier:
            raise InvalidTransition(
                f"Shipment {locked.pk} is {locked.get_status_display().lower()}"
                f"{'' if locked.carrier else ' without a carrier'}: there is no label to buy."
            )
        previous = locked.attention_message
        locked.needs_attention, locked.attention_message = False, ""
        locked.save(update_fields=["needs_attention", "attention_message"])
        order_event_add(
            order=order,
            kind="label_retry",
            actor=actor,
            shipment=locked.pk,
            carrier=locked.carrier,
            previous=previous,
        )
        _enqueue(locked.pk, actor)
    return locked


@transaction.atomic
def shipment_attention_flag(
    *, shipment: Shipment | int, message: str, actor: str = "system", kind: str = "label_failed"
) -> Shipment:
    """Flag a shipment for staff (needs_attention, with the reason) and log it on the order."""
    order, locked = _lock(shipment)
    locked.needs_attention, locked.attention_message = True, message[:500]
    locked.save(update_fields=["needs_attention", "attention_message"])
    order_event_add(
        order=order,
        kind=kind,
        actor=actor,
        shipment=locked.pk,
        carrier=locked.carrier,
        message=message[:500],
    )
    return locked


# --- buying -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelPlan:
    """What a run of labels_buy needs, read before calling the carrier."""

    data: ShipmentData
    missing: tuple[ParcelData, ...]
    first_parcel_id: int | None  # whose tracking number the shipment ships with
    order_on_hold: bool = False  # as read: checked again under the lock before flagging


def _plan(shipment_id: int) -> LabelPlan | None:
    """None when there is nothing to buy: gone, not packed, flagged, or no carrier."""
    shipment = Shipment.objects.select_related("order", "location").filter(pk=shipment_id).first()
    if (
        shipment is None
        or shipment.status != ShipmentStatus.PACKED
        or shipment.needs_attention
        or not shipment.carrier
    ):
        return None
    parcels = list(
        Parcel.objects.filter(shipment=shipment)
        .annotate(labelled=Exists(ShippingLabel.objects.filter(parcel_id=OuterRef("pk"))))
        .order_by("id")
    )
    location, order = shipment.location, shipment.order
    log_order(order.number)
    address = dict(order.shipping_address or {})
    if not address.get("email") and order.email:
        address["email"] = order.email
    data = ShipmentData(
        id=shipment.pk,
        order_number=order.number or "",
        carrier=shipment.carrier,
        service=shipment.service,
        ship_from=Address.from_location(location),
        ship_to=Address.from_mapping(address),
        parcel_count=len(parcels),
    )
    missing = tuple(
        ParcelData(
            id=p.pk,
            weight_grams=p.weight_grams,
            length_mm=p.length_mm,
            width_mm=p.width_mm,
            height_mm=p.height_mm,
            number=index,
        )
        for index, p in enumerate(parcels, start=1)
        if not p.labelled  # the Exists annotation
    )
    return LabelPlan(
        data=data,
        missing=missing,
        first_parcel_id=parcels[0].pk if parcels else None,
        order_on_hold=order.is_on_hold,
    )


@transaction.atomic
def _label_store(*, plan: LabelPlan, parcel: ParcelData, label: Label, actor: str) -> Stored:
    """Keep a bought label, under the shipment's lock. Tells what happened:
    created; existing (this very label was stored already); duplicate (another purchase is
    stored for the parcel: void this one); refused (the shipment is not packed any more, or
    another carrier was chosen meanwhile: void this one)."""
    order, shipment = _lock(plan.data.id)
    existing = ShippingLabel.objects.filter(parcel_id=parcel.id).only(
        "id", "carrier", "carrier_reference", "tracking_number"
    )
    found = existing.first()
    # Bought for the carrier the plan read: if staff chose another one meanwhile, it is not ours.
    wanted = shipment.status == ShipmentStatus.PACKED and shipment.carrier == plan.data.carrier
    if found is None and wanted:
        try:
            with transaction.atomic():  # a savepoint: the unique parcel may still refuse it
                ShippingLabel.objects.create(
                    parcel_id=parcel.id,
                    shipment=shipment,
                    carrier=plan.data.carrier,
                    service=plan.data.service,
                    tracking_number=label.tracking_number[:64],
                    carrier_reference=label.carrier_reference[:128],
                    sscc=label.sscc[:18],
                    pdf=label.pdf,
                    zpl=label.zpl,
                )
        except IntegrityError:
            found = existing.first()
            if found is None:
                raise
        else:
            if parcel.number == 1 and label.tracking_url:
                # The label model has no URL: the shipment keeps the first parcel's one.
                shipment.tracking_url = label.tracking_url[:200]
                shipment.save(update_fields=["tracking_url"])
            order_event_add(
                order=order,
                kind="label_created",
                actor=actor,
                shipment=shipment.pk,
                parcel=parcel.id,
                carrier=plan.data.carrier,
                tracking_number=label.tracking_number,
            )
            return "created"
    if found is None:
        return "refused"
    same = found.carrier == plan.data.carrier and (
        found.carrier_reference == label.carrier_reference
        or found.tracking_number == label.tracking_number
    )
    return "existing" if same else "duplicate"


def _void_quietly(
    adapter: CarrierAdapter, label: Label, *, shipment_id: int, why: str, actor: str
) -> None:
    """Void a label we will not use; when the carrier refuses, staff are told to do it."""
    try:
        adapter.void(label)
    except ExternalError as exc:
        logger.warning("Could not void label %s of %s: %s", label.tracking_number, why, exc)
        shipment_attention_flag(
            shipment=shipment_id,
            message=(
                f"Label {label.tracking_number} ({why}) could not be voided: {exc}. "
                "Void it with the carrier."
            ),
            actor=actor,
            kind="label_void_failed",
        )


def _ship_if_labelled(*, plan: LabelPlan, actor: str) -> Shipment | None:
    """Ship with the first parcel's label: called once every parcel of the plan has one (a
    packed shipment's parcels do not change, and labels are never deleted)."""
    shipment_id = plan.data.id
    first = (
        ShippingLabel.objects.filter(parcel_id=plan.first_parcel_id)
        .select_related("shipment")
        .only("id", "carrier", "service", "tracking_number", "shipment__tracking_url")
        .first()
        if plan.first_parcel_id is not None
        else None
    )
    if first is None:
        return Shipment.objects.filter(pk=shipment_id).first()
    try:
        return shipment_ship(
            shipment=shipment_id,
            carrier=first.carrier,
            service=first.service,
            tracking_number=first.tracking_number,
            tracking_url=first.shipment.tracking_url,
            actor=actor,
        )
    except OrderOnHold:
        # Held while its labels were bought: the hold flagged it, and its release asks for the
        # labels again (fulfilment.services.holds): that run finds them all and ships.
        shipment_hold_flag(shipment=shipment_id, actor=actor, kind="label_held")
        return Shipment.objects.filter(pk=shipment_id).first()
    except DomainError as exc:  # cancelled between the last label and now
        return shipment_attention_flag(
            shipment=shipment_id,
            message=f"Its labels are bought but it could not ship: {exc}",
            actor=actor,
        )


def labels_buy(*, shipment_id: int, actor: str = "system") -> Shipment | None:
    """Buy the label of every parcel of a packed shipment that has none, then ship it.

    Safe to run twice (see the module docstring). Raises TransientError (the carrier may
    answer later); a PermanentError, or an order on hold, flags the shipment and returns it.
    """
    plan = _plan(shipment_id)
    if plan is None:
        return Shipment.objects.filter(pk=shipment_id).first()
    if plan.order_on_hold and shipment_hold_flag(
        shipment=shipment_id, actor=actor, kind="label_held"
    ):
        return Shipment.objects.filter(pk=shipment_id).first()  # nothing bought for a held order
    try:
        adapter = carrier_for(plan.data.carrier)
    except ValidationFailed as exc:
        return shipment_attention_flag(shipment=shipment_id, message=str(exc), actor=actor)
    for parcel in plan.missing:
        try:
            # Outside any transaction: no lock is held while the carrier answers.
            label = adapter.buy_label(
                reference=label_reference(shipment_id, parcel.id),
                shipment_data=plan.data,
                parcel=parcel,
            )
        except PermanentError as exc:
            return shipment_attention_flag(
                shipment=shipment_id, message=str(exc) or type(exc).__name__, actor=actor
            )
        stored = _label_store(plan=plan, parcel=parcel, label=label, actor=actor)
        if stored == "duplicate":
            _void_quietly(adapter, label, shipment_id=shipment_id, why="a duplicate", actor=actor)
        elif stored == "refused":
            _void_quietly(
                adapter,
                label,
                shipment_id=shipment_id,
                why="not wanted any more: cancelled, shipped or another carrier chosen",
                actor=actor,
            )
            return Shipment.objects.filter(pk=shipment_id).first()
    return _ship_if_labelled(plan=plan, actor=actor)


# --- recovery -----------------------------------------------------------------------------------

#: A packed shipment whose labels were asked for this long ago and that still has none is
#: looked at by the recovery sweep.
RECOVER_AFTER = dt.timedelta(minutes=3)


def labels_buy_gave_up(*, shipment_id: int, reason: str, actor: str = "system") -> None:
    """The purchase's retries are spent: staff must look (they ask again with label retry)."""
    if Shipment.objects.filter(pk=shipment_id, status=ShipmentStatus.PACKED).exists():
        shipment_attention_flag(
            shipment=shipment_id,
            message=f"The label purchase gave up: {reason}",
            actor=actor,
        )


def labels_recover(*, limit: int = 200) -> int:
    """Ask again for the labels of packed shipments that were asked for and have none, with no
    flag and no purchase pending or running (a purchase lost before the outbox took it)."""
    stale = list(
        Shipment.objects.filter(
            status=ShipmentStatus.PACKED,
            needs_attention=False,
            tracking_number="",
            packed_at__lt=timezone.now() - RECOVER_AFTER,
        )
        .exclude(carrier="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    waiting = outbox_open_keys(buy_key(pk) for pk in stale)
    asked = [pk for pk in stale if buy_key(pk) not in waiting]
    with transaction.atomic():
        for pk in asked:
            _enqueue(pk, "system")
    return len(asked)


# --- documents --------------------------------------------------------------------------------


def labels_merged_pdf(pdfs: Sequence[bytes]) -> bytes:
    """One PDF of several labels, in order (a single label is returned as it is)."""
    if len(pdfs) == 1:
        return bytes(pdfs[0])
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(PdfReader(io.BytesIO(bytes(pdf))))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def labels_merged_zpl(zpls: Sequence[str]) -> str:
    """Several ZPL labels for one print job (each is its own ^XA...^XZ format)."""
    return "".join(z if z.endswith("\n") else z + "\n" for z in zpls if z)
