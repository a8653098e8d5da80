"""A real Celery worker consumes a task from the configured broker (filesystem or Redis)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from oms.models import IdempotencyKey
from oms.tasks import idempotency_keys_purge
from tests.conftest import (
    CONFIGURED_BROKER_TRANSPORT,
    CONFIGURED_BROKER_URL,
    in_process_worker,
    point_celery_at,
)
from tests.factories import UserFactory


@pytest.fixture
def isolated_broker(tmp_path, monkeypatch):
    """The configured broker (tests run on memory://), with the embedded broker's files kept
    away from a `make run` worker on the same machine."""
    return point_celery_at(
        CONFIGURED_BROKER_URL, CONFIGURED_BROKER_TRANSPORT, tmp_path, monkeypatch
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_task_sent_through_the_broker(isolated_broker):
    user = UserFactory()
    IdempotencyKey.objects.create(
        user=user,
        key="stale",
        method="POST",
        path="/api/v1/skus/",
        request_hash="0" * 64,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    with in_process_worker(isolated_broker, ["default"]):
        idempotency_keys_purge.delay()
        deadline = time.monotonic() + 30
        while IdempotencyKey.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert not IdempotencyKey.objects.exists()
    assert str(isolated_broker.conf.broker_url) == CONFIGURED_BROKER_URL != "memory://"
