"""Request limits enforced before any view runs.

Invariants:
- a request to the API or an inbound webhook whose body is larger than OMS_MAX_BODY_BYTES is
  answered 413 problem JSON (`body_too_large`) without reading the body: never Django's HTML
  400 page, never a view that half-reads it (Django's own limit, DATA_UPLOAD_MAX_MEMORY_SIZE,
  is the same figure, for the back office's forms);
- a query parameter carrying a NUL character (which no column holds, and PostgreSQL refuses
  even to compare with) is a 400 naming it, on every path: problem JSON under /api/ and
  /webhooks/, plain text elsewhere (the back office's searches and filters, the public pages);
- the last line outside the API (whose exception handler does the same): a value the database
  refuses (a DataError, or the driver's ValueError/OverflowError), such as a back-office filter
  in the address with an offset of +16:00, is a logged 400, not a 500;
- every request has an id (its X-Request-ID when a proxy or client sent a plain one, else a new
  one), answered in X-Request-ID and carried by every log line of the request and of the tasks
  it causes (oms.logs); nothing of one request's context is left for the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from oms.api.exceptions import body_too_large_response, problem_json, refused_by_database
from oms.limits import NUL_MESSAGE
from oms.logs import log_context_clear, log_context_set, request_id_new

logger = logging.getLogger(__name__)

#: The paths machines send bodies to: the API and the inbound webhooks.
LIMITED_PREFIXES = ("/api/", "/webhooks/")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_new(request.META.get("HTTP_X_REQUEST_ID"))
        log_context_set(None, request_id=request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _request_finished(**_: object) -> None:
    """The context ends with the request: after Django's own line about its answer (a 4xx or
    5xx logged by django.request once every middleware has returned), before the next."""
    log_context_clear()


request_finished.connect(_request_finished, dispatch_uid="oms.middleware.request_finished")


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(LIMITED_PREFIXES):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.OMS_MAX_BODY_BYTES:
                return body_too_large_response(length)
        return self.get_response(request)


class QueryNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:  # cheap: most requests parse nothing here
            bad = sorted(
                {
                    key.replace("\x00", "\\u0000")
                    for key, values in request.GET.lists()
                    if "\x00" in key or any("\x00" in value for value in values)
                }
            )
            if bad:
                return self._refuse(request, bad)
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, names: list[str]) -> HttpResponse:
        detail = f"Query parameters with a NUL character: {', '.join(names)}."
        if request.path_info.startswith(LIMITED_PREFIXES):
            return problem_json(
                status_code=400,
                code="invalid",
                title="Invalid input",
                detail=detail,
                errors={name: [NUL_MESSAGE] for name in names},
            )
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")


class DatabaseRefusalMiddleware:
    """A value the database refused, anywhere outside DRF: 400 rather than 500 (logged)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not refused_by_database(exception):
            return None
        logger.warning("The database refused a value of %s", request.path, exc_info=exception)
        detail = "A value in the request is out of the range or format the database stores."
        if request.path_info.startswith(LIMITED_PREFIXES):
            return problem_json(
                status_code=400, code="invalid", title="Invalid input", detail=detail
            )
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
