"""Channel adapters, one package per vendor, all behind channels.adapters.base.ChannelAdapter.

Each vendor package exposes one class taking an AdapterContext; `adapter_class` finds it by the
channel's kind without importing every vendor at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

ADAPTERS = {
    "shopify": "channels.adapters.shopify:ShopifyAdapter",
    "amazon": "channels.adapters.amazon:AmazonAdapter",
    "ebay": "channels.adapters.ebay:EbayAdapter",
    "woocommerce": "channels.adapters.woocommerce:WooCommerceAdapter",
    "pos": "channels.adapters.square:SquareAdapter",
}


def adapter_class(kind: str) -> Any | None:
    """The adapter class of a channel kind, or None (API and CSV channels have none)."""
    target = ADAPTERS.get(kind)
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)
