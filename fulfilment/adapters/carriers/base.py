"""The carrier interface: rates, labels, voids, tracking, tracking webhooks.

Invariants:
- an adapter never touches the database: it takes and returns the dataclasses below, so that a
  service can call it with no transaction open and no row locked;
- `buy_label` is idempotent on our reference (`label_reference`, "SH-<shipment>-P<parcel>"):
  asked again with the same reference it returns the same label, never a second one;
- every failure is a TransientError (timeouts, 429, 5xx: worth retrying, with `retry_after`
  when the carrier said) or a PermanentError (a refusal that retrying will not change, with the
  carrier's own message); nothing else escapes an adapter;
- `parse_tracking_webhook` checks the signature on the raw bytes before reading anything and
  raises PermanentError when it does not match; tracking statuses are normalised to
  TRACKING_STATUSES.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from inventory.models import Location

#: The normalised tracking statuses (INTEGRATIONS.md, "Carriers and labels").
TRACKING_STATUSES = frozenset(
    {"pre_transit", "in_transit", "out_for_delivery", "delivered", "exception", "returned"}
)

_REFERENCE = re.compile(r"^SH-(\d+)-P(\d+)$")


def label_reference(shipment_id: int, parcel_id: int) -> str:
    """Our reference of the label of one parcel: what makes buying it idempotent."""
    return f"SH-{shipment_id}-P{parcel_id}"


def parse_label_reference(reference: str) -> tuple[int, int] | None:
    """(shipment id, parcel id) of a reference made by `label_reference`, else None."""
    match = _REFERENCE.match(reference)
    return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class Address:
    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""
    email: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Address:
        """From an order's shipping_address (API.md field names); unknown keys are ignored."""
        return cls(
            **{
                name: str(data.get(name) or "").strip()
                for name in cls.__dataclass_fields__
                if data.get(name) is not None
            }
        )

    @classmethod
    def from_location(cls, location: Location, *, name: str = "") -> Address:
        """The address of one of our locations, under `name` (the location's own by default)."""
        return cls(
            name=name or location.name,
            line1=location.line1,
            line2=location.line2,
            city=location.city,
            region=location.region,
            postal_code=location.postal_code,
            country=str(location.country),
        )

    def lines(self) -> list[str]:
        """The address as printed, line by line, empty parts left out."""
        town = " ".join(p for p in (self.postal_code, self.city) if p)
        parts = [self.name, self.company, self.line1, self.line2, town, self.region, self.country]
        return [p for p in parts if p]


@dataclass(frozen=True)
class ParcelData:
    id: int
    weight_grams: int
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    number: int = 1  # 1-based position in its shipment ("parcel 2 of 3")


@dataclass(frozen=True)
class ShipmentData:
    """What a carrier needs to know of a shipment (read before calling out)."""

    id: int
    order_number: str
    carrier: str
    service: str
    ship_from: Address
    ship_to: Address
    parcel_count: int = 1


@dataclass(frozen=True)
class Rate:
    carrier: str
    service: str
    amount: Decimal
    currency: str
    delivery_days: int | None = None
    carrier_reference: str = ""  # the carrier's id of the rate, when it has one


@dataclass(frozen=True)
class Label:
    tracking_number: str
    carrier_reference: str  # the carrier's id of the purchase (what void() refers to)
    pdf: bytes
    zpl: str = ""
    tracking_url: str = ""
    sscc: str = ""


@dataclass(frozen=True)
class TrackingEventData:
    external_id: str  # stable per carrier event: the same scan delivered twice has the same id
    status: str  # one of TRACKING_STATUSES
    description: str
    place: str
    occurred_at: dt.datetime
    tracking_number: str = ""  # which parcel (webhooks carry several shipments' events)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@runtime_checkable
class CarrierAdapter(Protocol):
    """One carrier (or aggregator). See the module docstring for the guarantees."""

    code: str

    def rate(self, shipment: ShipmentData, parcels: Sequence[ParcelData]) -> list[Rate]:
        """The services and prices offered for these parcels, cheapest first."""
        ...

    def buy_label(
        self, *, reference: str, shipment_data: ShipmentData, parcel: ParcelData
    ) -> Label:
        """Buy (or return the already bought) label of one parcel."""
        ...

    def void(self, label: Label) -> None:
        """Cancel an unused label (refund its postage)."""
        ...

    def track(self, tracking_number: str) -> list[TrackingEventData]:
        """Every event known for this parcel, oldest first."""
        ...

    def parse_tracking_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[TrackingEventData]:
        """The events of a tracking webhook; PermanentError when its signature is bad."""
        ...
