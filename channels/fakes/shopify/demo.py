"""The demo's stores: one per currency and process, growing with wall-clock time."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from channels.fakes.shopify.store import FakeShopifyStore

_DEMO_STORES: dict[str, FakeShopifyStore] = {}
_DEMO_LOCK = threading.Lock()
_DEMO_COUNTRIES = {"EUR": ("DE", "FR", "NL", "DE", "DE"), "USD": ("US",), "GBP": ("GB",)}
_DEMO_SEEDS = {"EUR": 1, "USD": 2, "GBP": 3}


def demo_store(currency: str = "EUR", skus: Iterable[str] | None = None) -> FakeShopifyStore:
    """The demo's Shopify store of a currency (one per process), growing with wall-clock time.

    Its SKUs default to the demo catalogue of inventory.demo (the codes `make run` loads).
    """
    currency = currency.upper()
    with _DEMO_LOCK:
        store = _DEMO_STORES.get(currency)
        if store is None:
            if skus is None:
                from inventory.demo import demo_skus  # the demo catalogue, read lazily

                skus = [str(row["code"]) for row in demo_skus()]
            store = FakeShopifyStore(
                skus=list(skus),
                seed=_DEMO_SEEDS.get(currency, 4),
                currency=currency,
                countries=_DEMO_COUNTRIES.get(currency, ("DE", "FR", "NL", "GB", "US")),
                auto_tick=True,
            )
            store.tick()
            _DEMO_STORES[currency] = store
        return store
