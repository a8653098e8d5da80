"""eBay's REST APIs as we call them: base URL and paths, page and batch sizes, token timing, the
notification topics and digests, and the eBay enumerations we read or send (payment statuses,
carriers, cancel and refund reasons)."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import hashes

DEFAULT_BASE_URL = "https://api.ebay.com"
DEFAULT_MARKETPLACE = "EBAY_US"
TOKEN_PATH = "/identity/v1/oauth2/token"
ORDERS_PATH = "/sell/fulfillment/v1/order"
STOCK_PATH = "/sell/inventory/v1/bulk_update_price_quantity"
CANCEL_PATH = "/post-order/v2/cancellation"
PUBLIC_KEY_PATH = "/commerce/notification/v1/public_key"
APPLICATION_SCOPE = "https://api.ebay.com/oauth/api_scope"
SIGNATURE_HEADER = "X-EBAY-SIGNATURE"

PAGE_SIZE = 200  # getOrders' maximum
STOCK_BATCH = 25  # bulkUpdatePriceQuantity's maximum
TOKEN_SKEW = 60.0  # refresh this many seconds before the token expires
PUBLIC_KEY_TTL = 3600  # eBay recommends caching a public key for about an hour
#: Calls per second per (channel, operation). eBay's quotas are daily; this only smooths bursts.
DEFAULT_LIMITS: dict[str, float] = {"*": 10.0}

#: Notification topics that name an order: it is fetched and mapped by webhook_orders.
ORDER_TOPICS = frozenset({"ORDER_CONFIRMATION", "ITEM_MARKED_SHIPPED"})

#: eBay orderPaymentStatus -> ours (orders.states.PaymentStatus).
PAYMENT_STATUSES = {
    "PAID": "paid",
    "PENDING": "pending",
    "FAILED": "pending",  # not paid (yet): the order waits on a payment hold
    "PARTIALLY_REFUNDED": "partially_refunded",
    "FULLY_REFUNDED": "refunded",
}

DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

#: Our carrier codes -> eBay ShippingCarrierCodeType values (anything else is sent as given).
CARRIER_CODES = {
    "usps": "USPS",
    "ups": "UPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "dhl_express": "DHL",
    "royal_mail": "RoyalMail",
    "royalmail": "RoyalMail",
    "parcelforce": "Parcelforce",
    "deutsche_post": "DeutschePost",
    "dpd": "DPD",
    "gls": "GLS",
    "hermes": "Hermes",
    "canada_post": "CanadaPost",
    "australia_post": "AustraliaPost",
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "tnt": "TNT",
    "postnl": "PostNL",
}

#: Post-Order CancelReasonEnum values a seller may give.
SELLER_CANCEL_REASONS = frozenset(
    {"OUT_OF_STOCK_OR_CANNOT_FULFILL", "BUYER_ASKED_CANCEL", "ADDRESS_ISSUES"}
)
#: Fulfillment ReasonForRefundEnum values.
REFUND_REASONS = frozenset(
    {
        "BUYER_CANCEL",
        "SELLER_CANCEL",
        "ITEM_NOT_RECEIVED",
        "BUYER_RETURN",
        "ITEM_NOT_AS_DESCRIBED",
        "OTHER_ADJUSTMENT",
        "SHIPPING_DISCOUNT",
    }
)
