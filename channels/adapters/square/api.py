"""Square's REST API (v2) as we use it: the base URL, the pinned version, page and batch sizes,
the webhook header and topics, rate limits, and the order states that are sales."""

from __future__ import annotations

VENDOR = "square"
DEFAULT_BASE_URL = "https://connect.squareup.com"
SQUARE_VERSION = "2025-10-16"
PAGE_LIMIT = 500
MAX_LOCATIONS = 10  # SearchOrders takes at most 10 location ids
CATALOG_BATCH = 100
INVENTORY_BATCH = 100  # BatchChangeInventory takes at most 100 changes
SIGNATURE_HEADER = "x-square-hmacsha256-signature"
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
#: Calls per second per operation (Square publishes no figure; it answers 429 past its own).
LIMITS = {"*": 10.0}

#: Square order state -> (payment status, cancelled); other states are not sales yet.
STATES: dict[str, tuple[str, bool]] = {
    "COMPLETED": ("paid", False),
    "CANCELED": ("voided", True),
}
