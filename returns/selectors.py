"""Reads of returns and refunds shared by the API and the admin."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from returns.models import Refund, ReturnLine, ReturnRequest


def return_list() -> QuerySet[ReturnRequest]:
    return ReturnRequest.objects.prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("reason", "order_line"))
    )


def refund_list() -> QuerySet[Refund]:
    return Refund.objects.all()
