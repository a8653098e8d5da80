"""Shopify's GraphQL Admin API 2026-04 as we speak it: the version and endpoint, page and batch
sizes, and every query and mutation document we send (values always travel as variables), with
the two helpers that format values inside a search query."""

from __future__ import annotations

import datetime as dt

API_VERSION = "2026-04"
ENDPOINT = f"/admin/api/{API_VERSION}/graphql.json"
OPERATION = "graphql"
DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 250
LINES_FIRST = 5
MORE_LINES_FIRST = 100
REFUNDS_FIRST = 20
REFUND_LINES_FIRST = 50
FULFILLMENTS_FIRST = 20
FULFILLMENT_LINES_FIRST = 50
STOCK_BATCH = 250
SKU_LOOKUP_BATCH = 50

_MONEY = "presentmentMoney { amount currencyCode }"
_ADDRESS = "name address1 address2 city provinceCode zip countryCodeV2 phone latitude longitude"
_LINE_FIELDS = f"""
fragment OmsLineItem on LineItem {{
  id sku name quantity currentQuantity requiresShipping isGiftCard
  originalUnitPriceSet {{ {_MONEY} }}
  totalDiscountSet {{ {_MONEY} }}
  discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} }}
  taxLines {{ priceSet {{ {_MONEY} }} }}
}}
"""
ORDERS_QUERY = (
    f"""
query OmsOrders($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    nodes {{
      id legacyResourceId name processedAt updatedAt cancelledAt cancelReason
      displayFinancialStatus displayFulfillmentStatus presentmentCurrencyCode taxesIncluded
      email phone note
      totalPriceSet {{ {_MONEY} }}
      currentTotalPriceSet {{ {_MONEY} }}
      shippingLine {{ originalPriceSet {{ {_MONEY} }} discountedPriceSet {{ {_MONEY} }} }}
      shippingAddress {{ {_ADDRESS} }}
      billingAddress {{ {_ADDRESS} }}
      customer {{
        firstName lastName
        defaultEmailAddress {{ emailAddress }}
        defaultPhoneNumber {{ phoneNumber }}
      }}
      lineItems(first: {LINES_FIRST}) {{
        nodes {{ ...OmsLineItem }}
        pageInfo {{ hasNextPage endCursor }}
      }}
      refunds(first: {REFUNDS_FIRST}) {{
        id
        refundLineItems(first: {REFUND_LINES_FIRST}) {{
          nodes {{ quantity restockType lineItem {{ id }} location {{ id }} }}
        }}
      }}
      fulfillments(first: {FULFILLMENTS_FIRST}) {{
        id status location {{ id }}
        fulfillmentLineItems(first: {FULFILLMENT_LINES_FIRST}) {{
          nodes {{ quantity lineItem {{ id }} }}
        }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
    + _LINE_FIELDS
)
MORE_LINES_QUERY = (
    f"""
query OmsOrderLineItems($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {MORE_LINES_FIRST}, after: $after) {{
      nodes {{ ...OmsLineItem }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""
    + _LINE_FIELDS
)
VARIANTS_BY_SKU_QUERY = """
query OmsVariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { sku inventoryItem { id } }
  }
}
"""
SET_QUANTITIES_MUTATION = """
mutation OmsSetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
FULFILLMENT_ORDERS_QUERY = """
query OmsFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) { id trackingInfo(first: 5) { number } }
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: 50) {
          nodes { id remainingQuantity lineItem { id sku } }
        }
      }
    }
  }
}
"""
FULFILLMENT_CREATE_MUTATION = """
mutation OmsFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""
ORDER_CANCEL_MUTATION = """
mutation OmsOrderCancel(
  $orderId: ID!, $reason: OrderCancelReason!, $refundMethod: OrderCancelRefundMethodInput!,
  $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String
) {
  orderCancel(
    orderId: $orderId, reason: $reason, refundMethod: $refundMethod, restock: $restock,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote
  ) {
    job { id done }
    orderCancelUserErrors { code field message }
  }
}
"""
ORDER_TRANSACTIONS_QUERY = f"""
query OmsOrderTransactions($id: ID!) {{
  order(id: $id) {{
    id presentmentCurrencyCode
    transactions(first: 20) {{ id kind status gateway amountSet {{ {_MONEY} }} }}
  }}
}}
"""
REFUND_CREATE_MUTATION = """
mutation OmsRefundCreate($input: RefundInput!, $idempotencyKey: String!) {
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {
    refund { id }
    userErrors { field message }
  }
}
"""


def search_value(value: str) -> str:
    """A value quoted for Shopify's search syntax."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def iso_utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
