"""The CSV order import of the back office as background jobs (oms.jobs): the preview (every
order captured in a rolled-back transaction) and the import of a previewed file, each run by a
worker with its progress, instead of blocking the browser for the whole file.

Invariants:
- the file's bytes live in the preview job's row (the person's own, bounded by MAX_BYTES); an
  import job copies them from the preview job it confirms, and imports only if they still hash
  to what was previewed: what is imported is exactly what was previewed;
- a preview job's result is the preview as JSON (`preview_data`): counts, every problem, and
  the first PREVIEW_MAX_ORDERS orders to draw (orders with errors first in line for a place);
- an import job is `orders_csv_import`: one transaction, idempotent per order; a worker that
  dies rolls it back and the outbox runs the job again from the start, so nothing is doubled;
  a refused file fails the job with every bad row (and a failed run is recorded);
- progress is the number of orders captured so far, told after every PROGRESS_CHUNK orders.
"""

from __future__ import annotations

import hashlib
from typing import Any

from channels.services.csv_import import (
    CsvOrder,
    CsvPreview,
    orders_csv_import,
    orders_csv_parse,
)
from inventory.models import Channel
from oms.errors import DomainError, ValidationFailed
from oms.jobs import job_progress, job_start
from oms.models import BackgroundJob

JOB_TASK = "channels.csv_orders_job"
PREVIEW = "orders_csv_preview"
IMPORT = "orders_csv_import"
#: Orders captured between two progress figures (capture is batched per chunk).
PROGRESS_CHUNK = 100
#: Orders drawn in the preview table (every problem is listed above it anyway).
PREVIEW_MAX_ORDERS = 300


def orders_csv_preview_start(
    *, channel: Channel, data: bytes, name: str, user: Any, page_url: str
) -> BackgroundJob:
    """Queue the preview of a file for `channel`; its page is `page_url` + ?job=<id>."""
    job = job_start(
        kind=PREVIEW,
        title=f"Preview of {name or 'a CSV file'} for {channel.code}",
        user=user,
        task=JOB_TASK,
        params={"channel": channel.pk, "sha256": hashlib.sha256(data).hexdigest()},
        input_data=data,
        input_name=name,
        back_url=page_url,
    )
    return _with_page(job, page_url)


def orders_csv_import_start(
    *, preview_job: BackgroundJob, sha256: str, user: Any, page_url: str
) -> BackgroundJob:
    """Queue the import of a previewed file. Raises ValidationFailed when the preview is not
    the person's, not finished without errors, or its file no longer hashes to `sha256`."""
    data = bytes(preview_job.input_data)
    result = preview_job.result or {}
    if (
        preview_job.kind != PREVIEW
        or preview_job.user_id != getattr(user, "pk", None)
        or preview_job.status != BackgroundJob.Status.SUCCEEDED
        or not result.get("ok")
        or not result.get("new_count")
        or hashlib.sha256(data).hexdigest() != sha256
    ):
        raise ValidationFailed(
            "This preview cannot be imported (it has errors, nothing new, or is not yours): "
            "upload the file again. Nothing was imported.",
            code="csv_preview_not_importable",
        )
    channel_id = int(preview_job.params["channel"])
    job = job_start(
        kind=IMPORT,
        title=f"Import of {preview_job.input_name or 'a CSV file'} ({result['new_count']} orders)",
        user=user,
        task=JOB_TASK,
        params={"channel": channel_id, "sha256": sha256, "preview_job": preview_job.pk},
        input_data=data,
        input_name=preview_job.input_name,
        back_url=page_url,
        total=int(result["new_count"]),
    )
    return _with_page(job, page_url)


def _with_page(job: BackgroundJob, page_url: str) -> BackgroundJob:
    job.params = {**job.params, "page_url": f"{page_url}?job={job.pk}"}
    BackgroundJob.objects.filter(pk=job.pk).update(params=job.params)
    return job


def _row_data(row: Any) -> dict[str, Any]:
    return {
        "number": row.number,
        "values": {k: row.value(k) for k in ("sku", "quantity", "unit_price", "discount", "tax")},
        "bad_columns": sorted(row.bad_columns),
        "ok": row.ok,
        "error_texts": row.error_texts(),
    }


def _order_data(order: CsvOrder) -> dict[str, Any]:
    keys = ("external_number", "currency", "payment_status", "email", "ship_city")
    return {
        "external_id": order.external_id,
        "fields": {k: order.fields.get(k, "") for k in (*keys, "ship_country", "ship_postal_code")},
        "state": order.state,
        "existing_id": order.existing_id,
        "existing_number": order.existing_number,
        "total": None if order.total is None else str(order.total),
        "currency": order.currency,
        "holds": list(order.holds),
        "status_display": order.status_display,
        "rows": [_row_data(row) for row in order.rows],
    }


def preview_data(preview: CsvPreview) -> dict[str, Any]:
    """The preview as JSON, for the job's page."""
    ranked = sorted(preview.orders, key=lambda o: o.state != "error")[:PREVIEW_MAX_ORDERS]
    shown = sorted(ranked, key=lambda o: o.rows[0].number)
    bad_rows = preview.bad_rows
    return {
        "ok": preview.ok,
        "sha256": preview.sha256,
        "row_count": len(preview.rows),
        "order_count": len(preview.orders),
        "new_count": len(preview.new_orders),
        "existing_count": len(preview.existing_orders),
        "bad_count": len(preview.bad_orders),
        "bad_row_count": len(bad_rows),
        "error_count": preview.error_count,
        "errors": list(preview.errors),
        "ignored_columns": list(preview.ignored_columns),
        "row_errors": [
            f"Row {row.number}, {text}" for row in bad_rows for text in row.error_texts()
        ],
        "orders": [_order_data(order) for order in shown],
        "hidden_orders": len(preview.orders) - len(shown),
    }


def orders_csv_job_run(job: BackgroundJob) -> dict[str, Any]:
    """The work of a preview or import job (the task `channels.csv_orders_job`)."""
    channel = Channel.objects.filter(pk=job.params.get("channel")).first()
    if channel is None:
        raise DomainError("The channel of this file no longer exists.")
    data = bytes(job.input_data)

    def progress(done: int, total: int) -> None:
        job_progress(job, done, total)

    actor = job.user.get_username()
    if job.kind == PREVIEW:
        preview = orders_csv_parse(
            channel=channel,
            data=data,
            actor=actor,
            progress=progress,
            chunk_size=PROGRESS_CHUNK,
        )
        return preview_data(preview)
    if hashlib.sha256(data).hexdigest() != job.params.get("sha256"):
        raise DomainError("The file is not the one previewed: nothing was imported.")
    run = orders_csv_import(
        channel=channel, data=data, actor=actor, progress=progress, chunk_size=PROGRESS_CHUNK
    )
    return {
        "created": run.created,
        "unchanged": run.unchanged,
        "run": run.pk,
        "channel": channel.pk,
        "channel_code": channel.code,
    }
