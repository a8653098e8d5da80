"""Sending a delivery: claim, POST signed (Standard Webhooks), record, retry or give up.

Invariants:
- an attempt is claimed under the endpoint's row lock: at most OMS_WEBHOOKS_MAX_IN_FLIGHT
  deliveries of one endpoint hold a lease at a time (the others come back in a few seconds);
  the claim seals the event (a stock.changed no longer takes later changes into it);
- the POST goes to the address the host resolved to when it was checked (Host header and TLS
  server name kept), so a DNS answer that changes between the check and the connection cannot
  aim it at a private address; it holds no lock and no transaction; its body is the event's
  payload, signed with the `standardwebhooks` library by every secret that is valid now (one
  signature each, space separated); short timeouts; the answer's body is read up to
  RESPONSE_HEAD_BYTES;
- 2xx is success; anything else (or no answer) is retried after RETRY_SCHEDULE (with jitter),
  each retry a new outbox message written with the attempt's outcome; after the last, the
  delivery is failed (staff or the API may redeliver it: same `webhook-id`);
- an endpoint whose deliveries have all failed since OMS_WEBHOOKS_DISABLE_AFTER_HOURS is
  disabled and the admins are e-mailed (through the outbox).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from oms.errors import Conflict, NotFound
from oms.models import OutboxMessage
from oms.outbox import outbox_enqueue, outbox_retry
from webhooks.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import endpoint_secrets, url_checked
from webhooks.services.recording import DELIVER_TASK

NOTIFY_TASK = "webhooks.endpoint_disabled_notify"
#: Seconds to wait after the 1st, 2nd ... failed attempt: about three days in all, the first
#: retry within a minute.
RETRY_SCHEDULE = (30, 120, 600, 1800, 7200, 21600, 43200, 86400, 86400)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
RESPONSE_HEAD_BYTES = 1024
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
#: How long a claimed attempt may take before another may take the delivery over.
LEASE_SECONDS = 30
USER_AGENT = "oms-webhooks/1"


def retry_key(delivery_id: int) -> str:
    """The outbox dedupe key of a delivery's next attempt: one is waiting at most."""
    return f"webhooks.deliver:{delivery_id}"


def _later(delivery_id: int, countdown: float) -> None:
    outbox_enqueue(
        DELIVER_TASK,
        countdown=countdown,
        dedupe_key=retry_key(delivery_id),
        delivery_id=delivery_id,
    )


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones (±20 % jitter)."""
    base = RETRY_SCHEDULE[min(max(attempts, 1), len(RETRY_SCHEDULE)) - 1]
    return base * random.uniform(0.8, 1.2)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str
    body_head: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(event: Event) -> bytes:
    return json.dumps(event.payload(), separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    *, webhook_id: str, body: bytes, signing_secrets: list[str], at: dt.datetime | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers of a delivery, one signature per secret."""
    stamp = at or dt.datetime.now(tz=dt.UTC)
    signatures = " ".join(Webhook(s).sign(webhook_id, stamp, body) for s in signing_secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signatures,
    }


_clients = threading.local()


def _client() -> httpx.Client:
    """This thread's client: its TLS context is built once (that costs tens of milliseconds)
    and connections to an endpoint are kept alive between deliveries."""
    client = getattr(_clients, "client", None)
    if client is None:
        client = httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
        _clients.client = client
    return client


def pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL to connect to, the headers and the request extensions that reach `url`'s host at
    `address` (checked already) rather than at whatever a second DNS look-up would answer: the
    Host header and the TLS server name (SNI, certificate check) stay the host's."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": parts.netloc}, extensions


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    transport: httpx.BaseTransport | None = None,
    address: str | None = None,
) -> Outcome:
    """POST once (to `address` when given: see pinned); never raises for what the receiver (or
    the network) did."""
    url, host_header, extensions = pinned(url, address)
    headers = {**headers, **host_header}
    started = time.monotonic()
    code: int | None = None
    head = b""
    error = ""
    client = _client() if transport is None else httpx.Client(transport=transport)
    try:
        with client.stream(
            "POST",
            url,
            content=body,
            headers=headers,
            timeout=TIMEOUT,
            follow_redirects=False,
            extensions=extensions,
        ) as response:
            code = response.status_code
            for chunk in response.iter_bytes():
                head += chunk
                if len(head) >= RESPONSE_HEAD_BYTES:
                    break
            if not 200 <= code < 300:
                error = f"HTTP {code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        if transport is not None:
            client.close()
    duration = int((time.monotonic() - started) * 1000)
    return Outcome(
        code, duration, error[:300], head[:RESPONSE_HEAD_BYTES].decode("utf-8", "replace")
    )


# --- one attempt --------------------------------------------------------------------------------


def _claim(delivery_id: int, now: dt.datetime) -> tuple[str, WebhookDelivery | None]:
    """("go", the delivery) when this attempt may run, else (what happened, None)."""
    with transaction.atomic():
        endpoint_id = (
            WebhookDelivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True)
        ).first()
        if endpoint_id is None:
            return "skipped: no such delivery", None
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        delivery = WebhookDelivery.objects.select_related("event").get(pk=delivery_id)
        if delivery.status != DeliveryStatus.PENDING:
            return f"skipped: {delivery.status}", None
        if delivery.lease_until and delivery.lease_until > now:
            return "skipped: in flight", None
        if not endpoint.is_active:
            _finish_failed(delivery, "The endpoint is disabled.")
            return "failed: the endpoint is disabled", None
        in_flight = (
            WebhookDelivery.objects.filter(endpoint_id=endpoint_id, lease_until__gt=now)
            .exclude(pk=delivery_id)
            .count()
        )
        if in_flight >= settings.OMS_WEBHOOKS_MAX_IN_FLIGHT:
            outbox_enqueue(
                DELIVER_TASK, countdown=random.uniform(1.0, 3.0), delivery_id=delivery_id
            )
            return "busy: the endpoint's concurrency limit is reached", None
        delivery.attempts += 1
        delivery.lease_until = now + dt.timedelta(seconds=LEASE_SECONDS)
        delivery.last_attempt_at = now
        delivery.next_attempt_at = None
        delivery.save(
            update_fields=["attempts", "lease_until", "last_attempt_at", "next_attempt_at"]
        )
        if not delivery.event.sealed:
            Event.objects.filter(pk=delivery.event_id).update(sealed=True)
            delivery.event.refresh_from_db(fields=["data", "occurred_at", "sealed"])
        delivery.endpoint = endpoint
        return "go", delivery


def _finish_failed(delivery: WebhookDelivery, error: str) -> None:
    delivery.status = DeliveryStatus.FAILED
    delivery.last_error = error[:300]
    delivery.lease_until = None
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "last_error", "lease_until", "next_attempt_at"])


def _record(delivery_id: int, outcome: Outcome) -> str:
    now = timezone.now()
    with transaction.atomic():
        endpoint_id = WebhookDelivery.objects.values_list("endpoint_id", flat=True).get(
            pk=delivery_id
        )
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        delivery.lease_until = None
        delivery.last_response_code = outcome.status_code
        delivery.last_duration_ms = outcome.duration_ms
        delivery.last_error = outcome.error
        delivery.response_body_head = outcome.body_head
        fields = [
            "lease_until",
            "last_response_code",
            "last_duration_ms",
            "last_error",
            "response_body_head",
            "status",
            "next_attempt_at",
        ]
        if outcome.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.save(update_fields=fields)
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since", "updated_at"])
            return "succeeded"
        if delivery.attempts < MAX_ATTEMPTS:
            delay = retry_delay(delivery.attempts)
            delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
            _later(delivery.pk, delay)
            result = f"retry in {delay:.0f} s: {outcome.error}"
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            result = f"failed after {delivery.attempts} attempts: {outcome.error}"
        delivery.save(update_fields=fields)
        _failing(endpoint, now)
        return result


def _failing(endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    """A failed attempt: the endpoint's failure streak starts, or has lasted too long."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
        return
    limit = dt.timedelta(hours=settings.OMS_WEBHOOKS_DISABLE_AFTER_HOURS)
    if endpoint.is_active and now - endpoint.failing_since >= limit:
        endpoint.is_active = False
        endpoint.disabled_reason = (
            f"Every delivery failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
            f"({settings.OMS_WEBHOOKS_DISABLE_AFTER_HOURS} hours)."
        )
        endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
        outbox_enqueue(NOTIFY_TASK, endpoint_id=endpoint.pk)


def delivery_attempt(*, delivery_id: int, transport: httpx.BaseTransport | None = None) -> str:
    """Make one attempt of a pending delivery (the outbox task); returns what happened."""
    state, delivery = _claim(delivery_id, timezone.now())
    if delivery is None:
        return state
    endpoint = delivery.endpoint
    problem, address = url_checked(endpoint.url)
    if problem:
        outcome = Outcome(None, 0, f"Refused: {problem}"[:300], "")
    else:
        body = body_of(delivery.event)
        headers = signed_headers(
            webhook_id=delivery.webhook_id, body=body, signing_secrets=endpoint_secrets(endpoint)
        )
        outcome = post(
            endpoint.url, body=body, headers=headers, transport=transport, address=address
        )
    return _record(delivery_id, outcome)


# --- staff --------------------------------------------------------------------------------------


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery | int) -> WebhookDelivery:
    """Send it again now, with the same webhook-id (one more attempt; if that fails, the rest of
    its retry schedule follows). A delivery waiting for a retry has it now; one not tried yet
    is left as it is. Raises NotFound, Conflict (an attempt is in flight)."""
    pk = delivery if isinstance(delivery, int) else delivery.pk
    locked = WebhookDelivery.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound(f"No webhook delivery {pk}.")
    now = timezone.now()
    if locked.lease_until and locked.lease_until > now:
        raise Conflict("An attempt of this delivery is in flight.", code="delivery_in_flight")
    if locked.status == DeliveryStatus.PENDING and locked.attempts == 0:
        return locked  # its first attempt is on its way
    locked.status = DeliveryStatus.PENDING
    locked.attempts = min(locked.attempts, MAX_ATTEMPTS - 1)
    locked.next_attempt_at = now
    locked.save(update_fields=["status", "attempts", "next_attempt_at"])
    waiting = list(
        OutboxMessage.objects.filter(
            dedupe_key=retry_key(locked.pk), state=OutboxMessage.State.PENDING
        ).values_list("pk", flat=True)
    )
    if waiting:
        outbox_retry(ids=waiting)  # the retry that was waiting is due now
    else:
        _later(locked.pk, 0.0)
    return locked
