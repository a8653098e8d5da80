"""Every Celery task keeps its name, and every app keeps its entry points in one tasks module.

Task names are stored in outbox rows and in the beat schedule: renaming or losing one strands
work. The list below is what a worker registers (`celery -A oms inspect registered`).
"""

from __future__ import annotations

from oms.celery import app as celery_app

REGISTERED = {
    "channels.cancel_push",
    "channels.csv_orders_job",
    "channels.refund_push",
    "channels.shipment_push",
    "channels.stock_push",
    "channels.stock_push_due",
    "channels.stock_reconcile_all",
    "channels.sync",
    "channels.sync_deep_all",
    "channels.sync_due",
    "channels.webhook_process",
    "channels.webhooks_sweep",
    "fulfilment.backorders_reroute",
    "fulfilment.carrier_webhook_process",
    "fulfilment.email_send",
    "fulfilment.labels_buy",
    "fulfilment.labels_recover",
    "fulfilment.partner_confirmation_process",
    "fulfilment.partner_send",
    "fulfilment.tracking_poll",
    "fulfilment.tracking_poll_shipment",
    "inventory.count_import_job",
    "inventory.forecast_refresh",
    "oms.export_run",
    "oms.idempotency_keys_purge",
    "oms.inbox_process",
    "oms.inbox_sweep",
    "oms.outbox_purge",
    "oms.outbox_sweep",
    "orders.fx_rates_refresh",
    "orders.order_convert_total",
    "orders.order_route",
    "orders.route_stuck",
    "reports.rollups_refresh",
    "reports.whatif_run",
    "returns.orders_complete",
    "returns.payment_capture",
    "returns.payment_void",
    "returns.refund_execute",
    "returns.refund_for_cancellation",
    "returns.refunds_recover",
    "returns.return_email_send",
    "returns.return_exchange_order_create",
    "subscriptions.email_send",
    "subscriptions.reminders_send",
    "subscriptions.renew_due",
    "subscriptions.renewal_process",
    "webhooks.deliver",
    "webhooks.event_record",
    "webhooks.events_drain",
    "webhooks.endpoint_disabled_notify",
    "webhooks.events_prune",
}
QUEUES = {
    "fulfilment.labels_buy": "labels",
    "fulfilment.labels_recover": "labels",
    "orders.fx_rates_refresh": "fx",
    "orders.order_convert_total": "fx",
}


def _ours() -> dict[str, object]:
    celery_app.loader.import_default_modules()
    return {
        name: task
        for name, task in celery_app.tasks.items()
        if not name.startswith("celery.") and name.split(".")[0] != "tests"
    }


def test_every_task_name_is_registered_by_autodiscovery_and_none_is_renamed():
    assert set(_ours()) == REGISTERED


def test_each_app_declares_its_tasks_in_its_one_tasks_module_under_the_app_prefix():
    for name, task in _ours().items():
        app = name.split(".")[0]
        assert task.__module__ == f"{app}.tasks", name


def test_the_tasks_keep_their_queues():
    for name, task in _ours().items():
        expected = "channels" if name.startswith("channels.") else QUEUES.get(name, "default")
        assert task.oms_queue == expected, name  # type: ignore[attr-defined]


def test_the_beat_schedule_names_only_registered_tasks():
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert scheduled <= set(_ours())
