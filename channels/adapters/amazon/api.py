"""SP-API as we call it: endpoints, the orders API version and the data asked for, page size,
token margin, the per-operation rates and refill times, the marketplaces whose prices exclude tax,
Amazon's order statuses and carrier codes."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://sellingpartnerapi-eu.amazon.com"
DEFAULT_LWA_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_PRODUCT_TYPE = "PRODUCT"
ORDERS_PATH = "/orders/2026-01-01/orders"
INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "CANCELLATION", "FULFILLMENT")
PAGE_SIZE = 100
TOKEN_MARGIN = 60.0  # seconds before its expiry when a cached token is refreshed anyway

#: Our per-operation budgets (requests per second); see channels.adapters.amazon.
LIMITS = {"searchOrders": 0.0, "patchListingsItem": 5.0, "confirmShipment": 2.0}
#: Seconds to block an operation after a 429 that came without a Retry-After.
REFILL_SECONDS = {"searchOrders": 180.0, "patchListingsItem": 1.0, "confirmShipment": 1.0}

#: Marketplaces whose prices exclude sales tax (US, Canada); elsewhere shelf prices include it.
TAX_EXCLUSIVE_MARKETPLACES = frozenset({"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"})

PENDING_STATUSES = frozenset({"PENDING", "PENDING_AVAILABILITY", "UNFULFILLABLE"})
PAID_STATUSES = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})
CANCELLED_STATUS = "CANCELLED"
#: Shipped in full by the seller: when first seen, shipped outside the OMS.
SHIPPED_STATUS = "SHIPPED"

#: Our carrier names (lower case, letters and digits only) -> Amazon's carrierCode values.
CARRIER_CODES = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "dhlexpress": "DHL",
    "dhlecommerce": "DHL eCommerce",
    "deutschepost": "Deutsche Post",
    "dpd": "DPD",
    "gls": "GLS",
    "hermes": "Hermes",
    "evri": "Evri",
    "royalmail": "Royal Mail",
    "parcelforce": "Parcelforce",
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "laposte": "La Poste",
    "posteitaliane": "Poste Italiane",
    "brt": "BRT",
    "seur": "SEUR",
    "correos": "Correos",
    "postnl": "PostNL",
    "canadapost": "Canada Post",
    "australiapost": "Australia Post",
    "japanpost": "Japan Post",
    "amazonshipping": "Amazon Shipping",
}
