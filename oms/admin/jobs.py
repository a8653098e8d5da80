"""The pages of background jobs (oms.jobs): a person's jobs, one job's progress (polled, so the
page can be left and opened again later) and its result to download.

Invariants: a person sees only their own jobs (a superuser sees any); the status answer is JSON
the page polls every second; a download streams the stored parts (constant memory). A job
whose kind has its own page (a channel's CSV import) says so in `params["page_url"]`.

URLs (wired in oms.admin.site.OmsAdminSite.get_urls, behind admin_view): `jobs/` -> jobs_view,
`jobs/<id>/` -> job_view, `jobs/<id>/status` -> job_status_view, `jobs/<id>/cancel` (POST) ->
job_cancel_view, `jobs/<id>/download` -> job_download_view.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from oms.jobs import job_cancel, job_progress_of, job_result_read, jobs_of
from oms.models import BackgroundJob


def job_of(request: HttpRequest, job_id: int) -> BackgroundJob:
    """The job if it is the person's (404 otherwise: another's job is not even said to exist)."""
    job = get_object_or_404(BackgroundJob.objects.defer("input_data"), pk=job_id)
    if job.user_id != request.user.pk and not request.user.is_superuser:
        raise Http404
    return job


def job_page_url(job: BackgroundJob) -> str:
    return str(job.params.get("page_url") or reverse("admin:oms_job", args=[job.pk]))


def job_status(job: BackgroundJob) -> dict[str, Any]:
    """What the polling page needs: status, progress and, when finished, where to go."""
    done, total = job_progress_of(job)
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "done": done,
        "total": total,
        "percent": int(done * 100 / total) if total else (100 if job.is_finished else 0),
        "finished": job.is_finished,
        "error": job.error,
    }


def jobs_view(request: HttpRequest) -> HttpResponse:
    jobs = [(job, job_page_url(job), job_status(job)) for job in jobs_of(request.user)]
    context = {
        **admin.site.each_context(request),
        "title": "Your background jobs",
        "jobs": jobs,
    }
    return TemplateResponse(request, "admin/oms/jobs.html", context)


def job_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_of(request, job_id)
    context = {
        **admin.site.each_context(request),
        "title": job.title,
        "job": job,
        "status": job_status(job),
        "status_url": reverse("admin:oms_job_status", args=[job.pk]),
        "download_url": (
            reverse("admin:oms_job_download", args=[job.pk]) if job.result_name else ""
        ),
        "jobs_url": reverse("admin:oms_jobs"),
    }
    return TemplateResponse(request, "admin/oms/job.html", context)


@require_POST
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """Cancel a queued or running job (the Cancel button of its progress), then back to its
    page; a finished job stays as it is (said on its page). POST only (405 otherwise)."""
    job = job_of(request, job_id)
    if job_cancel(job):
        messages.success(
            request, f"“{job.title}” was cancelled: it stopped at {job.done} of {job.total}."
        )
        return HttpResponseRedirect(job_page_url(job))
    messages.warning(request, f"“{job.title}” had finished already: nothing was cancelled.")
    return HttpResponseRedirect(job_page_url(job))


def job_status_view(request: HttpRequest, job_id: int) -> HttpResponse:
    return JsonResponse(job_status(job_of(request, job_id)))


def job_download_view(request: HttpRequest, job_id: int) -> StreamingHttpResponse:
    job = job_of(request, job_id)
    if job.status != BackgroundJob.Status.SUCCEEDED or not job.result_name:
        raise Http404
    response = StreamingHttpResponse(job_result_read(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{job.result_name}"'
    return response
