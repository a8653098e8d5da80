"""3PL partners: their configuration, the hand-off of their shipments and their confirmations.

A partner receives each shipment of its location as a signed JSON webhook (Standard Webhooks:
`webhook-id`, `webhook-timestamp`, `webhook-signature` = "v1," + base64 HMAC-SHA256 of
`id.timestamp.body`, made by the standardwebhooks library) and confirms back to
`POST /webhooks/3pl/<location code>/`, signed the same way with the same secret.

Invariants:
- the secret is encrypted before it is stored (oms.crypto) and never returned: only `has_secret`;
- a shipment is handed off after the commit that created it, with `webhook-id` "SH-<id>" (the
  partner's dedupe key), by a task that runs outside any transaction or lock: fetch, POST, then
  lock and write; only a pending shipment is sent, so a replay sends nothing more;
- 2xx -> the shipment is `sent`; 429, 5xx and network failures -> TransientError (retried);
  anything else -> PermanentError: the shipment needs attention with the partner's answer;
- an inbound confirmation is verified on the raw body before anything is stored; a delivery is
  stored once per (location, webhook-id) in the kernel's inbox (oms.inbox, kind "partner") and
  processed once, in its task; a confirmation that cannot be applied (unknown shipment or type,
  another partner's shipment, a refused transition) fails the delivery with the reason as its
  error, never retried in a loop;
- a held order's shipment is not handed off: the task skips it (flagged "Order on hold: ...",
  handed off again when the hold is released, fulfilment.services.holds) and "send again" is
  refused (OrderOnHold); what the partner confirms it did (accepted, shipped, delivered) is
  recorded even for a held order, and a hold flag stays on the shipment.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.db import IntegrityError, transaction
from standardwebhooks.webhooks import Webhook

from fulfilment.events import ShipmentCreated
from fulfilment.models import Shipment, ThirdPartyPartner
from fulfilment.services.shipments import (
    HOLD_ATTENTION_PREFIX,
    refuse_if_on_hold,
    shipment_cancel,
    shipment_deliver,
    shipment_hold_flag,
    shipment_send_to_3pl,
    shipment_ship,
)
from fulfilment.states import ShipmentStatus
from inventory.models import Location, LocationKind
from oms import jsonsafe
from oms.crypto import decrypt_json, encrypt_json
from oms.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermanentError,
    TransientError,
    ValidationFailed,
)
from oms.inbox import MAX_DELIVERY_ID, inbox_store
from oms.models import InboundWebhook
from oms.outbox import outbox_enqueue
from oms.refdata import cached
from orders.services import order_event_add, order_get_for_update

log = logging.getLogger(__name__)

#: Confirmations older (or further in the future) than this are refused (replay protection).
TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 16
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
USER_AGENT = "oms-3pl-handoff/1"


class SignatureInvalid(DomainError):
    status = 401
    code = "invalid_signature"
    title = "Invalid webhook signature"


# --- Standard Webhooks signatures ----------------------------------------------------------------


def _key(secret: str) -> bytes:
    """Standard Webhooks secrets are "whsec_" + base64 of the key; any other text is the key."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def secret_problem(secret: str) -> str:
    """Why this secret cannot be used ("" when it can)."""
    if secret != secret.strip():
        return "No spaces around the secret."
    try:
        key = _key(secret)
    except (binascii.Error, ValueError):
        return f"A secret starting with {SECRET_PREFIX} is followed by base64."
    if len(key) < MIN_SECRET_BYTES:
        return f"At least {MIN_SECRET_BYTES} bytes."
    return ""


def webhook_sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value: "v1," + base64 HMAC-SHA256 of id.timestamp.body,
    made by the `standardwebhooks` library (given the key's bytes, so that a secret without the
    whsec_ prefix keeps meaning its own text as the key)."""
    when = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return Webhook(_key(secret)).sign(msg_id=msg_id, timestamp=when, data=body)


def webhook_verify(
    *, secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str:
    """Check a signed delivery; returns its `webhook-id`. Raises SignatureInvalid."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise SignatureInvalid(
            "The webhook-id, webhook-timestamp and webhook-signature headers are required."
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureInvalid("webhook-timestamp is not a Unix timestamp.") from None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise SignatureInvalid("webhook-timestamp is too old or too far in the future.")
    expected = webhook_sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    # The header may carry several space-separated signatures (while a secret is rotated).
    if not any(hmac.compare_digest(expected, s) for s in signatures.split() if s.startswith("v1,")):
        raise SignatureInvalid("The signature does not match.")
    return msg_id


# --- configuration -------------------------------------------------------------------------------


def countries_normalise(value: str) -> str:
    """ "gb, fr" -> "GB,FR". Raises ValidationFailed (not an ISO 3166-1 alpha-2 code)."""
    codes = [c.strip().upper() for c in value.replace(";", ",").split(",") if c.strip()]
    bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
    if bad:
        raise ValidationFailed(
            "Countries are ISO 3166-1 alpha-2 codes.",
            errors={"countries": [f"Not a country code: {', '.join(bad)}."]},
        )
    return ",".join(dict.fromkeys(codes))


def _endpoint(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed("The endpoint is an http(s) URL.", errors={"endpoint": ["Invalid."]})
    return value


def _validate_secret(secret: str) -> None:
    problem = secret_problem(secret)
    if problem:
        raise ValidationFailed("This secret cannot be used.", errors={"secret": [problem]})


@transaction.atomic
def partner_create(
    *,
    location: Location,
    name: str,
    endpoint: str,
    secret: str,
    countries: str = "",
    is_active: bool = True,
) -> ThirdPartyPartner:
    """Configure the partner of a 3PL location; the secret is stored encrypted.

    Raises ValidationFailed (not a 3PL location, bad endpoint, secret or country), Conflict
    (the location has a partner already).
    """
    if location.kind != LocationKind.THIRD_PARTY:
        raise ValidationFailed(
            "Only a 3PL location has a partner.", errors={"location": ["Not a 3PL location."]}
        )
    _validate_secret(secret)
    try:
        with transaction.atomic():
            return ThirdPartyPartner.objects.create(
                location=location,
                name=name,
                endpoint=_endpoint(endpoint),
                secret_encrypted=encrypt_json({"secret": secret}),
                countries=countries_normalise(countries),
                is_active=is_active,
            )
    except IntegrityError:
        raise Conflict(f"{location.code} has a partner already.", code="partner_exists") from None


@transaction.atomic
def partner_update(*, partner: ThirdPartyPartner, data: Mapping[str, Any]) -> ThirdPartyPartner:
    """Change a partner: `name`, `endpoint`, `countries`, `is_active`, and `secret` (replaces
    the stored one; absent keeps it). Raises ValidationFailed."""
    partner = ThirdPartyPartner.objects.select_for_update().get(pk=partner.pk)
    fields: list[str] = []
    if "name" in data:
        partner.name = str(data["name"])
        fields.append("name")
    if "endpoint" in data:
        partner.endpoint = _endpoint(str(data["endpoint"]))
        fields.append("endpoint")
    if "countries" in data:
        partner.countries = countries_normalise(str(data["countries"] or ""))
        fields.append("countries")
    if "is_active" in data:
        partner.is_active = bool(data["is_active"])
        fields.append("is_active")
    if data.get("secret"):
        _validate_secret(str(data["secret"]))
        partner.secret_encrypted = encrypt_json({"secret": str(data["secret"])})
        fields.append("secret_encrypted")
    if fields:
        partner.save(update_fields=fields)
    return partner


def partner_secret(partner: ThirdPartyPartner) -> str:
    """The decrypted secret, for signing and verifying only ("" when none is stored)."""
    return str(decrypt_json(partner.secret_encrypted).get("secret") or "")


# --- hand-off ------------------------------------------------------------------------------------


def shipment_created_send_to_partner(event: ShipmentCreated) -> None:
    """A shipment at a 3PL location with an active partner is sent once the routing commits."""
    if event.location_id not in partner_location_ids():
        return
    _enqueue_send(event.shipment_id)


def partner_location_ids() -> frozenset[int]:
    """The 3PL locations with an active partner (cached per process: oms.refdata)."""
    return cached(
        ("partner-locations",),
        lambda: frozenset(
            ThirdPartyPartner.objects.filter(
                is_active=True, location__kind=LocationKind.THIRD_PARTY
            ).values_list("location_id", flat=True)
        ),
    )


def _enqueue_send(shipment_id: int) -> None:
    outbox_enqueue(
        "fulfilment.partner_send",
        shipment_id=shipment_id,
        dedupe_key=f"fulfilment.partner_send:{shipment_id}",
    )


def handoff_id(shipment_id: int) -> str:
    return f"SH-{shipment_id}"


def _payload(shipment: Shipment) -> dict[str, Any]:
    order = shipment.order
    address = dict(order.shipping_address or {})
    keys = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")
    return {
        "type": "shipment.created",
        "shipment": shipment.pk,
        "reference": handoff_id(shipment.pk),
        "order": order.number or str(order.pk),
        "ship_to": {k: str(address.get(k) or "") for k in keys},
        "lines": [
            {
                "sku": line.order_line.sku_code,
                "name": line.order_line.name,
                "quantity": line.quantity,
            }
            for line in shipment.lines.select_related("order_line").order_by("id")
        ],
    }


@dataclass(frozen=True)
class HandoffResult:
    status_code: int
    body: str


def partner_post(
    *,
    partner: ThirdPartyPartner,
    msg_id: str,
    payload: Mapping[str, Any],
    transport: httpx.BaseTransport | None = None,
) -> HandoffResult:
    """POST a signed payload to the partner. Raises TransientError (timeouts, connection
    failures, 408, 429, 5xx) or PermanentError (any other answer that is not 2xx)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_sign(
            secret=partner_secret(partner), msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }
    try:
        with httpx.Client(timeout=TIMEOUT, transport=transport) as client:
            response = client.post(partner.endpoint, content=body, headers=headers)
    except httpx.TransportError as exc:  # timeouts, refused connections, resets
        raise TransientError(f"{partner.name}: {type(exc).__name__}: {exc}") from exc
    text = response.text[:300]
    status = response.status_code
    if 200 <= status < 300:
        return HandoffResult(status, text)
    message = f"{partner.name} answered {status}: {text}".strip().rstrip(":")
    if status in (408, 429) or status >= 500:
        retry_after = response.headers.get("retry-after", "")
        raise TransientError(
            message, retry_after=float(retry_after) if retry_after.isdigit() else None
        )
    raise PermanentError(message)


def shipment_partner_send(*, shipment_id: int, transport: httpx.BaseTransport | None = None) -> str:
    """Hand a pending 3PL shipment to its partner; returns what happened ("sent", "skipped: ...",
    "refused: ..."). Outside any transaction: the POST holds no lock.

    Raises TransientError (the partner could not be reached: retry).
    """
    shipment = Shipment.objects.select_related("order", "location").filter(pk=shipment_id).first()
    if shipment is None:
        return "skipped: no such shipment"
    if shipment.status != ShipmentStatus.PENDING:
        return f"skipped: {shipment.status}"  # sent already, or cancelled meanwhile
    if shipment.location.kind != LocationKind.THIRD_PARTY:
        return "skipped: not a 3PL location"
    if shipment.order.is_on_hold and shipment_hold_flag(
        shipment=shipment_id, kind="partner_send_held"
    ):
        return "skipped: the order is on hold"
    partner = ThirdPartyPartner.objects.filter(location_id=shipment.location_id).first()
    problem = ""
    if partner is None or not partner.is_active:
        problem = f"{shipment.location.code} has no active 3PL partner."
    elif not partner.secret_encrypted:
        problem = f"{partner.name} has no secret configured."
    else:
        country = str((shipment.order.shipping_address or {}).get("country") or "").upper()
        served = [c for c in partner.countries.split(",") if c]
        if served and country not in served:
            problem = f"{partner.name} serves {', '.join(served)}, not {country or 'this address'}."
    if problem:
        _attention(shipment_id, problem)
        return f"refused: {problem}"
    assert partner is not None
    payload = _payload(shipment)
    try:
        result = partner_post(
            partner=partner, msg_id=handoff_id(shipment_id), payload=payload, transport=transport
        )
    except PermanentError as exc:
        _attention(shipment_id, str(exc))
        return f"refused: {exc}"
    _accepted(shipment_id, payload, result, actor=f"3pl:{shipment.location.code}")
    return "sent"


def _lock(shipment_id: int) -> Shipment:
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"No shipment {shipment_id}.")
    order_get_for_update(order_id)  # lock order: Order -> Shipment
    return (
        Shipment.objects.select_for_update().select_related("order", "location").get(pk=shipment_id)
    )


@transaction.atomic
def _attention(shipment_id: int, message: str) -> None:
    shipment = _lock(shipment_id)
    if shipment.status != ShipmentStatus.PENDING:
        return
    shipment.needs_attention = True
    shipment.attention_message = message[:500]
    shipment.save(update_fields=["needs_attention", "attention_message"])
    order_event_add(
        order=shipment.order,
        kind="partner_send_failed",
        shipment=shipment.pk,
        location=shipment.location.code,
        message=message[:500],
    )


@transaction.atomic
def _accepted(
    shipment_id: int, payload: Mapping[str, Any], result: HandoffResult, *, actor: str
) -> None:
    shipment = _lock(shipment_id)
    try:
        # The partner has it: recorded even if the order was held during the POST.
        shipment_send_to_3pl(shipment=shipment.pk, actor=actor, confirmed_by_partner=True)
    except InvalidTransition:
        # Cancelled while the POST was on its way: the partner holds a shipment we do not.
        shipment.needs_attention = True
        shipment.attention_message = (
            f"The partner accepted {handoff_id(shipment.pk)} after it was {shipment.status}: "
            "ask the partner to cancel it."
        )
        shipment.save(update_fields=["needs_attention", "attention_message"])
        order_event_add(
            order=shipment.order,
            kind="partner_accepted_late",
            actor=actor,
            shipment=shipment.pk,
            status=shipment.status,
        )
        return
    shipment.refresh_from_db(fields=["status", "needs_attention", "attention_message"])
    sent = {(ln["sku"], ln["quantity"]) for ln in payload["lines"]}
    now = {
        (ln.order_line.sku_code, ln.quantity) for ln in shipment.lines.select_related("order_line")
    }
    message = ""
    if sent != now:
        message = (
            f"The lines changed while {handoff_id(shipment.pk)} was being sent: "
            "check what the partner has."
        )
    held_flag = shipment.attention_message.startswith(HOLD_ATTENTION_PREFIX)
    if message or (shipment.needs_attention and not held_flag):  # a hold flag stays
        shipment.needs_attention = bool(message)
        shipment.attention_message = message
        shipment.save(update_fields=["needs_attention", "attention_message"])
    order_event_add(
        order=shipment.order,
        kind="partner_accepted",
        actor=actor,
        shipment=shipment.pk,
        status_code=result.status_code,
        lines=[dict(ln) for ln in payload["lines"]],
    )


def shipment_partner_give_up(*, shipment_id: int, message: str) -> None:
    """The partner stayed unreachable through every retry: staff must look."""
    _attention(shipment_id, f"Not sent, the partner could not be reached: {message}")


@transaction.atomic
def shipment_partner_resend(*, shipment: Shipment | int, actor: str = "system") -> Shipment:
    """Send a pending 3PL shipment to its partner again (after a refusal was fixed).

    Raises NotFound, Conflict (not a pending 3PL shipment, no active partner with a secret),
    OrderOnHold.
    """
    shipment = _lock(shipment if isinstance(shipment, int) else shipment.pk)
    refuse_if_on_hold(shipment.order, shipment, doing="sent to the partner")
    if shipment.location.kind != LocationKind.THIRD_PARTY:
        raise Conflict(f"{shipment.location.code} is not a 3PL location.", code="not_3pl")
    if shipment.status != ShipmentStatus.PENDING:
        raise Conflict(
            f"Only a pending shipment is sent; this one is {shipment.status}.",
            code="invalid_transition",
        )
    partner = ThirdPartyPartner.objects.filter(location_id=shipment.location_id).first()
    if partner is None or not partner.is_active or not partner.secret_encrypted:
        raise Conflict(
            f"{shipment.location.code} has no active partner with a secret.", code="no_partner"
        )
    if shipment.needs_attention:
        shipment.needs_attention = False
        shipment.attention_message = ""
        shipment.save(update_fields=["needs_attention", "attention_message"])
    order_event_add(
        order=shipment.order,
        kind="partner_send_again",
        actor=actor,
        shipment=shipment.pk,
        location=shipment.location.code,
    )
    _enqueue_send(shipment.pk)
    return shipment


# --- confirmations -------------------------------------------------------------------------------


def webhook_source(location_code: str) -> str:
    return f"3pl:{location_code}"


@dataclass(frozen=True)
class Received:
    webhook: InboundWebhook
    created: bool


def partner_confirmation_receive(
    *, location_code: str, headers: Mapping[str, str], body: bytes
) -> Received:
    """Verify and store a partner's confirmation; its processing is enqueued after the commit.
    A delivery already stored is returned as it is (`created` False).

    Raises SignatureInvalid (unknown or inactive partner, missing, stale or wrong signature:
    nothing is stored), ValidationFailed (the body is not a JSON object, the id is too long;
    `json_too_deep`: nested deeper than oms.jsonsafe.MAX_DEPTH). NUL characters are stripped
    from what is stored, and the delivery notes it (`nul_stripped`).
    """
    partner = (
        ThirdPartyPartner.objects.filter(
            location__code=location_code,
            location__kind=LocationKind.THIRD_PARTY,
            is_active=True,
        )
        .exclude(secret_encrypted="")
        .first()
    )
    # Without a partner, checked against a random secret: the same answers as a bad signature,
    # so the endpoint does not tell which partners exist.
    secret = partner_secret(partner) if partner is not None else secrets.token_urlsafe(32)
    msg_id = webhook_verify(secret=secret, headers=headers, body=body)
    if partner is None:  # pragma: no cover - a random secret is never matched
        raise SignatureInvalid("The signature does not match.")
    if len(msg_id) > MAX_DELIVERY_ID:
        raise ValidationFailed("webhook-id is too long.", errors={"webhook-id": ["Too long."]})
    try:
        payload = jsonsafe.loads(body)
    except jsonsafe.JsonTooDeep as exc:
        raise ValidationFailed(str(exc), code="json_too_deep") from None
    except ValueError:
        raise ValidationFailed("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("The body is a JSON object.")
    # NUL characters (jsonb refuses them) are stripped by the inbox, and the delivery says so:
    # the partner would otherwise send the same delivery again forever.
    hook, created = inbox_store(
        kind=InboundWebhook.Kind.PARTNER,
        source=location_code,
        delivery_id=msg_id,
        payload=payload,
    )
    return Received(hook, created)


def _shipment_id(payload: Mapping[str, Any]) -> int:
    value = payload.get("shipment")
    if isinstance(value, str) and value.upper().startswith("SH-"):
        value = value[3:]
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed(f"Not a shipment id: {value!r}.") from None


def _url(value: Any) -> str:
    """Only an http(s) link goes on the tracking page and into e-mails."""
    text = str(value or "").strip()
    parts = urlsplit(text)
    return text if parts.scheme in ("http", "https") and parts.netloc else ""


def _ship(shipment: Shipment, payload: Mapping[str, Any], actor: str) -> None:
    if shipment.status in (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED):
        return
    if shipment.status == ShipmentStatus.PENDING:
        # The partner shipped it: it had it, even if its acceptance was never recorded here.
        shipment_send_to_3pl(shipment=shipment.pk, actor=actor, confirmed_by_partner=True)
    shipment_ship(
        shipment=shipment.pk,
        carrier=str(payload.get("carrier") or ""),
        service=str(payload.get("service") or ""),
        tracking_number=str(payload.get("tracking_number") or ""),
        tracking_url=_url(payload.get("tracking_url")),
        actor=actor,
        confirmed_by_partner=True,  # the parcel is gone: a hold cannot stop it any more
    )


def _apply(location_code: str, payload: Mapping[str, Any]) -> str:
    kind = str(payload.get("type") or "")
    if kind not in ("shipment.shipped", "shipment.rejected", "shipment.delivered"):
        raise ValidationFailed(f"Unknown confirmation type {kind!r}.")
    shipment_id = _shipment_id(payload)
    shipment = Shipment.objects.select_related("location").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(f"No shipment {shipment_id}.")
    if shipment.location.code != location_code:
        raise NotFound(f"Shipment {shipment_id} is not one of {location_code}'s.")
    actor = webhook_source(location_code)
    if kind == "shipment.shipped":
        _ship(shipment, payload, actor)
    elif kind == "shipment.delivered":
        if shipment.status != ShipmentStatus.DELIVERED:
            _ship(shipment, payload, actor)  # a lost "shipped" must not block the delivery
            shipment_deliver(shipment=shipment.pk, actor=actor)
    else:
        reason = str(payload.get("reason") or "no reason given")[:200]
        shipment_cancel(
            shipment=shipment.pk, reason=f"rejected by the partner: {reason}", actor=actor
        )
    return kind


def partner_confirmation_process(hook: InboundWebhook) -> str:
    """The inbox's processor of kind partner (run in one transaction with the marking of the
    delivery): apply a claimed confirmation once: shipped -> the shipment ships (tracking
    recorded), delivered -> it is delivered, rejected -> it is cancelled and the order routed
    elsewhere. Returns "" (all of it applied).

    Raises PermanentError (what cannot be applied: the delivery fails with the reason).
    """
    try:
        with transaction.atomic():
            _apply(hook.source, hook.payload if isinstance(hook.payload, dict) else {})
    except DomainError as exc:
        log.warning("3PL confirmation %s %s not applied: %s", hook.source, hook.delivery_id, exc)
        raise PermanentError(str(exc)) from None
    return ""
