"""The carriers we buy labels from, by code: `carrier_for("inhouse")`, `carrier_for("easypost")`.

Configuration comes from the environment (read here, with development defaults; a changed
value gives a new adapter):
- OMS_GS1_COMPANY_PREFIX (default "4000001"), OMS_GS1_EXTENSION_DIGIT (0): in-house SSCCs;
- OMS_INHOUSE_TRACKING_URL: a template with {tracking_number} (default: no tracking URL);
- OMS_INHOUSE_WEBHOOK_SECRET: the delivery partner's webhook secret (unset: webhooks refused);
- OMS_EASYPOST_BASE_URL (https://api.easypost.com), OMS_EASYPOST_API_KEY,
  OMS_EASYPOST_WEBHOOK_SECRET, OMS_EASYPOST_TIMEOUT (seconds, 20), OMS_EASYPOST_ZPL (1: fetch
  ZPL labels too), OMS_EASYPOST_CARRIER_ACCOUNTS (ids separated by commas).

Invariant: an unknown carrier code raises ValidationFailed; one adapter (and so one HTTP
client) per carrier and configuration per process.
"""

from __future__ import annotations

import os
from functools import lru_cache

from fulfilment.adapters.carriers.base import (
    TRACKING_STATUSES,
    Address,
    CarrierAdapter,
    Label,
    ParcelData,
    Rate,
    ShipmentData,
    TrackingEventData,
    label_reference,
)
from oms.errors import ValidationFailed

CARRIERS = ("inhouse", "easypost")

__all__ = [
    "CARRIERS",
    "TRACKING_STATUSES",
    "Address",
    "CarrierAdapter",
    "Label",
    "ParcelData",
    "Rate",
    "ShipmentData",
    "TrackingEventData",
    "carrier_for",
    "label_reference",
]


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@lru_cache(maxsize=8)
def _inhouse(
    prefix: str, extension: str, tracking_url: str, secret: str, currency: str
) -> CarrierAdapter:
    from fulfilment.adapters.carriers.inhouse import InHouseCarrier

    try:
        return InHouseCarrier(
            company_prefix=prefix,
            extension_digit=int(extension or "0"),
            tracking_url_template=tracking_url,
            webhook_secret=secret,
            currency=currency,
        )
    except ValueError as exc:
        raise ValidationFailed(f"The in-house carrier is misconfigured: {exc}") from None


@lru_cache(maxsize=8)
def _easypost(
    base_url: str, api_key: str, secret: str, timeout: str, zpl: str, accounts: str
) -> CarrierAdapter:
    from fulfilment.adapters.carriers.easypost import EasyPostCarrier

    try:
        seconds = float(timeout or "20")
    except ValueError:
        raise ValidationFailed(f"OMS_EASYPOST_TIMEOUT is not a number: {timeout!r}.") from None
    return EasyPostCarrier(
        api_key=api_key,
        base_url=base_url,
        webhook_secret=secret,
        timeout=seconds,
        want_zpl=zpl.lower() in ("1", "true", "yes", "on"),
        carrier_accounts=[a.strip() for a in accounts.split(",") if a.strip()],
    )


def carrier_for(code: str) -> CarrierAdapter:
    """The adapter of a carrier code. Raises ValidationFailed (unknown carrier)."""
    name = (code or "").strip().lower()
    if name == "inhouse":
        return _inhouse(
            _env("OMS_GS1_COMPANY_PREFIX", "4000001"),
            _env("OMS_GS1_EXTENSION_DIGIT", "0"),
            _env("OMS_INHOUSE_TRACKING_URL"),
            _env("OMS_INHOUSE_WEBHOOK_SECRET"),
            _env("OMS_BASE_CURRENCY", "EUR").upper(),
        )
    if name == "easypost":
        return _easypost(
            _env("OMS_EASYPOST_BASE_URL", "https://api.easypost.com"),
            _env("OMS_EASYPOST_API_KEY"),
            _env("OMS_EASYPOST_WEBHOOK_SECRET"),
            _env("OMS_EASYPOST_TIMEOUT", "20"),
            _env("OMS_EASYPOST_ZPL"),
            _env("OMS_EASYPOST_CARRIER_ACCOUNTS"),
        )
    raise ValidationFailed(
        f"Unknown carrier {code!r}: use one of {', '.join(CARRIERS)}.",
        code="unknown_carrier",
        errors={"carrier": [f"One of {', '.join(CARRIERS)}."]},
    )
