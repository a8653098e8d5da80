"""Webhook endpoints: create, change, rotate the secret, disable, enable, delete; and whether a
URL may be called at all (SSRF).

Invariants: a secret ("whsec_" + base64 of 24 random bytes) is returned by the call that
creates it and never again; it is stored encrypted (oms.crypto). After a rotation the previous
secret signs deliveries too (Standard Webhooks carries several signatures) until
OMS_WEBHOOKS_ROTATION_GRACE_HOURS have passed. A URL is https (http only with DEBUG) and none of
the addresses its host resolves to is loopback, private, link-local, multicast, reserved or
unspecified, unless OMS_WEBHOOKS_ALLOW_PRIVATE is set.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import socket
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oms.crypto import decrypt_json, encrypt_json
from oms.errors import NotFound, ValidationFailed
from webhooks.models import EVENT_TYPES, WebhookEndpoint

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
UPDATABLE = ("url", "events", "description")


# --- secrets ------------------------------------------------------------------------------------


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _sealed(secret: str) -> str:
    return encrypt_json({"secret": secret})


def endpoint_secrets(endpoint: WebhookEndpoint, *, now: dt.datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one while its
    grace period lasts. For signing only."""
    found = [str(decrypt_json(endpoint.secret_encrypted)["secret"])]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires and expires > (now or timezone.now()):
        found.append(str(decrypt_json(endpoint.previous_secret_encrypted)["secret"]))
    return found


# --- URLs ---------------------------------------------------------------------------------------


def _address_refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def url_problem(url: str, *, resolve: bool = True) -> str:
    """Why webhooks may not be sent to `url` ("" when they may). `resolve`: look the host up
    (at creation and again before every delivery: DNS may change)."""
    return url_checked(url, resolve=resolve)[0]


def url_checked(url: str, *, resolve: bool = True) -> tuple[str, str | None]:
    """(why webhooks may not be sent to `url`, or ""; the address its host resolved to, which
    the delivery connects to so that a second look-up cannot lead it elsewhere: None when the
    host was not looked up, as when private targets are allowed)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "Not a valid URL.", None
    if parts.scheme not in ("https", "http") or not host:
        return "An https URL.", None
    if parts.scheme == "http" and not settings.DEBUG:
        return "An https URL (http only in development).", None
    if parts.username or parts.password:
        return "No user or password in the URL.", None
    if settings.OMS_WEBHOOKS_ALLOW_PRIVATE or not resolve:
        return "", None
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"The host {host} cannot be resolved.", None
    if not infos or any(_address_refused(str(info[4][0])) for info in infos):
        kinds = "a loopback, private, link-local or reserved address"
        return f"The host {host} resolves to {kinds}.", None
    return "", str(infos[0][4][0])


def _url(value: Any) -> str:
    url = str(value or "").strip()
    problem = url_problem(url)
    if problem:
        raise ValidationFailed("This URL cannot receive webhooks.", errors={"url": [problem]})
    return url


def _events(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed("Events are a list of event types.", errors={"events": ["A list."]})
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            "Unknown event types.",
            errors={"events": [f"Unknown: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}."]},
        )
    return list(dict.fromkeys(value))


# --- commands -----------------------------------------------------------------------------------


def _lock(endpoint: WebhookEndpoint | int) -> WebhookEndpoint:
    pk = endpoint if isinstance(endpoint, int) else endpoint.pk
    found = WebhookEndpoint.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No webhook endpoint {pk}.")
    return found


@transaction.atomic
def endpoint_create(
    *, url: str, events: Sequence[str] | None = None, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint; returns it with its secret (the only time it is shown).
    Raises ValidationFailed (url, events)."""
    secret = secret_new()
    endpoint = WebhookEndpoint.objects.create(
        url=_url(url),
        events=_events(events),
        description=str(description or "")[:500],
        secret_encrypted=_sealed(secret),
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint | int, data: Mapping[str, Any]) -> WebhookEndpoint:
    """Change `url`, `events`, `description` (absent keys are kept). Raises ValidationFailed,
    NotFound."""
    locked = _lock(endpoint)
    fields: list[str] = []
    if "url" in data:
        locked.url = _url(data["url"])
        fields.append("url")
    if "events" in data:
        locked.events = _events(data["events"])
        fields.append("events")
    if "description" in data:
        locked.description = str(data["description"] or "")[:500]
        fields.append("description")
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
    return locked


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint | int) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned, shown once); the current one keeps signing too for
    OMS_WEBHOOKS_ROTATION_GRACE_HOURS. Raises NotFound."""
    locked = _lock(endpoint)
    secret = secret_new()
    locked.previous_secret_encrypted = locked.secret_encrypted
    locked.previous_secret_expires_at = timezone.now() + dt.timedelta(
        hours=settings.OMS_WEBHOOKS_ROTATION_GRACE_HOURS
    )
    locked.secret_encrypted = _sealed(secret)
    locked.save(
        update_fields=[
            "previous_secret_encrypted",
            "previous_secret_expires_at",
            "secret_encrypted",
            "updated_at",
        ]
    )
    return locked, secret


@transaction.atomic
def endpoint_disable(*, endpoint: WebhookEndpoint | int, reason: str = "") -> WebhookEndpoint:
    """Stop sending to it (events are still recorded; its pending deliveries fail when their
    turn comes). Replaying is a no-op. Raises NotFound."""
    locked = _lock(endpoint)
    if locked.is_active:
        locked.is_active = False
        locked.disabled_reason = (reason or "Disabled by staff.")[:500]
        locked.save(update_fields=["is_active", "disabled_reason", "updated_at"])
    return locked


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint | int) -> WebhookEndpoint:
    """Send to it again (its failure streak starts over). Raises ValidationFailed (its URL is
    no longer acceptable), NotFound."""
    locked = _lock(endpoint)
    if not locked.is_active:
        _url(locked.url)
        locked.is_active = True
        locked.disabled_reason = ""
        locked.failing_since = None
        locked.save(update_fields=["is_active", "disabled_reason", "failing_since", "updated_at"])
    return locked


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint | int) -> None:
    """Delete the endpoint and its deliveries (the events stay in the feed). Raises NotFound."""
    _lock(endpoint).delete()
