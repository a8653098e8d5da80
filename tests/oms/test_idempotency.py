"""Idempotency-Key on POST: replay, conflict, in-progress, release on server errors, expiry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Sku
from oms.api.idempotency import idempotency_begin, idempotency_keys_purge
from oms.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from oms.models import IdempotencyKey
from oms.tasks import idempotency_keys_purge as purge_task

BODY = {"code": "IDEM-1", "name": "Idempotent"}


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response(manager_api):
    first = manager_api.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    second = manager_api.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Sku.objects.filter(code="IDEM-1").count() == 1


@pytest.mark.django_db
def test_key_order_of_the_json_body_does_not_matter(manager_api):
    manager_api.post(
        "/api/v1/skus/",
        data='{"code": "IDEM-1", "name": "Idempotent"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="abc",
    )
    replay = manager_api.post(
        "/api/v1/skus/",
        data='{"name":"Idempotent","code":"IDEM-1"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="abc",
    )
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_same_key_with_another_body_is_409_and_writes_nothing(manager_api):
    manager_api.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    other = {"code": "IDEM-2", "name": "Other"}
    response = manager_api.post("/api/v1/skus/", other, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Sku.objects.filter(code="IDEM-2").exists()


@pytest.mark.django_db
def test_an_error_response_is_replayed_too(manager_api):
    bad = {"code": "IDEM-1"}
    first = manager_api.post("/api/v1/skus/", bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    second = manager_api.post("/api/v1/skus/", bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()
    assert second["Content-Type"].startswith("application/problem+json")


@pytest.mark.django_db
def test_keys_are_per_user(api_client_for):
    from oms.roles import MANAGER

    alice, bob = api_client_for(MANAGER), api_client_for(MANAGER)
    alice.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = bob.post(
        "/api/v1/skus/",
        {"code": "IDEM-B", "name": "b"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_a_key_still_in_progress_blocks_a_duplicate(manager_api):
    user = manager_api.user
    idempotency_begin(user_id=user.pk, key="k", method="POST", path="/api/v1/skus/", body=b"{}")
    with pytest.raises(IdempotencyKeyInProgress):
        idempotency_begin(user_id=user.pk, key="k", method="POST", path="/api/v1/skus/", body=b"{}")
    with pytest.raises(IdempotencyKeyReused):
        idempotency_begin(user_id=user.pk, key="k", method="POST", path="/api/v1/x/", body=b"{}")


@pytest.mark.django_db
def test_a_server_error_releases_the_key(manager_api, monkeypatch):
    from inventory import services

    def explode(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "sku_create", explode)
    manager_api.raise_request_exception = False
    response = manager_api.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="boom")
    assert response.status_code == 500
    assert not IdempotencyKey.objects.filter(key="boom").exists()
    monkeypatch.undo()
    retry = manager_api.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="boom")
    assert retry.status_code == 201


@pytest.mark.django_db
def test_an_overlong_key_is_400(manager_api):
    response = manager_api.post(
        "/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Sku.objects.exists()


@pytest.mark.django_db
def test_expired_keys_are_purged_by_the_beat_task_and_free_again(manager_api):
    manager_api.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert purge_task() == 1
    assert not IdempotencyKey.objects.exists()
    manager_api.post("/api/v1/skus/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="old2")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    # An expired key is reusable even before the purge runs.
    response = manager_api.post(
        "/api/v1/skus/",
        {"code": "IDEM-9", "name": "n"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="old2",
    )
    assert response.status_code == 201
    assert idempotency_keys_purge() == 0


def test_purge_is_in_the_beat_schedule():
    from oms.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "oms.idempotency_keys_purge" in tasks
