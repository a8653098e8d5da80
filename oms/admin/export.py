"""CSV export of any filtered admin list: `CsvExportMixin` on a ModelAdmin adds an "Export CSV"
button to its list that exports exactly the rows the list shows now (its filters, search, date
drill-down and ordering), every row, not one page.

Why not django-import-export: its export builds the whole file in memory (a tablib Dataset),
goes through a format-choice form, and reads each row's fields through model instances; an
order list of 100,000 rows needs a stream of plain values in constant memory. This mixin is
the list's own queryset (the admin's ChangeList, so the filters are the list's own code)
through `values_list(...).iterator()`, written line by line.

Invariants:
- only who may see the list (the model's view permission) exports it; a list's filters that do
  not parse are a 400 that writes nothing;
- streamed: one query for the rows (a server-side cursor on PostgreSQL), read CHUNK rows at a
  time, each line written as it is read (StreamingHttpResponse), so memory does not grow with
  the list;
- formula-injection safe: a text cell starting with = + - @ (or a tab or carriage return) is
  prefixed with an apostrophe, so a spreadsheet never runs it (numbers are written as they are);
- a list longer than BACKGROUND_ROWS is exported by a worker (a BackgroundJob through the
  outbox, oms.jobs) with its progress, and downloaded from the job's page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.urls import path, reverse
from django.utils import timezone

from oms.errors import DomainError
from oms.jobs import job_progress, job_result_write, job_start
from oms.models import BackgroundJob

#: Lists longer than this are exported in the background.
BACKGROUND_ROWS = 10_000
#: Rows read from the database at a time.
CHUNK = 2_000
#: Progress is told every this many rows.
PROGRESS_EVERY = 5_000
EXPORT_TASK = "oms.export_run"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """One value as a CSV cell: text that a spreadsheet would run as a formula is prefixed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, dt.date | Decimal | int | float):
        return value.isoformat() if isinstance(value, dt.date) else value
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Sequence[str], rows: Iterator[Sequence[Any]]) -> Iterator[str]:
    """The header then one line per row, each yielded as soon as it is written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Sequence[Any]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff" + line([csv_cell(h) for h in header])  # the BOM: spreadsheets read UTF-8
    for row in rows:
        yield line([csv_cell(v) for v in row])


class CsvExportMixin:
    """Put before the ModelAdmin base: `csv_columns` lists (header, `values_list` path)."""

    csv_columns: Sequence[tuple[str, str]] = ()
    #: The file's name without the date (default: the model's plural name).
    csv_name: str = ""

    def _csv_admin(self) -> admin.ModelAdmin:
        assert isinstance(self, admin.ModelAdmin)
        return self

    def csv_export_urls(self) -> list[Any]:
        model_admin = self._csv_admin()
        opts = model_admin.opts
        view = model_admin.admin_site.admin_view(self.csv_export_view)
        return [path("export.csv", view, name=f"{opts.app_label}_{opts.model_name}_export")]

    def get_urls(self) -> list[Any]:
        return [*self.csv_export_urls(), *super().get_urls()]  # type: ignore[misc]

    def csv_export_url(self, request: HttpRequest) -> str:
        opts = self._csv_admin().opts
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")
        query = request.GET.urlencode()
        return f"{url}?{query}" if query else url

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        from oms.admin.saved_filters import saved_filters_context

        extra = dict(extra_context or {})
        if self._csv_admin().has_view_permission(request):
            extra["csv_export_url"] = self.csv_export_url(request)
        extra.update(saved_filters_context(request, self._csv_admin().opts))
        return super().changelist_view(request, extra)  # type: ignore[misc]

    def csv_file_name(self) -> str:
        opts = self._csv_admin().opts
        name = self.csv_name or str(opts.verbose_name_plural).replace(" ", "-")
        return f"{name}-{timezone.localdate().isoformat()}.csv"

    def csv_queryset(self, request: HttpRequest) -> tuple[QuerySet[Any], int]:
        """The list's rows as they are shown now (all pages) and their number."""
        changelist = self._csv_admin().get_changelist_instance(request)
        return changelist.queryset, changelist.result_count

    def csv_rows(self, queryset: QuerySet[Any]) -> Iterator[Sequence[Any]]:
        paths = [column for _, column in self.csv_columns]
        return queryset.values_list(*paths).iterator(chunk_size=CHUNK)

    def csv_export_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        model_admin = self._csv_admin()
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset, count = self.csv_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(
                "These filters are not valid for this list: nothing was exported.",
                content_type="text/plain; charset=utf-8",
            )
        if count > BACKGROUND_ROWS:
            return self._csv_in_background(request, count)
        response = StreamingHttpResponse(
            csv_lines([h for h, _ in self.csv_columns], self.csv_rows(queryset)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{self.csv_file_name()}"'
        return response

    def _csv_in_background(self, request: HttpRequest, count: int) -> HttpResponse:
        opts = self._csv_admin().opts
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        query = request.GET.urlencode()
        job = job_start(
            kind="export",
            title=f"Export of {count:,} {opts.verbose_name_plural}",
            user=request.user,
            task=EXPORT_TASK,
            params={"model": opts.label_lower, "query": query},
            back_url=f"{changelist}?{query}" if query else changelist,
            total=count,
        )
        return HttpResponseRedirect(reverse("admin:oms_job", args=[job.pk]))


def export_job_run(job: BackgroundJob) -> dict[str, Any]:
    """Write the export of a job (run by the task `oms.export_run`): the list of the model the
    job names, with the querystring it was asked with, as the job's user sees it."""
    from django.apps import apps

    model = apps.get_model(job.params["model"])
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, CsvExportMixin)
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = url
    request.GET = QueryDict(job.params.get("query", ""))
    request.user = job.user
    if not model_admin.has_view_permission(request):
        raise DomainError("You may no longer see this list: nothing was exported.")
    queryset, count = model_admin.csv_queryset(request)
    job_progress(job, 0, count)
    written = 0

    def counted() -> Iterator[Sequence[Any]]:
        nonlocal written
        for row in model_admin.csv_rows(queryset):
            written += 1
            if written % PROGRESS_EVERY == 0:
                job_progress(job, written)
            yield row

    lines = csv_lines([h for h, _ in model_admin.csv_columns], counted())
    size = job_result_write(
        job, (line.encode("utf-8") for line in lines), name=model_admin.csv_file_name()
    )
    job_progress(job, written, written)
    return {"rows": written, "bytes": size}
