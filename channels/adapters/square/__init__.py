"""A point of sale, modelled on Square (REST API v2), over VendorHttp.

Invariants:
- every call sends `Authorization: Bearer <access_token>` and a pinned `Square-Version`
  (SQUARE_VERSION, or `credentials["square_version"]`); the base URL is
  https://connect.squareup.com unless `credentials["base_url"]` says otherwise (the sandbox);
- store sales are already paid and handed over: every order maps with
  fulfilled_by=FULFILLED_BY_STORE and `store_location` = Square's raw location id (the sync
  engine maps it to ours); COMPLETED -> paid, CANCELED -> cancelled (payment voided); other
  states (OPEN, DRAFT) are not sales yet and are left out, as are orders of locations outside
  `credentials["location_ids"]` when a webhook brings them;
- orders are pulled with SearchOrders over `location_ids` (at most 10, Square's limit),
  filtered on `updated_at >= since` and sorted by UPDATED_AT ascending (Square wants the sort
  field equal to the filtered one), 500 a page; the page token is Square's cursor;
- money is in the currency's smallest unit as integers (`{"amount", "currency"}`), converted
  with the currency's exponent (JPY 0, EUR 2, BHD 3); an amount that is not an integer, or in
  another currency than the order's, makes the order a RecordFailure;
- line items carry the catalog object id of the item variation, not the SKU: the SKUs of a
  page are resolved once with BatchRetrieveCatalogObjects (deleted objects included, answers
  cached for the adapter's life); a line without a resolvable SKU (a custom amount, a
  variation without SKU) or with a quantity that is not a positive whole number (weighed
  items: "1.25") makes its order a RecordFailure; the other orders still map;
- unit price = `base_price_money` (with modifiers: `gross_sales_money / quantity` rounded up,
  the discount taking up the rounding), discount = `total_discount_money` (order discounts
  come apportioned on the lines), tax = `total_tax_money`; an order with a tax of `type`
  INCLUSIVE has prices_include_tax; service charges, tips and orders mixing inclusive and
  additive taxes are not reconciled (Square's `total_money` is only compared: a mismatch
  puts the order on hold);
- webhooks: `x-square-hmacsha256-signature` is the base64 HMAC-SHA256, with the subscription's
  signature key, of the notification URL followed by the raw body; the event's `event_id` is
  the delivery id and `type` the topic; order events carry only ids, so their orders are
  fetched with BatchRetrieveOrders;
- stock: one PHYSICAL_COUNT (IN_STOCK, absolute) per item at `location_ids[0]`, 100 changes a
  BatchChangeInventory call with a fresh idempotency key (repeating an absolute count is
  harmless); an item without a catalog object id fails as "not mapped"; Square applies a batch
  wholly or not at all, so its errors raise;
- fulfilment, cancellation and refund pushes are NotSupported: the till did them.

The package, by concern: `api` (paths, version, sizes, states), `mapping` (Square orders ->
CanonicalOrder), `client` (token, version, HTTP, the catalog's SKUs, the webhook HMAC), `pushes`
(stock; the others NotSupported) and `adapter` (SquareAdapter: order pulls and webhooks). The
names below are its public face.
"""

from __future__ import annotations

from channels.adapters.square.adapter import SquareAdapter
from channels.adapters.square.api import (
    CATALOG_BATCH,
    DEFAULT_BASE_URL,
    INVENTORY_BATCH,
    LIMITS,
    MAX_LOCATIONS,
    ORDER_TOPICS,
    PAGE_LIMIT,
    SIGNATURE_HEADER,
    SQUARE_VERSION,
    STATES,
    VENDOR,
)
from channels.adapters.square.client import SquareClient, webhook_signature
from channels.adapters.square.mapping import Unreadable, catalog_ids, order_from_square
from channels.adapters.square.pushes import SquarePushes

__all__ = [
    "CATALOG_BATCH",
    "DEFAULT_BASE_URL",
    "INVENTORY_BATCH",
    "LIMITS",
    "MAX_LOCATIONS",
    "ORDER_TOPICS",
    "PAGE_LIMIT",
    "SIGNATURE_HEADER",
    "SQUARE_VERSION",
    "STATES",
    "VENDOR",
    "SquareAdapter",
    "SquareClient",
    "SquarePushes",
    "Unreadable",
    "catalog_ids",
    "order_from_square",
    "webhook_signature",
]
