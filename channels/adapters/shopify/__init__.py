"""Shopify over the GraphQL Admin API 2026-04 (orders, stock, fulfilments, cancels, refunds) and
its REST-shaped webhooks, behind channels.adapters.base.ChannelAdapter.

Invariants:
- every call is `POST {base}/admin/api/2026-04/graphql.json` with `X-Shopify-Access-Token`, through
  VendorHttp under one rate-limit key per shop ("graphql": Shopify's cost bucket is per app and
  shop, shared by every operation); values always travel as GraphQL variables; when an answer's
  `throttleStatus` shows the bucket cannot pay for another such query, the key is blocked until
  it can (every worker waits), instead of counting requests per second;
- GraphQL answers HTTP 200 with `errors`: THROTTLED raises RateLimited (retry_after computed from
  `extensions.cost.throttleStatus`, and the shared limiter key is blocked for that long),
  INTERNAL_SERVER_ERROR raises TransientError, any other error PermanentError; an answer without
  the expected `data` shape is PermanentError, so a garbage page never half-imports;
- a 401 is PermanentError (Admin API access tokens do not refresh);
- orders are pulled with `orders(sortKey: UPDATED_AT, query: "updated_at:>='<since>'")` in pages
  of `page_size` (default 15: a query may cost at most 1000 points and every requested order and
  line item costs points) with `lineItems(first: 5)`; an order with more lines has the rest read
  with follow-up `order(id:) { lineItems(after:) }` queries;
- external ids are Shopify's numeric legacy ids (the REST webhook `id`); amounts are the
  presentment amounts (`*Set.presentmentMoney`, REST `*_set.presentment_money`) in the order's
  presentment currency, never the shop-currency ones; an order that cannot be mapped becomes a
  RecordFailure with the reason and the other orders of the page continue;
- a cancelled order keeps its original quantities (Shopify zeroes `currentQuantity` on restock) so
  it is still readable; lines without a SKU that need no shipping (gift cards, tips) are left out,
  a line without a SKU that ships makes the order a RecordFailure;
- webhooks are parsed only after `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with
  `webhook_secret`) matched in constant time; the delivery id is `X-Shopify-Webhook-Id` (or
  `X-Shopify-Event-Id`); the mandatory compliance topics (customers/data_request,
  customers/redact, shop/redact) arrive on the same endpoint and are read by
  `webhook_privacy`, never as orders;
- stock is set with `inventorySetQuantities` (absolute `available`, `changeFromQuantity: null` to
  opt out of the compare, and the `@idempotent` key 2026-04 requires) in batches of 250;
- a fulfilment already reported with the same tracking number is returned, not created again;
  the fulfilment ids it created or found are kept on the push, by which the sync tells our own
  fulfilments from those made in Shopify's admin;
- the order's fulfilments (REST `fulfillments[].line_items[]`, GraphQL `fulfillments {
  fulfillmentLineItems }`; cancelled, failed and errored ones left out) become
  CanonicalOrder.fulfilments: an order partially fulfilled in Shopify's admin (REST "partial",
  GraphQL PARTIALLY_FULFILLED) is ours to ship except the units those name, which the sync
  records shipped outside the OMS; a refund's `restock_type` says whether its units came back
  (return, legacy_restock), followed whatever the channel's `refund_restock` setting says;
  refunds carry our refund reference as their `@idempotent` key.

Credentials: shop, access_token, webhook_secret, location_id, optional base_url, page_size and
refund_on_cancel (false: money goes back through refund_push only).

The package, by concern: `queries` (API version, sizes, the GraphQL documents), `mapping`
(Shopify orders -> CanonicalOrder), `client` (credentials, the GraphQL transport, cost pacing,
errors, the webhook HMAC), `pushes` (stock, fulfilments, cancels, refunds) and `adapter`
(ShopifyAdapter: order pulls and webhooks). The names below are its public face.
"""

from __future__ import annotations

from channels.adapters.shopify.adapter import ORDER_TOPICS, PRIVACY_TOPICS, ShopifyAdapter
from channels.adapters.shopify.client import ShopifyClient, webhook_signature
from channels.adapters.shopify.mapping import (
    PAYMENT_STATUSES,
    Unmappable,
    gid,
    legacy_id,
    map_graphql_order,
    map_rest_order,
)
from channels.adapters.shopify.pushes import CANCEL_REASONS, OPEN_FULFILLMENT_ORDER, ShopifyPushes
from channels.adapters.shopify.queries import (
    API_VERSION,
    DEFAULT_PAGE_SIZE,
    ENDPOINT,
    FULFILLMENT_CREATE_MUTATION,
    FULFILLMENT_ORDERS_QUERY,
    LINES_FIRST,
    MAX_PAGE_SIZE,
    MORE_LINES_FIRST,
    MORE_LINES_QUERY,
    OPERATION,
    ORDER_CANCEL_MUTATION,
    ORDER_TRANSACTIONS_QUERY,
    ORDERS_QUERY,
    REFUND_CREATE_MUTATION,
    SET_QUANTITIES_MUTATION,
    SKU_LOOKUP_BATCH,
    STOCK_BATCH,
    VARIANTS_BY_SKU_QUERY,
)

__all__ = [
    "API_VERSION",
    "CANCEL_REASONS",
    "DEFAULT_PAGE_SIZE",
    "ENDPOINT",
    "FULFILLMENT_CREATE_MUTATION",
    "FULFILLMENT_ORDERS_QUERY",
    "LINES_FIRST",
    "MAX_PAGE_SIZE",
    "MORE_LINES_FIRST",
    "MORE_LINES_QUERY",
    "OPEN_FULFILLMENT_ORDER",
    "OPERATION",
    "ORDERS_QUERY",
    "ORDER_CANCEL_MUTATION",
    "ORDER_TOPICS",
    "ORDER_TRANSACTIONS_QUERY",
    "PAYMENT_STATUSES",
    "PRIVACY_TOPICS",
    "REFUND_CREATE_MUTATION",
    "SET_QUANTITIES_MUTATION",
    "SKU_LOOKUP_BATCH",
    "STOCK_BATCH",
    "VARIANTS_BY_SKU_QUERY",
    "ShopifyAdapter",
    "ShopifyClient",
    "ShopifyPushes",
    "Unmappable",
    "gid",
    "legacy_id",
    "map_graphql_order",
    "map_rest_order",
    "webhook_signature",
]
