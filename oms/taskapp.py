"""The Celery application, its queues and the beat schedule (kept in code, per ARCHITECTURE.md).

Beat tasks only fan out; per-channel intervals live in the database, not here. The worker's
lifecycle (identity, heartbeats, recovery at start) is wired in oms.celery, which the outbox
does not import: the outbox publishes through this app, and the lifecycle sweeps the outbox.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

from oms.broker import extra_folders

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
OUTBOX_SWEEP_SECONDS = float(os.environ.get("OMS_OUTBOX_SWEEP_SECONDS") or 5)

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("default", "channels", "labels", "fx")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
app.conf.task_routes = ("oms.tasks.route_task",)
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.worker_prefetch_multiplier = 1
app.conf.task_serializer = "json"
app.conf.accept_content = ["json"]
app.conf.broker_connection_retry_on_startup = True
app.conf.beat_schedule = {
    # The outbox: publish what the fast path missed, retries that are due, lost messages.
    "outbox-sweep": {"task": "oms.outbox_sweep", "schedule": OUTBOX_SWEEP_SECONDS},
    "outbox-purge": {"task": "oms.outbox_purge", "schedule": crontab(minute=23)},
    # The inbound-webhook inbox: deliveries whose processing task was lost are enqueued again.
    "inbox-sweep": {"task": "oms.inbox_sweep", "schedule": 300.0},
    "idempotency-keys-purge": {
        "task": "oms.idempotency_keys_purge",
        "schedule": crontab(minute=17),
    },
    # The ECB publishes around 16:00 CET on working days.
    "fx-rates-refresh": {
        "task": "orders.fx_rates_refresh",
        "schedule": crontab(hour=15, minute=30, day_of_week="mon-fri"),
    },
    # Carriers without tracking webhooks are polled.
    "tracking-poll": {
        "task": "fulfilment.tracking_poll",
        "schedule": crontab(minute="*/30"),
    },
    # Channels: per-channel intervals live in the database; these only fan out.
    "channels-sync-due": {"task": "channels.sync_due", "schedule": 60.0},
    "channels-stock-push-due": {"task": "channels.stock_push_due", "schedule": 10.0},
    "channels-sync-deep": {"task": "channels.sync_deep_all", "schedule": crontab(hour=4, minute=5)},
    # Recovery sweeps: what a crash between a commit and its side effect left half-done.
    "orders-route-stuck": {"task": "orders.route_stuck", "schedule": 60.0},
    "fulfilment-labels-recover": {"task": "fulfilment.labels_recover", "schedule": 120.0},
    "returns-refunds-recover": {"task": "returns.refunds_recover", "schedule": 120.0},
    "channels-stock-reconcile": {
        "task": "channels.stock_reconcile_all",
        "schedule": crontab(hour=3, minute=15),
    },
    # Delivered orders complete once their return window has closed.
    "returns-orders-complete": {
        "task": "returns.orders_complete",
        "schedule": crontab(minute=41),
    },
    # Events older than OMS_EVENTS_RETENTION_DAYS leave the feed.
    "webhooks-events-prune": {"task": "webhooks.events_prune", "schedule": crontab(minute=53)},
    "inventory-forecast-nightly": {
        "task": "inventory.forecast_refresh",
        "schedule": crontab(hour=2, minute=30),
    },
    # Subscriptions: claim the due renewals and payment retries (skip_locked), and the
    # upcoming-renewal reminders.
    "subscriptions-renew-due": {"task": "subscriptions.renew_due", "schedule": 60.0},
    "subscriptions-reminders": {"task": "subscriptions.reminders_send", "schedule": 600.0},
    # The report rollups: the days touched since the last run (today's within two minutes).
    "reports-rollups-refresh": {"task": "reports.rollups_refresh", "schedule": 60.0},
}

APPS = [
    "oms",
    "inventory",
    "orders",
    "fulfilment",
    "returns",
    "subscriptions",
    "channels",
    "webhooks",
    "reports",
]
# One tasks module per app (`<app>.tasks`): every Celery entry point of an app is there.
app.autodiscover_tasks(lambda: APPS)


def ensure_broker_folders() -> None:
    """Create the folders of the embedded filesystem broker (a no-op for other brokers)."""
    options = app.conf.broker_transport_options or {}
    folders = [
        options[key]
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")
        if key in options
    ]
    if "data_folder_in" in options and "data_folder_out" in options:
        folders += extra_folders(options["data_folder_in"], options["data_folder_out"])
    for folder in folders:
        Path(folder).mkdir(parents=True, exist_ok=True)
