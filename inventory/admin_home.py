"""The stock's figures and stations on the operations home (oms.admin.home)."""

from __future__ import annotations

from django.urls import reverse

from inventory.models import Transfer, TransferStatus
from inventory.selectors import stock_attention_list
from oms.admin.home import Link, Tile, home_link, home_tile

VIEW = "inventory.view_stocklevel"

home_tile(
    Tile(
        "Stock",
        "Stock needing attention",
        lambda: len(stock_attention_list()),
        lambda: reverse("admin:inventory_stocklevel_attention"),
        VIEW,
        help="Out of stock, below safety, to count",
    )
)
home_tile(
    Tile(
        "Stock",
        "Transfers in transit",
        lambda: Transfer.objects.filter(status=TransferStatus.IN_TRANSIT).count(),
        lambda: (
            reverse("admin:inventory_transfer_changelist")
            + f"?status__exact={TransferStatus.IN_TRANSIT}"
        ),
        "inventory.view_transfer",
        tone="info",
    )
)
for link in (
    Link("Stock", "Stock attention", lambda: reverse("admin:inventory_stocklevel_attention"), VIEW),
    Link(
        "Stock",
        "Adjust stock",
        lambda: reverse("admin:inventory_stocklevel_adjust"),
        "inventory.change_stocklevel",
    ),
    Link(
        "Stock",
        "Import a count",
        lambda: reverse("admin:inventory_stocklevel_import_counts"),
        "inventory.change_stocklevel",
    ),
):
    home_link(link)
