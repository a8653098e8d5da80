"""Amazon Selling Partner API (SP-API): orders, stock and shipment confirmations over plain httpx.

Sources (read, written by hand from the documented shapes): the models in
amzn/selling-partner-api-models: `orders-api-model/orders_2026-01-01.json` (searchOrders, Order,
OrderItem, Money, ErrorList), `orders-api-model/ordersV0.json` (confirmShipment) and
`listings-items-api-model/listingsItems_2021-08-01.json` (patchListingsItem,
ListingsItemSubmissionResponse); the Orders API migration guide
(developer-docs.amazon.com/sp-api/docs/orders-api-migration-guide); Login with Amazon's
refresh-token grant (`POST https://api.amazon.com/auth/o2/token`).

Invariants:
- orders come from Orders API v2026-01-01 `GET /orders/2026-01-01/orders` (searchOrders) with
  `lastUpdatedAfter`, our marketplace and the datasets we map (`includedData`); Amazon asks that a
  `paginationToken` be sent with the very same filters, so our page token carries the
  `lastUpdatedAfter` it was issued for ("<since>|<nextToken>") and a later page never mixes them;
- external_id and external_number = `orderId`, updated_at = `lastUpdatedTime`, placed_at =
  `createdTime`; `product.price.unitPrice` is PER UNIT (v0's ItemPrice was the line total: when only
  a line total is there, the ITEM proceeds of the line, it is divided by the quantity); line tax
  and discount are the item's TAX and DISCOUNT proceeds (line totals); currency comes from the money
  objects (mixed currencies make the record unreadable), the channel's currency only when the order
  carries no amount at all;
- `fulfillment.fulfillmentStatus`: PENDING / PENDING_AVAILABILITY -> payment "pending" and NO
  address even if one is sent (such orders must not be routed: capture holds them); UNSHIPPED,
  PARTIALLY_SHIPPED, SHIPPED -> "paid"; CANCELLED -> cancelled (payment "voided", reason from the
  items' cancellation); `fulfillment.fulfilledBy` AMAZON (FBA, v0's AFN) -> FULFILLED_BY_CHANNEL;
  SHIPPED by the merchant when first seen -> FULFILLED_ELSEWHERE (shipped outside the OMS);
- a record that cannot be mapped is a RecordFailure with its reason; an answer that is not a JSON
  object with an `orders` list raises PermanentError;
- stock: one Listings Items `PATCH /listings/2021-08-01/items/{sellerId}/{sku}` per SKU replacing
  `/attributes/fulfillment_availability` with the DEFAULT channel quantity; a submission answered
  INVALID (or a 4xx for that SKU) is a failed StockResult with Amazon's issues, the other SKUs go
  on; 429/5xx raise (the push is absolute, so a retry of the whole batch is safe);
- fulfilment: v0 `POST /orders/v0/orders/{orderId}/shipmentConfirmation` per package; Amazon takes
  only positive numbers as packageReferenceId, so ours is the digits of our reference (a CRC32 of
  it when it has none); carriers Amazon does not list go as "Other" with their name;
- Amazon has no HTTP webhooks (notifications go through SQS): webhook_verify and webhook_orders
  raise NotSupported; seller cancellations and refunds go through Seller Central or feeds, not a
  simple documented call: cancel_push and refund_push raise NotSupported;
- auth: the LWA access token is sent as `x-amz-access-token`; it is cached with its expiry in the
  channel's credentials (`access_token`, `access_token_expires_at`, ISO 8601) through
  `context.save_credentials`, so other workers reuse it, and refreshed a minute before it expires
  or once when the API answers 401, or 403 with an `Unauthorized` / expired-token error;
- rate limits: searchOrders is documented at 0.0056 request/s with a burst of 20. Our shared
  limiter treats any rate under 1/s as one slot per interval, which would refuse page 2 of the same
  sync for 3 minutes; so searchOrders gets no local budget and lives on Amazon's burst, while a 429
  blocks the key for every worker for its Retry-After, or for the documented refill interval
  (180 s) when Amazon sends none. patchListingsItem is held to 5/s and confirmShipment to 2/s,
  their documented rates.

The package, by concern: `api` (endpoints, rates, Amazon's statuses and carriers), `mapping`
(orders -> CanonicalOrder; AmazonMapping), `client` (the LWA token and HTTP; AmazonClient),
`pushes` (stock, shipments; AmazonPushes) and `adapter` (AmazonAdapter: order pulls). The names
below are its public face.
"""

from __future__ import annotations

from channels.adapters.amazon.adapter import AmazonAdapter
from channels.adapters.amazon.api import (
    CANCELLED_STATUS,
    CARRIER_CODES,
    DEFAULT_BASE_URL,
    DEFAULT_LWA_URL,
    DEFAULT_PRODUCT_TYPE,
    INCLUDED_DATA,
    LIMITS,
    ORDERS_PATH,
    PAGE_SIZE,
    PAID_STATUSES,
    PENDING_STATUSES,
    REFILL_SECONDS,
    TAX_EXCLUSIVE_MARKETPLACES,
    TOKEN_MARGIN,
)
from channels.adapters.amazon.client import AmazonClient
from channels.adapters.amazon.mapping import AmazonMapping, Unreadable
from channels.adapters.amazon.pushes import AmazonPushes

__all__ = [
    "CANCELLED_STATUS",
    "CARRIER_CODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_LWA_URL",
    "DEFAULT_PRODUCT_TYPE",
    "INCLUDED_DATA",
    "LIMITS",
    "ORDERS_PATH",
    "PAGE_SIZE",
    "PAID_STATUSES",
    "PENDING_STATUSES",
    "REFILL_SECONDS",
    "TAX_EXCLUSIVE_MARKETPLACES",
    "TOKEN_MARGIN",
    "AmazonAdapter",
    "AmazonClient",
    "AmazonMapping",
    "AmazonPushes",
    "Unreadable",
]
