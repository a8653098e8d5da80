"""Data-protection requests that channels send by webhook (Shopify's mandatory compliance
topics), turned into the OMS's privacy requests (orders.services.privacy).

Invariants:
- a request is acted on only for the shop it names: a channel whose `shop` credential differs
  from the payload's `shop_domain` refuses it (PermanentError: the delivery is failed and
  nothing changes), so one shop's redaction never erases another shop's shoppers;
- customers/data_request records an export request waiting for staff (the merchant sends the
  shopper their data: the OMS has no address to send it to); customers/redact erases that
  customer's data of this channel's orders (and the orders it names); shop/redact erases every
  shopper's data of this channel; each is recorded once per delivery (a redelivery, or the
  task run twice, changes nothing more);
- an erasure blocked by orders still in fulfilment is recorded `blocked` for staff to run
  again later; the delivery itself is processed;
- once acted on, the delivery's own copy of the e-mail and phone is scrubbed: the privacy
  request keeps what is needed (a keyed hash once erased).
"""

from __future__ import annotations

from channels.adapters.base import PrivacyNotice
from inventory.models import Channel
from oms.errors import NotFound, PermanentError, ValidationFailed
from oms.models import InboundWebhook
from oms.personal_data import Scrubber
from orders.models import (
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestScope,
    PrivacyRequestSource,
)
from orders.services.privacy import (
    ErasureBlocked,
    customer_data_erase,
    privacy_request_create,
    shop_data_erase,
)


def privacy_webhook_apply(
    *, channel: Channel, delivery: InboundWebhook, notice: PrivacyNotice
) -> PrivacyRequest:
    """Act on a verified compliance webhook. Raises PermanentError (another shop's request,
    or one that names nobody)."""
    shop = str(channel.credentials().get("shop") or "").strip().lower()
    if shop and notice.shop and notice.shop.strip().lower() != shop:
        raise PermanentError(
            f"This {notice.kind} is for {notice.shop}, not {shop} (channel {channel.code})."
        )
    try:
        request = _apply(channel, delivery, notice)
    except (ValidationFailed, NotFound) as exc:
        raise PermanentError(str(exc)) from None
    scrubbed = Scrubber([notice.email, notice.phone]).json(delivery.payload)
    InboundWebhook.objects.filter(pk=delivery.pk).update(payload=scrubbed)
    return request


def _apply(channel: Channel, delivery: InboundWebhook, notice: PrivacyNotice) -> PrivacyRequest:
    requested_by = f"shopify:{notice.shop or channel.code}"
    reference = f"{channel.code}:{delivery.delivery_id}"[:128]
    if notice.kind == "data_request":
        if not notice.email and not notice.order_ids:
            raise PermanentError("The data request names neither an e-mail nor orders.")
        request, _ = privacy_request_create(
            kind=PrivacyRequestKind.EXPORT,
            source=PrivacyRequestSource.SHOPIFY,
            requested_by=requested_by,
            email=notice.email,
            channel_code=channel.code,
            external_order_ids=notice.order_ids,
            external_reference=reference,
            scope=PrivacyRequestScope.CHANNEL_CUSTOMER,
            detail=(
                f"Shopify data request {notice.request_id or '?'} for customer "
                f"{notice.customer_id or '?'}: download the export and send it to the merchant."
            ),
        )
    elif notice.kind == "customer_redact":
        if not notice.email and not notice.order_ids:
            raise PermanentError("The redaction names neither an e-mail nor orders.")
        try:
            request = customer_data_erase(
                email=notice.email,
                source=PrivacyRequestSource.SHOPIFY,
                requested_by=requested_by,
                channel_code=channel.code,
                external_order_ids=notice.order_ids,
                external_reference=reference,
            )
        except ErasureBlocked as blocked:
            request = blocked.request
    elif notice.kind == "shop_redact":
        try:
            request = shop_data_erase(
                channel_code=channel.code,
                source=PrivacyRequestSource.SHOPIFY,
                requested_by=requested_by,
                external_reference=reference,
            )
        except ErasureBlocked as blocked:
            request = blocked.request
    else:
        raise PermanentError(f"Unknown privacy request {notice.kind!r}.")
    return request
