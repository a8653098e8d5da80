"""The eBay channel adapter (channels.adapters.base.ChannelAdapter): order pulls (getOrders),
webhooks (Notification API: signature check with the cached public key, order topics) and the
endpoint validation challenge; the pushes and the transport come from its bases."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from django.core.cache import cache

from channels.adapters.base import (
    OrderPage,
    RecordFailure,
    SignatureInvalid,
    WebhookDelivery,
    json_object,
)
from channels.adapters.ebay.api import (
    DIGESTS,
    ORDER_TOPICS,
    ORDERS_PATH,
    PAGE_SIZE,
    PUBLIC_KEY_PATH,
    PUBLIC_KEY_TTL,
    SIGNATURE_HEADER,
)
from channels.adapters.ebay.mapping import (
    Unreadable,
    dict_value,
    ebay_timestamp,
    map_order,
    text_value,
)
from channels.adapters.ebay.pushes import EbayPushes
from oms import jsonsafe
from oms.errors import PermanentError, TransientError
from oms.vendor_http import header


def challenge_response(challenge_code: str, verification_token: str, endpoint_url: str) -> str:
    """The answer to eBay's endpoint validation GET (`?challenge_code=`): the hex SHA-256 of
    challenge code + verification token + endpoint URL, in that order."""
    digest = hashlib.sha256()
    for part in (challenge_code, verification_token, endpoint_url):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


class EbayAdapter(EbayPushes):
    """eBay channel adapter. See channels.adapters.ebay and EbayClient (credentials)."""

    # --- orders ---------------------------------------------------------------------------------

    def _page(self, answer: Any, what: str) -> OrderPage:
        page = OrderPage(orders=[])
        for record in answer:
            external_id = text_value(record.get("orderId")) if isinstance(record, dict) else ""
            try:
                page.orders.append(map_order(record, default_currency=self.context.currency))
            except Unreadable as exc:
                raw = record if isinstance(record, dict) else {"value": record}
                page.failures.append(RecordFailure(external_id, f"{what}: {exc}", raw))
        return page

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        offset = 0
        if page:
            if not page.isdigit():
                raise PermanentError(f"eBay getOrders: {page!r} is not a page of ours.")
            offset = int(page)
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        # eBay refuses a start date in the future (a clock ahead of eBay's).
        since = min(since, dt.datetime.fromtimestamp(self.now(), tz=dt.UTC))
        answer = json_object(
            self.http.request(
                "orders",
                "GET",
                ORDERS_PATH,
                params={
                    "filter": f"lastmodifieddate:[{ebay_timestamp(since)}..]",
                    "limit": str(PAGE_SIZE),
                    "offset": str(offset),
                    "fieldGroups": "TAX_BREAKDOWN",
                },
            ),
            "eBay getOrders",
        )
        records = answer.get("orders", [])
        if not isinstance(records, list) or ("total" not in answer and "orders" not in answer):
            raise PermanentError("eBay getOrders: the answer is not an order collection.")
        result = self._page(records, "eBay order")
        next_link = answer.get("next")
        if next_link and records:
            next_offset = offset + len(records)
            try:
                linked = httpx.URL(str(next_link)).params.get("offset")
                if linked is not None and int(linked) > offset:
                    next_offset = int(linked)
            except (ValueError, httpx.InvalidURL):
                pass
            result.next_page = str(next_offset)
        return result

    # --- webhooks -------------------------------------------------------------------------------

    def _public_key(self, kid: str) -> dict[str, Any]:
        key = f"ebay:public-key:{hashlib.sha256(f'{self.base_url}|{kid}'.encode()).hexdigest()}"
        cached = cache.get(key)
        if isinstance(cached, dict):
            return cached
        answer = json_object(
            self._app.request("public_key", "GET", f"{PUBLIC_KEY_PATH}/{quote(kid, safe='')}"),
            "eBay getPublicKey",
        )
        cache.set(key, answer, timeout=PUBLIC_KEY_TTL)
        return answer

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        given = header(headers, SIGNATURE_HEADER).strip()
        if not given:
            raise SignatureInvalid(f"eBay notification: no {SIGNATURE_HEADER} header.")
        try:
            signature = json.loads(base64.b64decode(given, validate=True))
        except (binascii.Error, ValueError):
            raise SignatureInvalid(
                f"eBay notification: {SIGNATURE_HEADER} is unreadable."
            ) from None
        if not isinstance(signature, dict):
            raise SignatureInvalid(f"eBay notification: {SIGNATURE_HEADER} is not an object.")
        kid, sig = text_value(signature.get("kid")), text_value(signature.get("signature"))
        if not kid or not sig:
            raise SignatureInvalid("eBay notification: the signature names no kid or signature.")
        self._app_headers()  # a token refused here is a configuration problem, not a bad signature
        try:
            public = self._public_key(kid)
        except TransientError:
            raise
        except PermanentError as exc:
            raise SignatureInvalid(f"eBay notification: no public key {kid!r} ({exc}).") from None
        algorithm = text_value(public.get("algorithm")).upper() or "ECDSA"
        digest = DIGESTS.get(
            (
                text_value(public.get("digest")) or text_value(signature.get("digest")) or "SHA1"
            ).upper()
        )
        if algorithm != "ECDSA" or digest is None:
            raise SignatureInvalid(
                f"eBay notification: unsupported {algorithm}/{public.get('digest')}."
            )
        try:
            pem = text_value(public.get("key"))
            body_b64 = re.sub(r"-----[A-Z ]+-----|\s", "", pem)
            key = load_der_public_key(base64.b64decode(body_b64, validate=True))
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError("not an EC key")
            key.verify(base64.b64decode(sig, validate=True), body, ec.ECDSA(digest()))
        except InvalidSignature:
            raise SignatureInvalid("eBay notification: the signature does not match.") from None
        except (binascii.Error, ValueError, TypeError) as exc:
            raise SignatureInvalid(
                f"eBay notification: unusable key or signature ({exc})."
            ) from None
        try:
            payload = jsonsafe.loads(body)
        except ValueError:
            raise PermanentError("eBay notification: the body is not JSON.") from None
        if not isinstance(payload, dict):
            raise PermanentError("eBay notification: the body is not an object.")
        delivery_id = text_value(dict_value(payload.get("notification")).get("notificationId"))
        topic = text_value(dict_value(payload.get("metadata")).get("topic"))
        if not delivery_id or not topic:
            raise PermanentError("eBay notification: no notificationId or topic.")
        return WebhookDelivery(delivery_id=delivery_id, topic=topic, payload=payload)

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic.upper() not in ORDER_TOPICS:
            return OrderPage(orders=[])
        data = dict_value(dict_value(delivery.payload.get("notification")).get("data"))
        order_id = text_value(data.get("orderId")) or text_value(
            dict_value(data.get("order")).get("orderId")
        )
        if not order_id:
            return OrderPage(
                orders=[],
                failures=[
                    RecordFailure("", f"eBay {delivery.topic}: no orderId", delivery.payload)
                ],
            )
        return self._page([self._order(order_id)], f"eBay {delivery.topic}")

    @staticmethod
    def challenge_response(challenge_code: str, verification_token: str, endpoint_url: str) -> str:
        return challenge_response(challenge_code, verification_token, endpoint_url)
