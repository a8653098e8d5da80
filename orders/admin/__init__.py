"""The orders back office for customer care: find any order, see all of it, act on it.

Invariants:
- the admin never writes an order, a line, a hold, an event or a customer itself: list actions
  and the order page's forms (hold, release, cancel, note, shipping address) call services of
  orders.services, one call per order, and a DomainError is shown to the person (never a 500);
  a failed call wrote nothing, and one failing order never stops the others;
- orders are never added or deleted here (they come from channels and the API); status,
  payment status, holds and amounts are read-only and change only through those services;
- the customer-care commands need orders.change_order; everyone who may view orders sees them;
- the order and customer lists are built in a constant number of queries whatever the number
  of rows; the admin search box uses orders.selectors.order_search, the same search as the API.

Shipments, returns and refunds belong to the fulfilment and returns apps: they add inlines to
the order page with `register_order_inline` (or fill the `order_related` template block of
admin/orders/order/change_form.html), so this package never imports them.

One module a screen: `orders` (the list and the page), `order_actions`, `order_page` (its
commands), `order_forms`, `inlines`, `filters`, `display`, `customers`, `privacy_requests`,
`fraud_rules`, `rates`. Importing the package registers them all.
"""

from orders.admin import customers, fraud_rules, orders, privacy_requests, rates

__all__ = ["customers", "fraud_rules", "orders", "privacy_requests", "rates"]
