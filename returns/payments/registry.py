"""The payment providers' registry: which provider pays, captures or lists for a channel's
`payment_provider` (see the package docstring)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from returns.payments.manual import ChannelTaskProvider, ManualProvider
from returns.payments.port import (
    CapturingProvider,
    ChargingProvider,
    ListingProvider,
    PaymentProvider,
)
from returns.payments.stripe_psp import StripeProvider

_providers: dict[str, PaymentProvider] = {}
_override: PaymentProvider | None = None


def payment_provider_register(
    name: str, provider: PaymentProvider | None
) -> PaymentProvider | None:
    """Install (None removes) the provider of `name`; returns the one it replaces."""
    previous = _providers.get(name)
    if provider is None:
        _providers.pop(name, None)
    else:
        _providers[name] = provider
    return previous


def payment_provider_override(provider: PaymentProvider | None) -> PaymentProvider | None:
    """Pay every refund through `provider` (tests and fault drills); None restores the
    resolution per channel. Returns the override it replaces."""
    global _override
    previous, _override = _override, provider
    return previous


_configured: tuple[str, PaymentProvider] | None = None


def _configured_override() -> PaymentProvider | None:
    """The provider made by OMS_PAYMENT_PROVIDER_OVERRIDE (a dotted path to a callable without
    arguments), for fault drills of real worker processes; never set in production."""
    global _configured
    path = str(getattr(settings, "OMS_PAYMENT_PROVIDER_OVERRIDE", "") or "")
    if not path:
        return None
    if _configured is None or _configured[0] != path:
        _configured = (path, import_string(path)())
    return _configured[1]


def capturing_provider_for(provider_name: str) -> CapturingProvider | None:
    """The provider that captures on shipment for `provider_name` (None: it cannot)."""
    candidate: Any = _override or _configured_override() or _providers.get(provider_name)
    if candidate is None and provider_name == "stripe":
        candidate = StripeProvider.from_settings()
    return candidate if candidate is not None and hasattr(candidate, "capture") else None


def charging_provider_for(provider_name: str) -> ChargingProvider | None:
    """The provider that charges saved payment methods for `provider_name` (None: it cannot;
    a channel's own checkout or a manual provider charges renewals outside the OMS)."""
    candidate: Any = _override or _configured_override() or _providers.get(provider_name)
    if candidate is None and provider_name == "stripe":
        candidate = StripeProvider.from_settings()
    return candidate if candidate is not None and hasattr(candidate, "charge") else None


def listing_provider_for(provider_name: str) -> ListingProvider | None:
    """The provider whose refunds of a day can be listed for `provider_name` (None: none)."""
    candidate: Any = _override or _configured_override() or _providers.get(provider_name)
    if candidate is None and provider_name == "stripe":
        candidate = StripeProvider.from_settings()
    return candidate if candidate is not None and hasattr(candidate, "refunds_on") else None


def payment_provider_for(provider_name: str) -> PaymentProvider:
    """The provider that pays back refunds of a channel whose `payment_provider` is
    `provider_name` (the override, when one is installed)."""
    if _override is not None:
        return _override
    configured = _configured_override()
    if configured is not None:
        return configured
    if provider_name in _providers:
        return _providers[provider_name]
    if provider_name == "stripe":
        return StripeProvider.from_settings()
    if provider_name == "channel":
        return ChannelTaskProvider()
    return ManualProvider()
