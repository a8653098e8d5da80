"""The back-office screen that imports a channel's orders from a CSV file: upload, preview, confirm,
each step a background job (channels.services.csv_jobs) whose progress the page shows.

Invariants:
- only staff who may add orders (`orders.add_order`) use it; anyone else gets 403;
- the screen only translates: an upload starts a preview job, a confirm starts an import job,
  and the page `?job=<id>` shows the job: its progress while it runs (polled, so the person may
  leave and come back), then the preview or the import's outcome; a job is its starter's alone
  (404 for anyone else) and belongs to this channel;
- what is imported is exactly what was previewed: the previewed bytes stay in the preview job's
  row, the confirm button carries only that job's id and the file's SHA-256, signed and dated,
  and the import runs only on the preview job's bytes if they still hash to it;
- the confirm button is offered only for a preview without any error and with new orders.

URLs (wired in channels/admin.py): `<channel_id>/import-csv/` -> csv_import_view and
`import-csv/sample.csv` -> csv_sample_view, both behind `admin_site.admin_view`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from channels.services.csv_import import COLUMN_HELP, MAX_BYTES, MAX_ROWS, orders_csv_sample
from channels.services.csv_jobs import (
    IMPORT,
    PREVIEW,
    orders_csv_import_start,
    orders_csv_preview_start,
)
from inventory.models import Channel
from oms.admin.jobs import job_of, job_status
from oms.admin.tools import admin_form, signed_preview
from oms.errors import DomainError
from oms.models import BackgroundJob

PERMISSION = "orders.add_order"
TEMPLATE = "admin/channels/csv_import.html"
SIGNING_SALT = "channels.admin_csv.import"
MAX_AGE = 60 * 60  # a preview may be confirmed within the hour
SAMPLE_NAME = "orders-sample.csv"


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            f"UTF-8, separated by commas or semicolons, a header row, then one row per order "
            f"line; at most {MAX_ROWS:,} rows and {MAX_BYTES // (1024 * 1024)} MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it."
            )
        return bytes(upload.read())


class CsvConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, channel: Channel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel

    def clean_token(self) -> dict[str, Any]:
        signed = signed_preview(self.cleaned_data["token"], salt=SIGNING_SALT, max_age=MAX_AGE)
        if not isinstance(signed, dict) or signed.get("channel") != self.channel.pk:
            raise forms.ValidationError("This preview is of another channel: upload the file.")
        return signed


def _token(channel: Channel, job: BackgroundJob) -> str:
    sha256 = job.result.get("sha256", "")
    return signing.dumps(
        {"channel": channel.pk, "job": job.pk, "sha256": sha256}, salt=SIGNING_SALT
    )


def _sample_url() -> str:
    try:
        return reverse("admin:inventory_channel_csv_sample")
    except NoReverseMatch:
        return reverse("admin:inventory_channel_changelist") + "import-csv/sample.csv"


def _run_url(run_id: int | None) -> str | None:
    if not run_id:
        return None
    try:
        return reverse("admin:channels_channelsyncrun_change", args=[run_id])
    except NoReverseMatch:
        return None


def _orders_url(channel: Channel) -> str:
    query = urlencode({"channel__id__exact": channel.pk})
    return f"{reverse('admin:orders_order_changelist')}?{query}"


def _job_of_channel(request: HttpRequest, channel: Channel, job_id: str) -> BackgroundJob:
    if not job_id.isdigit():
        raise Http404
    job = job_of(request, int(job_id))
    if job.kind not in (PREVIEW, IMPORT) or job.params.get("channel") != channel.pk:
        raise Http404
    return job


def _confirm(request: HttpRequest, channel: Channel) -> HttpResponse | str:
    """Start the import of a confirmed preview: a redirect to its page, or the error."""
    confirm = CsvConfirmForm(request.POST, channel=channel)
    if not confirm.is_valid():
        return " ".join([*map(str, confirm.errors.get("token", [])), "Nothing was imported."])
    signed = confirm.cleaned_data["token"]
    preview_job = BackgroundJob.objects.filter(pk=signed.get("job")).first()
    if preview_job is None:
        return "The preview is no longer on hand: upload the file again. Nothing was imported."
    try:
        job = orders_csv_import_start(
            preview_job=preview_job,
            sha256=str(signed.get("sha256") or ""),
            user=request.user,
            page_url=request.path,
        )
    except DomainError as exc:
        return exc.detail
    return HttpResponseRedirect(job.params["page_url"])


def _job_context(request: HttpRequest, channel: Channel, job: BackgroundJob) -> dict[str, Any]:
    context: dict[str, Any] = {
        "job": job,
        "status": job_status(job),
        "status_url": reverse("admin:oms_job_status", args=[job.pk]),
        "file_name": job.input_name,
    }
    succeeded = job.status == BackgroundJob.Status.SUCCEEDED
    if job.kind == PREVIEW and succeeded:
        preview = job.result
        context["preview"] = preview
        if preview.get("ok") and preview.get("new_count"):
            context["confirm_form"] = CsvConfirmForm(
                initial={"token": _token(channel, job)}, channel=channel
            )
    elif job.kind == IMPORT and succeeded:
        context["imported"] = job.result
        context["orders_url"] = _orders_url(channel)
        context["run_url"] = _run_url(job.result.get("run"))
    elif job.status == BackgroundJob.Status.CANCELLED:
        done, total = context["status"]["done"], context["status"]["total"]
        context["import_error"] = (
            f"Cancelled at {done} of {total}: nothing of this file was imported (it is imported "
            "in one go). Upload it again to start over."
        )
    elif job.status == BackgroundJob.Status.FAILED:
        context["import_error"] = job.error
        context["job_errors"] = job.result.get("errors") or {}
    return context


def csv_import_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Upload an orders CSV for a channel, see the preview with every problem, then confirm;
    the preview and the import run in the background (`?job=<id>` shows one)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    channel = get_object_or_404(Channel, pk=channel_id)
    upload_form = CsvUploadForm()
    extra: dict[str, Any] = {}
    status = 200
    if request.method == "POST" and "_confirm" in request.POST:
        outcome = _confirm(request, channel)
        if isinstance(outcome, HttpResponse):
            return outcome
        extra["import_error"] = outcome
        status = 400
    elif request.method == "POST":
        upload_form = CsvUploadForm(request.POST, request.FILES)
        if upload_form.is_valid():
            job = orders_csv_preview_start(
                channel=channel,
                data=upload_form.cleaned_data["file"],
                name=getattr(request.FILES.get("file"), "name", "") or "",
                user=request.user,
                page_url=request.path,
            )
            return HttpResponseRedirect(job.params["page_url"])
        status = 400
    elif "job" in request.GET:
        extra = _job_context(
            request, channel, _job_of_channel(request, channel, request.GET["job"])
        )
    context = {
        **admin.site.each_context(request),
        "opts": Channel._meta,
        "title": f"Import orders into {channel.code} from a CSV file",
        "channel": channel,
        "channel_url": reverse("admin:inventory_channel_change", args=[channel.pk]),
        "changelist_url": reverse("admin:inventory_channel_changelist"),
        "sample_url": _sample_url(),
        "columns": COLUMN_HELP,
        "max_rows": MAX_ROWS,
        "adminform": admin_form(upload_form),
        "form": upload_form,
        **extra,
    }
    return TemplateResponse(request, TEMPLATE, context, status=status)


def csv_sample_view(request: HttpRequest) -> HttpResponse:
    """A small example file with every column, to start from."""
    response = HttpResponse(orders_csv_sample(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{SAMPLE_NAME}"'
    return response
