"""A fake Shopify store answering the GraphQL Admin API 2026-04 the way the Shopify adapter asks.

Use it as `httpx.MockTransport(store.handler)` in an AdapterContext: the demo, the benchmark and
tests then pull orders, push stock, fulfilments, cancellations and refunds with no network.

Invariants:
- orders are deterministic from the seed and the order id: only (id, number, timestamps, status)
  is kept per order, and the JSON nodes are built when a page is served, so 10,000 orders cost a
  few MB and a page of 250 a few milliseconds;
- `orders` honours `first` (at most 250, as Shopify), `after` (opaque cursors over
  (updatedAt, id)), `query: "updated_at:>='...'"` and `sortKey: UPDATED_AT`, oldest change first;
- amounts follow Shopify: every `*Set` has `shopMoney` and `presentmentMoney`, the totals add up
  (line prices - discounts + shipping, + taxes unless `taxesIncluded`); about one order in
  eight used the code WELCOME10 (10 % off), an order-level discount spread over the lines'
  `discountAllocations` / `discount_allocations` and left out of their `totalDiscountSet`, as
  Shopify documents;
- the mutations check what Shopify 2026-04 checks that matters here: `changeFromQuantity` present
  on every quantity and the `@idempotent` directive on inventorySetQuantities and refundCreate,
  quantities not above what is left to fulfil, a cancelled order not cancelled twice;
- a request without `X-Shopify-Access-Token` (or with another token than the store's) gets 401.

`demo_store()` returns one store per currency whose orders grow with wall-clock time: one or two
orders per minute, with ids derived from the minute, so every process of the demo (web, worker)
sees the same orders.

The package, by concern: `data` (catalogue, orders and shared helpers), `payloads` (orders as
Shopify JSON), `queries` and `mutations` (what the fake answers), `store` (FakeShopifyStore, the
HTTP handler) and `demo` (demo_store).
"""

from __future__ import annotations

from channels.fakes.shopify.data import (
    ADDRESSES,
    CENT,
    COUNTRY_NAMES,
    FIRST_NAMES,
    LAST_NAMES,
    MINUTE_IDS,
    ORDER_ID_BASE,
    PHONE_PREFIX,
    RATES,
    US_SALES_TAX,
    VAT,
)
from channels.fakes.shopify.demo import demo_store
from channels.fakes.shopify.store import API_PATH, FakeShopifyStore

__all__ = [
    "ADDRESSES",
    "API_PATH",
    "CENT",
    "COUNTRY_NAMES",
    "FIRST_NAMES",
    "LAST_NAMES",
    "MINUTE_IDS",
    "ORDER_ID_BASE",
    "PHONE_PREFIX",
    "RATES",
    "US_SALES_TAX",
    "VAT",
    "FakeShopifyStore",
    "demo_store",
]
