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
from django.db import connection
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
    record = IdempotencyKey(
        user_id=user_id,
        key=key,
        method=method.upper(),
        path=path,
        request_hash=fingerprint,
        created_at=now,
        expires_at=now + timedelta(hours=settings.OMS_IDEMPOTENCY_KEY_TTL_HOURS),
    )
    claimed = _claim(record, now)
    if claimed is not None:
        record.pk = claimed
        return Begun(record=record, replay=False)
    existing = IdempotencyKey.objects.get(user_id=user_id, key=key)
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request."
        )
    if existing.state != IdempotencyKey.State.DONE:
        raise IdempotencyKeyInProgress("A request with this Idempotency-Key is still running.")
    return Begun(record=existing, replay=True)


def _claim(record: IdempotencyKey, now: Any) -> int | None:
    """Claim the key in one statement (its own transaction, committed before the handler
    runs): insert it, or take over an expired claim of it (an expired key is free again).
    Returns the row's id, or None when the key is held and has not expired."""
    meta = IdempotencyKey._meta
    columns = [
        "user_id",
        "key",
        "method",
        "path",
        "request_hash",
        "state",
        "response_status",
        "response_body",
        "response_headers",
        "created_at",
        "expires_at",
    ]
    values = {
        "user_id": record.user_id,
        "key": record.key,
        "method": record.method,
        "path": record.path,
        "request_hash": record.request_hash,
        "state": IdempotencyKey.State.IN_PROGRESS,
        "response_status": None,
        "response_body": None,
        "response_headers": {},
        "created_at": record.created_at,
        "expires_at": record.expires_at,
    }
    record.state = IdempotencyKey.State.IN_PROGRESS
    record.response_headers = {}
    params = [
        None
        if values[name] is None
        else meta.get_field(name.removesuffix("_id")).get_db_prep_save(  # type: ignore[union-attr]
            values[name], connection
        )
        for name in columns
    ]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    updates = ", ".join(
        f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in ("user_id", "key")
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({quote('user_id')}, {quote('key')}) DO UPDATE SET {updates} "
        f"WHERE {table}.{quote('expires_at')} <= %s RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [*params, meta.get_field("expires_at").get_db_prep_value(now, connection)]
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


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
