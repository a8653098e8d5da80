"""The CSV order import as background jobs (channels.services.csv_jobs): progress seen while
the import's one transaction is open, and a worker that dies mid-import loses and doubles
nothing: the outbox runs the job again from the start."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from channels.services import csv_jobs
from oms.jobs import job_cancel, job_progress_of, job_run
from oms.models import BackgroundJob, OutboxMessage
from orders.models import Order
from tests.channels import test_csv_import as base
from tests.channels.test_csv_import import after_job, confirm, confirm_token, good_file, upload
from tests.outbox import run_outbox

# The fixtures of the import's tests: a shop with stock, its roles, a manager's client.
shop, roles, manager = base.shop, base.roles, base.manager


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(csv_jobs, "PROGRESS_CHUNK", 2)


def test_progress_is_seen_while_the_import_runs(shop, manager, small_chunks, monkeypatch):
    token = confirm_token(upload(manager, shop, good_file(5)))
    seen: list[tuple[int, int]] = []
    real = csv_jobs.job_progress

    def spy(job, done, total=None):
        real(job, done, total)
        # What a polling page reads now (its own row is not committed yet: the cache tells).
        seen.append(job_progress_of(BackgroundJob.objects.get(pk=job.pk)))

    monkeypatch.setattr(csv_jobs, "job_progress", spy)
    page = after_job(manager, confirm(manager, shop, token))
    assert seen == [(2, 5), (4, 5), (5, 5)]
    job = BackgroundJob.objects.get(kind="orders_csv_import")
    assert (job.status, job.done, job.total) == ("succeeded", 5, 5)
    assert manager.get(f"/admin/jobs/{job.pk}/status").json()["percent"] == 100
    assert "Imported 5 new orders" in " ".join(page.content.decode().split())


def test_a_worker_dying_mid_import_loses_and_doubles_nothing(
    shop, manager, small_chunks, monkeypatch
):
    token = confirm_token(upload(manager, shop, good_file(5)))
    real = csv_jobs.job_progress
    calls = {"n": 0}

    def dies_once(job, done, total=None):
        real(job, done, total)
        calls["n"] += 1
        if calls["n"] == 2:  # four orders captured, the connection is lost
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(csv_jobs, "job_progress", dies_once)
    started = confirm(manager, shop, token)
    run_outbox("channels.csv_orders_job", rounds=1)
    job = BackgroundJob.objects.get(kind="orders_csv_import")
    assert job.status == "running"
    assert Order.objects.count() == 0  # rolled back with the import's transaction
    message = OutboxMessage.objects.get(task="channels.csv_orders_job", kwargs__job_id=job.pk)
    assert message.state == "pending"  # to run again
    page = manager.get(started["Location"])
    assert 'id="job-bar"' in page.content.decode()  # still in progress: the page polls

    run_outbox("channels.csv_orders_job")
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert Order.objects.count() == 5
    assert job.result["created"] == 5


def test_a_preview_job_shows_progress_then_the_preview(shop, manager):
    response = manager.post(
        f"/admin/inventory/channel/{shop.pk}/import-csv/",
        {"file": __import__("io").BytesIO(good_file(3)), "_preview": "1"},
    )
    job = BackgroundJob.objects.get()
    waiting = manager.get(response["Location"]).content.decode()
    assert 'id="job-progress"' in waiting
    assert 'id="csv-upload"' not in waiting  # no second upload while it runs
    assert job.title in manager.get("/admin/jobs/").content.decode()
    run_outbox("channels.csv_orders_job")
    done = manager.get(response["Location"]).content.decode()
    assert 'value="Import 3 orders"' in done
    assert Order.objects.count() == 0


def test_a_running_import_is_cancelled_between_batches_and_never_resumed(
    shop, manager, small_chunks, monkeypatch
):
    token = confirm_token(upload(manager, shop, good_file(5)))
    real = csv_jobs.job_progress

    def cancelled_after_the_first_batch(job, done, total=None):
        real(job, done, total)
        if done == 2:  # the person presses Cancel while the worker runs
            assert job_cancel(BackgroundJob.objects.get(pk=job.pk))

    monkeypatch.setattr(csv_jobs, "job_progress", cancelled_after_the_first_batch)
    started = confirm(manager, shop, token)
    run_outbox("channels.csv_orders_job")
    job = BackgroundJob.objects.get(kind="orders_csv_import")
    assert (job.status, job.done, job.total) == ("cancelled", 2, 5)  # progress kept
    assert Order.objects.count() == 0  # the import is one transaction: nothing half-imported
    page = " ".join(manager.get(started["Location"]).content.decode().split())
    assert "Cancelled at 2 of 5: nothing of this file was imported" in page
    assert 'id="job-cancel"' not in page  # finished: no button any more
    # Delivered again (a sweep, a retry), the message does nothing: never resumed.
    assert job_run(job.pk, csv_jobs.orders_csv_job_run) == "finished already"
    job.refresh_from_db()
    assert (job.status, job.attempts, Order.objects.count()) == ("cancelled", 1, 0)


def test_the_cancel_button_posts_and_a_queued_job_never_runs(shop, manager):
    token = confirm_token(upload(manager, shop, good_file(3)))
    started = confirm(manager, shop, token)
    job = BackgroundJob.objects.get(kind="orders_csv_import")
    page = manager.get(started["Location"]).content.decode()
    assert f'action="/admin/jobs/{job.pk}/cancel"' in page
    assert 'id="job-cancel"' in page
    assert "csrfmiddlewaretoken" in page
    assert manager.get(f"/admin/jobs/{job.pk}/cancel").status_code == 405  # a GET changes nothing
    assert BackgroundJob.objects.get(pk=job.pk).status == "queued"
    listed = manager.get("/admin/jobs/").content.decode()  # also from the list of jobs
    assert f'action="/admin/jobs/{job.pk}/cancel"' in listed
    cancelled = manager.post(f"/admin/jobs/{job.pk}/cancel")
    assert cancelled.status_code == 302
    assert cancelled["Location"] == started["Location"]
    assert BackgroundJob.objects.get(pk=job.pk).status == "cancelled"
    assert "was cancelled" in manager.get(cancelled["Location"]).content.decode()
    run_outbox("channels.csv_orders_job")
    assert BackgroundJob.objects.get(pk=job.pk).status == "cancelled"
    assert Order.objects.count() == 0
    # Cancelling again changes nothing and says so; the jobs page shows it cancelled.
    again = manager.post(f"/admin/jobs/{job.pk}/cancel", follow=True)
    assert "had finished already: nothing was cancelled" in again.content.decode()
    assert "Cancelled" in manager.get("/admin/jobs/").content.decode()


def test_only_the_owner_cancels_a_job(shop, manager):
    from django.test import Client

    from tests.factories import UserFactory

    token = confirm_token(upload(manager, shop, good_file(2)))
    confirm(manager, shop, token)
    job = BackgroundJob.objects.get(kind="orders_csv_import")
    other = Client()
    other.force_login(UserFactory(is_staff=True))
    assert other.post(f"/admin/jobs/{job.pk}/cancel").status_code == 404
    assert BackgroundJob.objects.get(pk=job.pk).status == "queued"


def test_a_cancelled_job_never_stops_a_later_job_given_the_same_id(db):
    from oms.jobs import job_progress
    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    job = BackgroundJob.objects.create(kind="export", title="Old export", user=user)
    assert job_cancel(job)
    pk = job.pk
    BackgroundJob.objects.filter(pk=pk).delete()  # purged; SQLite may give its id again
    later = BackgroundJob.objects.create(pk=pk, kind="export", title="New export", user=user)
    job_progress(later, 1, 2)  # not cancelled: runs on
    assert job_progress_of(BackgroundJob.objects.get(pk=pk)) == (1, 2)
    assert BackgroundJob.objects.get(pk=pk).status == "queued"
