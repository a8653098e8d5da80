"""`Idempotency-Key` for every POST of the API.

Invariants:
- the same key (per user) with the same request replays the first response, byte for byte in
  its JSON, and runs nothing again;
- the same key with a different request is 409 `idempotency_key_reused`;
- while the first request is still running, a duplicate is 409 `idempotency_key_in_progress`
  (the row is inserted and committed before the handler runs, so the unique constraint decides);
- a request that failed with a server error releases its key so that a retry can run;
- keys expire after OMS_IDEMPOTENCY_KEY_TTL_HOURS and are purged by a beat task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from oms import jsonsafe
from oms.errors import IdempotencyKeyInProgress, IdempotencyKeyReused, ValidationFailed
from oms.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_REPLAYED_HEADERS = ("Content-Type", "Location")


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """Hash of what makes two requests "the same": method, path and JSON body (key order free)."""
    try:
        document = jsonsafe.loads(body or b"null")  # too deep: hashed as it is, refused later
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        payload = canonical.encode()
    except (ValueError, UnicodeDecodeError):
        payload = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), b"\n", path.encode(), b"\n", payload):
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Begun:
    record: IdempotencyKey
    replay: bool


def idempotency_begin(*, user_id: int, key: str, method: str, path: str, body: bytes) -> Begun:
    """Claim `key` for this request, or find the stored response to replay.

    Raises ValidationFailed (bad key), IdempotencyKeyReused, IdempotencyKeyInProgress.
    """
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 characters.",
            errors={HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters."]},
        )
    fingerprint = request_fingerprint(method=method, path=path, body=body)
    now = timezone.now()
    expires_at = now + timedelta(hours=settings.OMS_IDEMPOTENCY_KEY_TTL_HOURS)
    # An expired key is free again.
    IdempotencyKey.objects.filter(user_id=user_id, key=key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                user_id=user_id,
                key=key,
                method=method.upper(),
                path=path,
                request_hash=fingerprint,
                expires_at=expires_at,
            )
        return Begun(record=record, replay=False)
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.get(user_id=user_id, key=key)
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request."
        )
    if existing.state != IdempotencyKey.State.DONE:
        raise IdempotencyKeyInProgress("A request with this Idempotency-Key is still running.")
    return Begun(record=existing, replay=True)


def idempotency_finish(*, record: IdempotencyKey, response: Response) -> None:
    """Store the response of the request that claimed the key."""
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    record.state = IdempotencyKey.State.DONE
    record.response_status = response.status_code
    record.response_body = body
    headers = {h: response[h] for h in _REPLAYED_HEADERS if response.has_header(h)}
    if response.content_type:  # set before rendering, e.g. problem JSON
        headers["Content-Type"] = response.content_type
    record.response_headers = headers
    record.save(update_fields=["state", "response_status", "response_body", "response_headers"])


def idempotency_release(*, record: IdempotencyKey) -> None:
    """Forget a claim whose request failed with a server error, so that it can be retried."""
    IdempotencyKey.objects.filter(pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_replay(record: IdempotencyKey) -> Response:
    headers: dict[str, Any] = dict(record.response_headers or {})
    headers["Idempotent-Replayed"] = "true"
    content_type = headers.pop("Content-Type", "")
    return Response(
        record.response_body,
        status=record.response_status,
        headers=headers,
        content_type=content_type if "problem+json" in content_type else None,
    )


def idempotency_key_of(*, user_id: int | None, header: str | None) -> str | None:
    """A stable key for a service from the request's `Idempotency-Key` (None without one): the
    object it creates is keyed too, so even a retry after an answer that never arrived, or
    after a server error that freed the API key, creates nothing twice."""
    if user_id is None or not header or not header.strip():
        return None
    digest = hashlib.sha256(header.strip().encode()).hexdigest()[:40]
    return f"api-{user_id}-{digest}"


def idempotency_keys_purge() -> int:
    """Delete expired keys; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
