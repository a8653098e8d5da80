"""WooCommerce (REST API wc/v3) as a sales channel, over VendorHttp.

Invariants:
- the store is self-hosted: `credentials["base_url"]` (e.g. https://shop.example) is required,
  the API lives under `/wp-json/wc/v3`; the consumer key and secret go as HTTP basic auth and
  are never sent over plain HTTP except to a loopback host (tests, a local dev store);
- orders are pulled by `modified_after` with `dates_are_gmt=true`, oldest change first
  (`orderby=modified&order=asc`), 100 a page; the page token is the page number and the last
  page is the one `X-WP-TotalPages` names; dates are read from the `*_gmt` fields;
- status -> payment: pending/on-hold -> pending; processing/completed -> paid; refunded ->
  refunded; cancelled/failed -> cancelled with payment voided; checkout drafts are skipped and
  any other status is a RecordFailure (a plugin's custom status must be mapped first);
- Woo line amounts are always net of tax (`subtotal` before, `total` after coupons, taxes in
  `subtotal_tax`/`total_tax`); when the store shows prices with tax, the canonical unit price
  and discount include the tax, so that order_capture's total equals Woo's `total`. The unit
  price is `subtotal / quantity` rounded UP to the currency's unit, the discount takes up the
  rounding: the line's net amount is always exact. `shipping_price` is `shipping_total +
  shipping_tax` (the canonical record has no shipping tax); `fee_lines` are not mapped (an
  order with fees is captured on hold for a totals mismatch);
- a line without a SKU, a quantity that is not a positive integer or an unreadable amount makes
  the order a RecordFailure; the other orders of the page still map;
- stock: `POST products/batch` with `{"update": [{"id", "stock_quantity", "manage_stock"}]}`,
  100 a call; StockItem.external_id is the product id, or "<parent id>/<variation id>" for a
  variation (sent to `products/{parent}/variations/batch`); an item without one is looked up
  by `GET products?sku=` (simple products only: a variable product's stock lives on its
  variations, whose ids must then be given); per-item errors of the batch answer are failed
  StockResults, never raised;
- fulfilment: Woo core has no tracking: a customer note "Shipped with <carrier>: <tracking>
  <url>" is added (not twice: an existing customer note naming the same tracking number is
  reused) and the order is set `completed`. FulfilmentPush does not say whether it is the last
  parcel, so every push completes the order;
- refunds: the units a refund names (GET /orders/<id>/refunds, negative line quantities) leave
  the order; whether they went back to stock WooCommerce does not say (`api_restock` is
  write-only), so they come back on hand only when the channel's `refund_restock` setting is
  "restock" (default "none": our stock is left as it is), once per refund and line;
- cancel sets `cancelled` (whole orders only: Woo has no line cancellation); a refund is
  recorded with `api_refund: false` (the money is not moved by the gateway) and its reason
  ends with "(ref <our reference>)", by which a retried refund finds the first one;
- webhooks: `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw body with the
  webhook secret, checked before anything is parsed; Woo's unsigned ping (`webhook_id=N`) is
  therefore refused like any unsigned delivery.

The package, by concern: `api` (paths, sizes, headers, statuses), `mapping` (Woo orders ->
CanonicalOrder), `client` (the store's address and keys, HTTP, the webhook HMAC), `pushes`
(stock, fulfilments, cancels, refunds) and `adapter` (WooCommerceAdapter: order pulls and
webhooks). The names below are its public face.
"""

from __future__ import annotations

from channels.adapters.woocommerce.adapter import WooCommerceAdapter
from channels.adapters.woocommerce.api import (
    API,
    BATCH_SIZE,
    DELIVERY_HEADER,
    LIMITS,
    LOOPBACK_HOSTS,
    ORDER_TOPICS,
    PER_PAGE,
    SIGNATURE_HEADER,
    SKIPPED_STATUSES,
    SKU_LOOKUP_SIZE,
    STATUSES,
    TOPIC_HEADER,
    VENDOR,
)
from channels.adapters.woocommerce.client import WooCommerceClient, webhook_signature
from channels.adapters.woocommerce.mapping import Unreadable, order_from_woo
from channels.adapters.woocommerce.pushes import WooCommercePushes

__all__ = [
    "API",
    "BATCH_SIZE",
    "DELIVERY_HEADER",
    "LIMITS",
    "LOOPBACK_HOSTS",
    "ORDER_TOPICS",
    "PER_PAGE",
    "SIGNATURE_HEADER",
    "SKIPPED_STATUSES",
    "SKU_LOOKUP_SIZE",
    "STATUSES",
    "TOPIC_HEADER",
    "VENDOR",
    "Unreadable",
    "WooCommerceAdapter",
    "WooCommerceClient",
    "WooCommercePushes",
    "order_from_woo",
    "webhook_signature",
]
