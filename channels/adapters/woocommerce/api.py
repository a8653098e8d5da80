"""WooCommerce's REST API (wc/v3) as we use it: the path, page and batch sizes, webhook headers
and topics, rate limits, and the order statuses we read."""

from __future__ import annotations

import re

VENDOR = "woocommerce"
API = "/wp-json/wc/v3"
PER_PAGE = 100
BATCH_SIZE = 100  # Woo's batch endpoints take at most 100 objects
SKU_LOOKUP_SIZE = 50
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Calls per second per operation: Woo publishes no limit (the store's host decides).
LIMITS = {"*": 5.0}

#: Woo order status -> (payment status, cancelled).
STATUSES: dict[str, tuple[str, bool]] = {
    "pending": ("pending", False),
    "on-hold": ("pending", False),
    "processing": ("paid", False),
    "completed": ("paid", False),
    "refunded": ("refunded", False),
    "cancelled": ("voided", True),
    "failed": ("voided", True),
}
#: Carts in progress (block checkout) and deleted orders: not orders yet, or not any more.
SKIPPED_STATUSES = frozenset({"checkout-draft", "auto-draft", "trash"})

#: A ping's form-encoded body (webhook_id=N): a signed one is answered, never processed.
PING = re.compile(rb"^webhook_id=(\d+)$")
