"""Dates and money in the shopper's language (oms.i18n): `{% load shopper %}`, then
`{{ day|day }}`, `{{ day|day:"full" }}`, `{{ moment|moment }}`, `{{ amount|money:currency }}`."""

from __future__ import annotations

from typing import Any

from django import template

from oms.i18n import format_day, format_moment, format_money

register = template.Library()


@register.filter(name="day")
def day_filter(value: Any, style: str = "long") -> str:
    return format_day(value, style)


@register.filter(name="moment")
def moment_filter(value: Any) -> str:
    return format_moment(value)


@register.filter(name="money")
def money_filter(value: Any, currency: str) -> str:
    return format_money(value, currency)
