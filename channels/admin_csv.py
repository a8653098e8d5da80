"""The back-office screen that imports a channel's orders from a CSV file: upload, preview, confirm.

Invariants:
- only staff who may add orders (`orders.add_order`) use it; anyone else gets 403;
- the screen only translates: `orders_csv_parse` checks the file (writing nothing) and
  `orders_csv_import` imports it; a DomainError is shown to the person, never a 500;
- what is imported is exactly what was previewed: the previewed bytes stay on the server (in
  the session, under the channel), the confirm button carries only their SHA-256, signed and
  dated, and the import runs only if the stored bytes still hash to it; a new upload in another
  tab replaces the stored file, so the older preview can no longer be confirmed;
- the confirm button is offered only for a file without any error.

URLs (wired in channels/admin.py): `<channel_id>/import-csv/` -> csv_import_view and
`import-csv/sample.csv` -> csv_sample_view, both behind `admin_site.admin_view`.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from channels.models import ChannelSyncRun
from channels.services.csv_import import (
    COLUMN_HELP,
    MAX_BYTES,
    MAX_ROWS,
    CsvOrder,
    orders_csv_import,
    orders_csv_parse,
    orders_csv_sample,
)
from inventory.models import Channel
from oms.admin.tools import actor_name, admin_form, signed_preview
from oms.errors import DomainError

PERMISSION = "orders.add_order"
TEMPLATE = "admin/channels/csv_import.html"
SIGNING_SALT = "channels.admin_csv.import"
MAX_AGE = 60 * 60  # a preview may be confirmed within the hour
SESSION_KEY = "channels.csv_import.{channel_id}"
SAMPLE_NAME = "orders-sample.csv"
#: Orders drawn in the preview table (every problem is listed above it anyway).
PREVIEW_MAX_ORDERS = 300


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

    def clean_token(self) -> str:
        signed = signed_preview(self.cleaned_data["token"], salt=SIGNING_SALT, max_age=MAX_AGE)
        if not isinstance(signed, dict) or signed.get("channel") != self.channel.pk:
            raise forms.ValidationError("This preview is of another channel: upload the file.")
        return str(signed.get("sha256") or "")


def _token(channel: Channel, sha256: str) -> str:
    return signing.dumps({"channel": channel.pk, "sha256": sha256}, salt=SIGNING_SALT)


def _session_key(channel: Channel) -> str:
    return SESSION_KEY.format(channel_id=channel.pk)


def _keep(request: HttpRequest, channel: Channel, data: bytes, name: str, sha256: str) -> None:
    request.session[_session_key(channel)] = {
        "sha256": sha256,
        "name": name,
        "data": base64.b64encode(data).decode("ascii"),
    }


def _kept(request: HttpRequest, channel: Channel, sha256: str) -> tuple[bytes, str] | None:
    """The previewed bytes and file name, if they are still the ones the token names."""
    stored = request.session.get(_session_key(channel))
    if not isinstance(stored, dict) or not sha256 or stored.get("sha256") != sha256:
        return None
    data = base64.b64decode(stored.get("data") or "")
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data, str(stored.get("name") or "")


def _sample_url() -> str:
    try:
        return reverse("admin:inventory_channel_csv_sample")
    except NoReverseMatch:
        return reverse("admin:inventory_channel_changelist") + "import-csv/sample.csv"


def _run_url(run: ChannelSyncRun) -> str | None:
    try:
        return reverse("admin:channels_channelsyncrun_change", args=[run.pk])
    except NoReverseMatch:
        return None


def _orders_url(channel: Channel) -> str:
    query = urlencode({"channel__id__exact": channel.pk})
    return f"{reverse('admin:orders_order_changelist')}?{query}"


def _success_message(channel: Channel, run: ChannelSyncRun, name: str) -> str:
    skipped = f", {run.unchanged} already imported (skipped)" if run.unchanged else ""
    text = format_html(
        'Imported {} new order{} from {} into {}{}. <a href="{}">See the channel\'s orders</a>',
        run.created,
        "" if run.created == 1 else "s",
        name or "the file",
        channel.code,
        skipped,
        _orders_url(channel),
    )
    run_url = _run_url(run)
    if run_url:
        return format_html('{} or <a href="{}">the import run #{}</a>.', text, run_url, run.pk)
    return format_html("{} (import run #{}).", text, run.pk)


def csv_import_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Upload an orders CSV for a channel, see the preview with every problem, then confirm."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    channel = get_object_or_404(Channel, pk=channel_id)
    actor = actor_name(request)
    upload_form = CsvUploadForm()
    preview = None
    confirm_form = None
    import_error = None
    file_name = ""
    status = 200
    if request.method == "POST" and "_confirm" in request.POST:
        confirm = CsvConfirmForm(request.POST, channel=channel)
        kept = (
            _kept(request, channel, confirm.cleaned_data["token"]) if confirm.is_valid() else None
        )
        if kept is None:
            reasons = confirm.errors.get("token") or [
                "The file of this preview is no longer on hand (another file was previewed "
                "since, or the session ended): upload it again."
            ]
            import_error = " ".join([*map(str, reasons), "Nothing was imported."])
            status = 400
        else:
            data, file_name = kept
            try:
                run = orders_csv_import(channel=channel, data=data, actor=actor)
            except DomainError as exc:
                import_error = exc.detail
                status = exc.status
                preview = orders_csv_parse(channel=channel, data=data, actor=actor)
            else:
                request.session.pop(_session_key(channel), None)
                messages.success(request, _success_message(channel, run, file_name))
                return HttpResponseRedirect(
                    reverse("admin:inventory_channel_change", args=[channel.pk])
                )
    elif request.method == "POST":
        upload_form = CsvUploadForm(request.POST, request.FILES)
        if upload_form.is_valid():
            data = upload_form.cleaned_data["file"]
            file_name = getattr(request.FILES.get("file"), "name", "") or ""
            preview = orders_csv_parse(channel=channel, data=data, actor=actor)
            if preview.ok and preview.new_orders:
                _keep(request, channel, data, file_name, preview.sha256)
                confirm_form = CsvConfirmForm(
                    initial={"token": _token(channel, preview.sha256)}, channel=channel
                )
            else:
                request.session.pop(_session_key(channel), None)
        else:
            status = 400
    shown: list[CsvOrder] = []
    if preview is not None:
        # Orders with errors first in line for a place, then the table keeps file order.
        ranked = sorted(preview.orders, key=lambda o: o.state != "error")[:PREVIEW_MAX_ORDERS]
        shown = sorted(ranked, key=lambda o: o.rows[0].number)
    site = admin.site
    opts = Channel._meta
    context = {
        **site.each_context(request),
        "opts": opts,
        "title": f"Import orders into {channel.code} from a CSV file",
        "channel": channel,
        "channel_url": reverse("admin:inventory_channel_change", args=[channel.pk]),
        "changelist_url": reverse("admin:inventory_channel_changelist"),
        "sample_url": _sample_url(),
        "columns": COLUMN_HELP,
        "max_rows": MAX_ROWS,
        "adminform": admin_form(upload_form),
        "form": upload_form,
        "preview": preview,
        "shown_orders": shown,
        "hidden_orders": len(preview.orders) - len(shown) if preview is not None else 0,
        "file_name": file_name,
        "confirm_form": confirm_form,
        "import_error": import_error,
    }
    return TemplateResponse(request, TEMPLATE, context, status=status)


def csv_sample_view(request: HttpRequest) -> HttpResponse:
    """A small example file with every column, to start from."""
    response = HttpResponse(orders_csv_sample(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{SAMPLE_NAME}"'
    return response
