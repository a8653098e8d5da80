"""Thin Celery entry points of returns: ids in, one service call (each safe to run twice)."""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


def _refund_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from returns.services import refund_execute_gave_up

    refund_execute_gave_up(refund_id=kwargs["refund_id"], reason=failure)


@oms_task(name="returns.refund_execute", give_up=_refund_gave_up)
def refund_execute(refund_id: int, **_: Any) -> str:
    from returns.services import refund_execute as execute

    return execute(refund=refund_id).status


def _capture_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from returns.services import payment_capture_gave_up

    payment_capture_gave_up(shipment_id=kwargs["shipment_id"], reason=failure)


@oms_task(name="returns.payment_capture", give_up=_capture_gave_up)
def payment_capture(shipment_id: int, **_: Any) -> str | None:
    from returns.services import payment_capture_shipment

    done = payment_capture_shipment(shipment_id=shipment_id)
    return None if done is None else done.status


@oms_task(name="returns.payment_void")
def payment_void(order_id: int, **_: Any) -> str | None:
    from returns.services import payment_void_rest

    done = payment_void_rest(order_id=order_id)
    return None if done is None else done.status


@oms_task(name="returns.refunds_recover")
def refunds_recover(**_: Any) -> int:
    """Beat: execute again the refunds left pending (see returns.services.refunds_recover)."""
    from returns.services import refunds_recover as recover

    return recover()


@oms_task(name="returns.refund_for_cancellation")
def refund_for_cancellation(
    order_id: int,
    line_quantities: list[list[int]],
    full: bool,
    reason: str = "",
    idempotency_key: str = "",
    actor: str = "",
    **_: Any,
) -> int | None:
    from returns.services import refund_for_cancellation as refund

    created = refund(
        order_id=order_id,
        line_quantities=line_quantities,
        full=full,
        reason=reason,
        idempotency_key=idempotency_key,
        actor=actor,
    )
    return None if created is None else int(created.pk)


@oms_task(name="returns.return_exchange_order_create")
def return_exchange_order_create(return_id: int, **_: Any) -> int:
    from returns.services import return_exchange_order_create as create

    return int(create(return_request=return_id).pk)


@oms_task(name="returns.return_email_send")
def return_email_send(return_id: int, kind: str, **_: Any) -> bool:
    from returns.notifications import return_email_send as send

    return send(return_id=return_id, kind=kind)


@oms_task(name="returns.orders_complete")
def orders_complete(**_: Any) -> int:
    """Beat: delivered orders whose return window closed complete (see
    returns.services.orders_complete_after_return_window)."""
    from returns.services import orders_complete_after_return_window as complete

    return complete()
