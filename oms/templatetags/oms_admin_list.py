"""The date drill-down of the back office's lists in one MIN/MAX query.

Django's `{% date_hierarchy %}` lists the years, months or days that hold rows with a SELECT
DISTINCT over the truncated dates of every row of the list: a scan of the whole table (36,000
stock movements in the demo: most of that list's time). Here the same links come from the first
and the last row's dates: every year, month or day between them, one query the index answers.
A period between the two without a row leads to an empty list, which says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.utils import timezone

register = template.Library()


class _Span:
    """Stands in for the list's queryset in Django's date_hierarchy: `aggregate` is the list's
    (its MIN/MAX, kept), `dates`/`datetimes` the periods from the first row to the last."""

    def __init__(self, queryset: Any, field: str) -> None:
        self._queryset = queryset
        self._field = field
        self._range: dict[str, Any] | None = None

    def aggregate(self, **expressions: Any) -> dict[str, Any]:
        self._range = self._queryset.aggregate(**expressions)
        return self._range

    def _first_last(self) -> tuple[Any, Any]:
        if self._range is None:
            from django.db.models import Max, Min

            self.aggregate(first=Min(self._field), last=Max(self._field))
        assert self._range is not None
        first, last = self._range["first"], self._range["last"]
        if isinstance(first, dt.datetime) and timezone.is_aware(first):
            first, last = timezone.localtime(first), timezone.localtime(last)
        return first, last

    def datetimes(self, field: str, kind: str) -> list[dt.date]:
        first, last = self._first_last()
        if first is None or last is None:
            return []
        first, last = _as_date(first), _as_date(last)
        if kind == "year":
            return [dt.date(year, 1, 1) for year in range(first.year, last.year + 1)]
        if kind == "month":
            months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
            return [dt.date(m // 12, m % 12 + 1, 1) for m in months]
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]

    dates = datetimes


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


class _List:
    """The changelist as date_hierarchy sees it: its own, but for the queryset."""

    def __init__(self, cl: Any) -> None:
        self._cl = cl
        self.queryset = _Span(cl.queryset, cl.date_hierarchy)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cl, name)


def span_date_hierarchy(cl: Any) -> dict[str, Any] | None:
    list_: Any = _List(cl)
    return date_hierarchy(list_)


@register.tag(name="span_date_hierarchy")
def span_date_hierarchy_tag(parser: Any, token: Any) -> InclusionAdminNode:
    # django-stubs gives it a leading `name` that Django's InclusionAdminNode does not take.
    return InclusionAdminNode(  # type: ignore[call-arg]
        parser,
        token,
        func=span_date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
