"""EasyPost (a carrier aggregator) over its REST API v2, with one httpx.Client.

Invariants:
- buying is idempotent on our reference: the shipment is created with `reference` = our
  reference and an `Idempotency-Key` header equal to it (the buy call with "<reference>:buy"),
  and a shipment that comes back already bought is not bought again; a buy refused because
  the postage exists is answered with the shipment as it is;
- 429 (with its Retry-After), 408, 5xx, timeouts and connection errors raise TransientError;
  any other 4xx raises EasyPostError (a PermanentError) carrying EasyPost's own message and code
  from `{"error": {"code", "message", "errors"}}`;
- the API key is sent (HTTP basic, as EasyPost documents) to the API only, never to the label
  download URLs; labels are kept as bytes (PDF) and text (ZPL, when EasyPost offers it or the
  adapter is asked for it);
- webhooks are accepted only with `X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256 of the
  raw body>` made with the webhook secret (NFKD-normalised, as EasyPost's clients do);
- EasyPost units are inches and ounces; tracking statuses are mapped to TRACKING_STATUSES and
  unknown ones are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from fulfilment.adapters.carriers.base import (
    Address,
    Label,
    ParcelData,
    Rate,
    ShipmentData,
    TrackingEventData,
)
from oms import jsonsafe
from oms.errors import PermanentError, TransientError
from oms.vendor_http import (
    check_signature,
    header,
    hmac_sha256_hex,
    parse_datetime,
    retry_after_seconds,
)

DEFAULT_BASE_URL = "https://api.easypost.com"
SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
GRAMS_PER_OUNCE = Decimal("28.349523125")
MM_PER_INCH = Decimal("25.4")

#: EasyPost tracker statuses -> ours (unknown ones, and "unknown", are left out).
STATUSES = {
    "pre_transit": "pre_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "available_for_pickup": "out_for_delivery",  # waits for the recipient at a pick-up point
    "delivered": "delivered",
    "return_to_sender": "returned",
    "failure": "exception",
    "error": "exception",
    "cancelled": "exception",
}


class EasyPostError(PermanentError):
    """EasyPost refused: `code` is its error code (e.g. SHIPMENT.INVALID_PARAMS)."""

    def __init__(self, message: str, *, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(code, message) of an EasyPost error body, with the field errors after the message."""
    try:
        data = response.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        text = response.text.strip()[:200]
        return "", text or response.reason_phrase or f"HTTP {response.status_code}"
    message = str(error.get("message") or "").strip() or f"HTTP {response.status_code}"
    details = []
    for item in error.get("errors") or []:
        if isinstance(item, dict):
            name, said = item.get("field"), item.get("message")
            details.append(f"{name}: {said}" if name else str(said or ""))
        elif item:
            details.append(str(item))
    details = [d for d in details if d and d not in message]
    if details:
        message = f"{message} ({'; '.join(details)})"
    return str(error.get("code") or ""), message


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("0")


def _ounces(grams: int) -> float:
    return float(max(Decimal("0.1"), (Decimal(grams) / GRAMS_PER_OUNCE).quantize(Decimal("0.1"))))


def _inches(mm: int | None) -> float | None:
    if not mm:
        return None
    return float(max(Decimal("0.1"), (Decimal(mm) / MM_PER_INCH).quantize(Decimal("0.1"))))


def _address(address: Address) -> dict[str, str]:
    return {
        "name": address.name,
        "company": address.company,
        "street1": address.line1,
        "street2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postal_code,
        "country": address.country,
        "phone": address.phone,
        "email": address.email,
    }


def _parcel(parcel: ParcelData) -> dict[str, float]:
    data: dict[str, float] = {"weight": _ounces(parcel.weight_grams)}
    for name, value in (
        ("length", parcel.length_mm),
        ("width", parcel.width_mm),
        ("height", parcel.height_mm),
    ):
        inches = _inches(value)
        if inches is not None:
            data[name] = inches
    return data


def _bought(shipment: Mapping[str, Any]) -> bool:
    return bool(shipment.get("postage_label")) and bool(shipment.get("tracking_code"))


def _rates(shipment: Mapping[str, Any]) -> list[Rate]:
    rates = []
    for row in shipment.get("rates") or []:
        if not isinstance(row, dict) or not row.get("id"):
            continue
        days = row.get("delivery_days")
        rates.append(
            Rate(
                carrier=str(row.get("carrier") or ""),
                service=str(row.get("service") or ""),
                amount=_decimal(row.get("rate")),
                currency=str(row.get("currency") or ""),
                delivery_days=int(days) if isinstance(days, int) else None,
                carrier_reference=str(row["id"]),
            )
        )
    return sorted(rates, key=lambda r: (r.amount, r.carrier, r.service))


def _choose(rates: Sequence[Rate], service: str) -> Rate | None:
    """The rate of `service` ("Priority", or "USPS:Priority" to name the carrier too), the
    cheapest one when no service is named ("", "cheapest", "lowest")."""
    wanted = service.strip().casefold()
    if wanted in ("", "cheapest", "lowest"):
        return rates[0] if rates else None
    carrier, _, name = wanted.rpartition(":")
    for rate in rates:
        if rate.service.casefold() == name and (not carrier or rate.carrier.casefold() == carrier):
            return rate
    return None


def _place(location: Any) -> str:
    if not isinstance(location, dict):
        return ""
    parts = [location.get(k) for k in ("city", "state", "zip", "country")]
    return ", ".join(str(p) for p in parts if p)[:128]


def tracker_events(tracker: Mapping[str, Any]) -> list[TrackingEventData]:
    """The events of an EasyPost Tracker object, oldest first."""
    code = str(tracker.get("tracking_code") or "")
    events = []
    for detail in tracker.get("tracking_details") or []:
        if not isinstance(detail, dict):
            continue
        status = STATUSES.get(str(detail.get("status") or ""))
        occurred = parse_datetime(detail.get("datetime"))
        if status is None or occurred is None:
            continue
        key = "|".join(
            str(detail.get(k) or "") for k in ("datetime", "status", "status_detail", "message")
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        events.append(
            TrackingEventData(
                external_id=f"easypost:{code}:{digest}"[:128],
                status=status,
                description=str(detail.get("message") or detail.get("description") or "")[:255],
                place=_place(detail.get("tracking_location")),
                occurred_at=occurred,
                tracking_number=code,
                raw=detail,
            )
        )
    return sorted(events, key=lambda e: e.occurred_at)


class EasyPostCarrier:
    """EasyPost REST client. See the module docstring."""

    code = "easypost"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        webhook_secret: str = "",
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        want_zpl: bool = False,
        carrier_accounts: Sequence[str] = (),
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.want_zpl = want_zpl
        self.carrier_accounts = list(carrier_accounts)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            follow_redirects=True,
            headers={"Accept": "application/json", "User-Agent": "oms-carriers/1"},
        )

    def close(self) -> None:
        self._client.close()

    # --- HTTP -----------------------------------------------------------------------------------

    def _send(self, method: str, url: str, **options: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **options)
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"EasyPost did not answer in time ({type(exc).__name__})."
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(f"EasyPost could not be reached: {exc}") from exc
        status = response.status_code
        if status == 429 or status == 408 or status >= 500:
            code, message = _error_of(response)
            raise TransientError(
                f"EasyPost answered {status}: {message}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 400:
            code, message = _error_of(response)
            raise EasyPostError(message, code=code, status=status)
        return response

    def _api(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> dict[str, Any]:
        if not self.api_key:
            raise PermanentError("EasyPost is not configured: set OMS_EASYPOST_API_KEY.")
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self._send(
            method, path, json=body, params=params, headers=headers, auth=(self.api_key, "")
        )
        try:
            data = response.json()
        except ValueError:
            # A 2xx that is not JSON comes from something in between: try again later.
            raise TransientError(f"EasyPost answered {path} with something not JSON.") from None
        if not isinstance(data, dict):
            raise TransientError(f"EasyPost answered {path} with something not an object.")
        return data

    def _download(self, url: str) -> bytes:
        # Label files live on EasyPost's file storage: no credentials go there.
        return self._send("GET", url).content

    # --- the protocol ---------------------------------------------------------------------------

    def _create(
        self, *, shipment_data: ShipmentData, parcel: ParcelData, reference: str, key: str
    ) -> dict[str, Any]:
        shipment: dict[str, Any] = {
            "reference": reference,
            "to_address": _address(shipment_data.ship_to),
            "from_address": _address(shipment_data.ship_from),
            "parcel": _parcel(parcel),
            "options": {"label_format": "PDF", "label_size": "4x6", "print_custom_1": reference},
        }
        if self.carrier_accounts:
            shipment["carrier_accounts"] = [{"id": a} for a in self.carrier_accounts]
        return self._api("POST", "/v2/shipments", body={"shipment": shipment}, idempotency_key=key)

    def rate(self, shipment: ShipmentData, parcels: Sequence[ParcelData]) -> list[Rate]:
        """The services offered for every parcel, with the sum of their prices."""
        totals: dict[tuple[str, str], Rate] = {}
        offered: list[set[tuple[str, str]]] = []
        for parcel in parcels:
            answer = self._create(
                shipment_data=shipment, parcel=parcel, reference=f"RATE-SH-{shipment.id}", key=""
            )
            rates = _rates(answer)
            offered.append({(r.carrier, r.service) for r in rates})
            for r in rates:
                key = (r.carrier, r.service)
                seen = totals.get(key)
                totals[key] = r if seen is None else replace(seen, amount=seen.amount + r.amount)
        common = set.intersection(*offered) if offered else set()
        return sorted(
            (r for k, r in totals.items() if k in common),
            key=lambda r: (r.amount, r.carrier, r.service),
        )

    def buy_label(
        self, *, reference: str, shipment_data: ShipmentData, parcel: ParcelData
    ) -> Label:
        shipment = self._create(
            shipment_data=shipment_data, parcel=parcel, reference=reference, key=reference
        )
        shipment_id = str(shipment.get("id") or "")
        if not shipment_id:
            raise TransientError("EasyPost created a shipment without an id.")
        if not _bought(shipment):
            rate = _choose(_rates(shipment), shipment_data.service)
            if rate is None:
                offered = ", ".join(f"{r.carrier}:{r.service}" for r in _rates(shipment))
                raise PermanentError(
                    f"EasyPost offers no rate for service {shipment_data.service!r}"
                    f" (offered: {offered or 'none'})."
                )
            try:
                shipment = self._api(
                    "POST",
                    f"/v2/shipments/{shipment_id}/buy",
                    body={"rate": {"id": rate.carrier_reference}},
                    idempotency_key=f"{reference}:buy",
                )
            except EasyPostError:
                # Bought by an earlier attempt whose answer was lost? Then that is our label.
                current = self._api("GET", f"/v2/shipments/{shipment_id}")
                if not _bought(current):
                    raise
                shipment = current
        return self._label(shipment_id, shipment)

    def _label(self, shipment_id: str, shipment: Mapping[str, Any]) -> Label:
        postage = shipment.get("postage_label") or {}
        pdf_url = str(postage.get("label_pdf_url") or "")
        if not pdf_url and (
            postage.get("label_file_type") == "application/pdf"
            or str(postage.get("label_url") or "").lower().split("?")[0].endswith(".pdf")
        ):
            pdf_url = str(postage["label_url"])
        if not pdf_url:
            converted = self._api(
                "GET", f"/v2/shipments/{shipment_id}/label", params={"file_format": "PDF"}
            )
            pdf_url = str((converted.get("postage_label") or {}).get("label_pdf_url") or "")
            if not pdf_url:
                raise PermanentError(f"EasyPost has no PDF label for shipment {shipment_id}.")
        pdf = self._download(pdf_url)
        if not pdf.startswith(b"%PDF"):
            raise TransientError(f"The label of EasyPost shipment {shipment_id} is not a PDF.")
        zpl_url = str(postage.get("label_zpl_url") or "")
        if not zpl_url and self.want_zpl:
            converted = self._api(
                "GET", f"/v2/shipments/{shipment_id}/label", params={"file_format": "ZPL"}
            )
            zpl_url = str((converted.get("postage_label") or {}).get("label_zpl_url") or "")
        zpl = self._download(zpl_url).decode("utf-8", "replace") if zpl_url else ""
        tracker = shipment.get("tracker") or {}
        return Label(
            tracking_number=str(shipment["tracking_code"]),
            carrier_reference=shipment_id,
            pdf=pdf,
            zpl=zpl,
            tracking_url=str(tracker.get("public_url") or "") if isinstance(tracker, dict) else "",
        )

    def void(self, label: Label) -> None:
        """Ask for the refund of an unused label. Raises EasyPostError when it is refused."""
        answer = self._api("POST", f"/v2/shipments/{label.carrier_reference}/refund")
        if answer.get("refund_status") == "rejected":
            raise EasyPostError(
                f"EasyPost rejected the refund of {label.tracking_number}.", code="REFUND.REJECTED"
            )

    def track(self, tracking_number: str) -> list[TrackingEventData]:
        """By tracker id (trk_...) or by tracking code (the tracker EasyPost made at purchase)."""
        if tracking_number.startswith("trk_"):
            return tracker_events(self._api("GET", f"/v2/trackers/{tracking_number}"))
        answer = self._api(
            "GET", "/v2/trackers", params={"tracking_code": tracking_number, "page_size": 1}
        )
        trackers = [t for t in answer.get("trackers") or [] if isinstance(t, dict)]
        return tracker_events(trackers[0]) if trackers else []

    def parse_tracking_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[TrackingEventData]:
        """The events of a `tracker.*` Event; other events give []."""
        if not self.webhook_secret:
            raise PermanentError("EasyPost webhooks are off: no webhook secret is set.")
        check_signature(
            given=header(headers, SIGNATURE_HEADER),
            expected=SIGNATURE_PREFIX + hmac_sha256_hex(self.webhook_secret, body),
            what="EasyPost webhook",
        )
        try:
            event = jsonsafe.loads(body)
        except ValueError as exc:
            raise PermanentError(f"EasyPost webhook: not JSON ({exc}).") from None
        if not isinstance(event, dict):
            raise PermanentError("EasyPost webhook: not an Event object.")
        result = event.get("result")
        if not str(event.get("description") or "").startswith("tracker.") or not isinstance(
            result, dict
        ):
            return []
        return tracker_events(result)
