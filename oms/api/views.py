"""Base classes of every API view: idempotent POSTs and the house conventions.

Invariant: a POST carrying `Idempotency-Key` runs its handler at most once per key and user.
(Input limits: oms.middleware for bodies and query strings, oms.api.parsers for JSON,
oms.api.serializers and oms.api.fields for values.)
"""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api.idempotency import (
    HEADER,
    idempotency_begin,
    idempotency_finish,
    idempotency_release,
    idempotency_replay,
)
from oms.api.throttling import BudgetFirstMixin
from oms.models import IdempotencyKey


def actor_of(request: Request) -> str:
    """Who did it, for the timeline and the ledger: the API user's username."""
    return str(request.user.get_username())


class _Replay(Exception):
    def __init__(self, record: IdempotencyKey) -> None:
        self.record = record


class IdempotentMixin:
    """Adds `Idempotency-Key` handling to every POST of a DRF view."""

    _idempotency_record: IdempotencyKey | None = None
    #: False on an action whose answer must not be kept (a personal-data export): its POST
    #: runs again on a retry instead of being replayed from storage.
    idempotency_store = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authenticates
        self._idempotency_record = None
        key = request.headers.get(HEADER)
        if (
            request.method != "POST"
            or key is None
            or not request.user.is_authenticated
            or not self.idempotency_store
        ):
            return
        begun = idempotency_begin(
            user_id=request.user.pk,
            key=key,
            method=request.method,
            path=request.get_full_path(),
            body=request._request.body,
        )
        if begun.replay:
            raise _Replay(begun.record)
        self._idempotency_record = begun.record

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            return idempotency_replay(exc.record)
        try:
            return super().handle_exception(exc)  # type: ignore[misc]
        except BaseException:
            # An unhandled error becomes a 500 outside DRF: free the key so a retry can run.
            record, self._idempotency_record = self._idempotency_record, None
            if record is not None:
                idempotency_release(record=record)
            raise

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            if response.status_code >= 500:
                idempotency_release(record=record)
            else:
                idempotency_finish(record=record, response=response)
        return response


class OmsAPIView(IdempotentMixin, BudgetFirstMixin, APIView):
    pass


class OmsGenericViewSet(IdempotentMixin, BudgetFirstMixin, viewsets.GenericViewSet):
    pass


class CatalogueViewSet(
    IdempotentMixin,
    BudgetFirstMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """List, retrieve, create (POST) and partial update (PATCH) through services.

    Subclasses set `output_serializer_class`, `input_serializer_class` and implement
    `perform_service_create(data)` / `perform_service_update(instance, data)`.
    """

    http_method_names = ["get", "post", "patch", "head", "options"]
    input_serializer_class: Any = None

    def get_serializer_class(self) -> Any:
        return self.serializer_class

    def perform_service_create(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_service_create(dict(serializer.validated_data))
        return Response(self.get_serializer(instance).data, status=201)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.input_serializer_class(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_service_update(instance, dict(serializer.validated_data))
        return Response(self.get_serializer(instance).data)
