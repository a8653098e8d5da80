"""Changes staff make to a customer: names and phone.

Invariants: the e-mail never changes here (it is the customer's identity across channels);
nothing is saved that fails full_clean; the search text of the customer's orders is rebuilt in
the same transaction, so the order search finds them by the new name or phone at once. Lock
order: Customer -> Order (by pk); no other service locks a customer after an order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from oms.errors import NotFound, ValidationFailed
from oms.services import model_update
from orders.models import Customer, Order, OrderLine
from orders.services.capture import search_text_for

CUSTOMER_EDITABLE = ("first_name", "last_name", "phone")


@transaction.atomic
def customer_update(*, customer: Customer | int, data: Mapping[str, Any]) -> Customer:
    """Change the customer's first name, last name and phone present in `data`.

    Raises ValidationFailed (another field, or a value too long), NotFound.
    """
    pk = customer if isinstance(customer, int) else customer.pk
    others = sorted(set(data) - set(CUSTOMER_EDITABLE))
    if others:
        raise ValidationFailed(
            "Only the names and the phone of a customer can change.",
            errors={name: ["This field cannot be changed."] for name in others},
        )
    locked = Customer.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound(f"No customer {pk}.")
    clean = {name: str(value or "").strip() for name, value in data.items()}
    locked, changed = model_update(instance=locked, fields=CUSTOMER_EDITABLE, data=clean)
    if changed:
        _orders_search_text_refresh(locked)
    return locked


def _orders_search_text_refresh(customer: Customer) -> None:
    orders = list(Order.objects.select_for_update().filter(customer=customer).order_by("pk"))
    if not orders:
        return
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order__in=orders).only("order_id", "sku_code"):
        lines[line.order_id].append(line)
    for order in orders:
        order.search_text = search_text_for(order, lines[order.pk], customer)
    Order.objects.bulk_update(orders, ["search_text"], batch_size=500)
