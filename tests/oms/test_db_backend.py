"""The project's PostgreSQL backend (oms.db.postgresql): a bulk INSERT sends each JSON column
as one JSON array parameter. The rows must come back exactly as written, in order, with SQL
NULL where None was written, through a field's own encoder, and whatever the text holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oms.models import IdempotencyKey
from webhooks.models import Event

pytestmark = pytest.mark.postgres

AWKWARD = [
    {"quote": 'say "hi"', "backslash": "C:\\path\\n", "braces": "}{,[]", "null": None},
    ["unicode ü € 漢字 😀", 1, 2.5, True, None, {"nested": {"deep": ['"', "\\"]}}],
    "a bare string",
    17,
    {},
    [],
    {"sql": "'); DROP TABLE x; --", "nul-free control": "\t\n\r"},
]


def test_a_bulk_insert_sends_json_as_one_array_and_reads_back_the_same(db):
    assert connection.settings_dict["ENGINE"] == "oms.db.postgresql"
    user = get_user_model().objects.create(username="json")
    expires = timezone.now() + dt.timedelta(hours=1)
    rows = [
        IdempotencyKey(
            user=user,
            key=f"k{i}",
            method="POST",
            path="/x",
            request_hash="h",
            response_body=body,
            response_headers={"n": i},
            expires_at=expires,
        )
        for i, body in enumerate([*AWKWARD, None, None])
    ]
    with CaptureQueriesContext(connection) as ctx:
        IdempotencyKey.objects.bulk_create(rows)
    (insert,) = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert insert.count("jsonb_array_elements") == 2, insert  # both JSON columns
    saved = IdempotencyKey.objects.filter(user=user).order_by("key")
    got = {k.key: (k.response_body, k.response_headers) for k in saved}
    want = {f"k{i}": (body, {"n": i}) for i, body in enumerate([*AWKWARD, None, None])}
    assert got == want
    # None is SQL NULL, as Django writes it row by row.
    assert IdempotencyKey.objects.filter(user=user, response_body__isnull=True).count() == 2


def test_a_fields_own_encoder_is_used(db):
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            type="t",
            occurred_at=now,
            object_type="order",
            object_id=i,
            sequence=i,
            data={"amount": Decimal("12.30"), "at": dt.date(2026, 12, 7), "i": i},
            recorded_at=now,
        )
        for i in range(3)
    )
    assert [e.data for e in Event.objects.order_by("object_id")] == [
        {"amount": "12.30", "at": "2026-12-07", "i": i} for i in range(3)
    ]
