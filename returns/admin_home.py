"""The returns' figures and stations on the operations home (oms.admin.home)."""

from __future__ import annotations

from django.urls import reverse

from oms.admin.home import Link, Tile, home_link, home_tile
from returns.models import Refund, ReturnRequest
from returns.selectors import receiving_queue
from returns.states import ReturnStatus

for tile in (
    Tile(
        "Returns",
        "To authorise",
        lambda: ReturnRequest.objects.filter(status=ReturnStatus.REQUESTED).count(),
        lambda: (
            reverse("admin:returns_returnrequest_changelist")
            + f"?status__exact={ReturnStatus.REQUESTED}"
        ),
        "returns.view_returnrequest",
        help="Requested by shoppers",
    ),
    Tile(
        "Returns",
        "Expected back",
        lambda: receiving_queue().count(),
        lambda: reverse("admin:returns_receivingqueue_changelist"),
        "returns.view_returnrequest",
        tone="info",
        help="Authorised, not fully received",
    ),
    Tile(
        "Returns",
        "Refunds needing attention",
        lambda: Refund.objects.filter(needs_attention=True).count(),
        lambda: reverse("admin:returns_refund_changelist") + "?needs_attention__exact=1",
        "returns.view_refund",
    ),
):
    home_tile(tile)
home_link(
    Link(
        "Returns",
        "Receiving station",
        lambda: reverse("admin:returns_returnrequest_receive"),
        "returns.change_returnrequest",
        help="Scan a return, then its items",
    )
)
