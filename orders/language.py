"""The shopper's language of an order (or, for a subscription, of its channel): the one place
that decides it, read by the tracking page, the return pages, the subscription page and every
shopper e-mail (they render inside `translation.override(language)`).

Invariant: the order's own language when its channel sent one (Shopify's `customer_locale`,
or a `language`/`locale` in the payload, e.g. "de-CH" -> "de") and we ship it; else the
channel's `language` setting; else English (oms.i18n.DEFAULT_LANGUAGE).
"""

from __future__ import annotations

from typing import Any

from inventory.models import Channel
from oms.i18n import DEFAULT_LANGUAGE, language_normalise
from orders.models import Order

#: Where a channel's order payload names the shopper's language.
PAYLOAD_KEYS = ("customer_locale", "language", "locale")


def shopper_language(*, order: Order | None = None, channel: Channel | None = None) -> str:
    """The language ("en", "de", "fr", "nl", "es") to write to the shopper of `order` (or, with
    no order, of `channel`)."""
    if order is not None:
        raw: Any = order.raw_payload if "raw_payload" not in order.get_deferred_fields() else {}
        if isinstance(raw, dict):
            for key in PAYLOAD_KEYS:
                found = language_normalise(raw.get(key))
                if found:
                    return found
        channel = order.channel
    if channel is not None:
        return language_normalise(channel.language) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE
