"""eBay through its REST APIs (Sell Fulfillment and Inventory, Post-Order, Notification).

Invariants:
- every call goes through `VendorHttp` (rate limited per channel and operation); the seller's
  user token comes from the OAuth refresh-token grant (`POST /identity/v1/oauth2/token`, HTTP
  basic client_id:client_secret) and is cached with its expiry through `save_credentials`, so
  other workers reuse it; it is refreshed 60 s before it expires, and once on a 401;
- orders are pulled with `getOrders` filtered on `lastmodifieddate:[since..]`, 200 a page,
  offset pagination while eBay answers a `next` link; `fieldGroups=TAX_BREAKDOWN` is asked so
  that `pricingSummary.total` and the line `taxes` both include eBay-collected taxes;
- `lineItemCost` is the LINE total: the unit price is it divided by the quantity; when that does
  not fall on the currency's smallest unit the unit price is rounded up and the few cents added
  go to the line discount, so the line still totals exactly what eBay says; the discount is the
  sum of `appliedPromotions[].discountAmount` (else lineItemCost - discountedLineItemCost);
- a record that cannot be read (no orderId, no date, no SKU, a bad amount, mixed currencies) is a
  RecordFailure with its reason; a page that is not an eBay order collection raises;
- webhooks (Notification API) are verified before anything is parsed: `X-EBAY-SIGNATURE` is
  base64 of JSON {alg, kid, signature, digest}; the public key of `kid` is fetched with an
  application token (client-credentials grant, as eBay documents for getPublicKey) and cached an
  hour; the ECDSA signature (the key's digest, SHA1 today) is checked over the raw body; any
  missing or wrong part raises SignatureInvalid;
- stock is pushed with `bulkUpdatePriceQuantity`, 25 SKUs a call, as the absolute ship-to-home
  quantity (also on the offer when its offerId is known); eBay's per-SKU statusCode and errors
  become the StockResults; a call eBay refuses whole fails only its own SKUs;
- a shipment is reported with `createShippingFulfillment`; the fulfillment id is the last part
  of the Location header; a repeated push whose tracking number eBay already has answers the
  existing fulfillment instead of failing;
- cancellation uses the Post-Order API `POST /post-order/v2/cancellation` (the documented
  seller-initiated cancellation, `Authorization: IAF <token>`, by legacyOrderId): eBay cancels
  whole orders only, so a push naming a subset of the lines raises NotSupported;
- refunds use `issueRefund` with an order-level amount; eBay has no idempotency key there;
- eBay's line refunds (`lineItems[].refunds`: an amount, no quantity and no restock flag) take
  the whole units their amounts cover off the order; those units come back on hand only when
  the channel's `refund_restock` setting is "restock" (default "none"), once per unit.

The package, by concern: `api` (paths, sizes, eBay's enumerations), `mapping` (eBay orders ->
CanonicalOrder), `client` (tokens and HTTP; EbayClient), `pushes` (stock, fulfilments, cancels,
refunds; EbayPushes) and `adapter` (EbayAdapter: order pulls and webhooks). The names below are
its public face.
"""

from __future__ import annotations

from channels.adapters.ebay.adapter import EbayAdapter, challenge_response
from channels.adapters.ebay.api import (
    APPLICATION_SCOPE,
    CANCEL_PATH,
    CARRIER_CODES,
    DEFAULT_BASE_URL,
    DEFAULT_LIMITS,
    DEFAULT_MARKETPLACE,
    DIGESTS,
    ORDER_TOPICS,
    ORDERS_PATH,
    PAGE_SIZE,
    PAYMENT_STATUSES,
    PUBLIC_KEY_PATH,
    PUBLIC_KEY_TTL,
    REFUND_REASONS,
    SELLER_CANCEL_REASONS,
    SIGNATURE_HEADER,
    STOCK_BATCH,
    STOCK_PATH,
    TOKEN_PATH,
    TOKEN_SKEW,
)
from channels.adapters.ebay.client import EbayClient
from channels.adapters.ebay.mapping import Unreadable, ebay_timestamp, map_order
from channels.adapters.ebay.pushes import EbayPushes

__all__ = [
    "APPLICATION_SCOPE",
    "CANCEL_PATH",
    "CARRIER_CODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_MARKETPLACE",
    "DIGESTS",
    "ORDERS_PATH",
    "ORDER_TOPICS",
    "PAGE_SIZE",
    "PAYMENT_STATUSES",
    "PUBLIC_KEY_PATH",
    "PUBLIC_KEY_TTL",
    "REFUND_REASONS",
    "SELLER_CANCEL_REASONS",
    "SIGNATURE_HEADER",
    "STOCK_BATCH",
    "STOCK_PATH",
    "TOKEN_PATH",
    "TOKEN_SKEW",
    "EbayAdapter",
    "EbayClient",
    "EbayPushes",
    "Unreadable",
    "challenge_response",
    "ebay_timestamp",
    "map_order",
]
