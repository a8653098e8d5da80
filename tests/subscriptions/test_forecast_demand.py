"""Subscription demand due in the next 30 days feeds the forecasts' reorder quantities, through
inventory's planned-demand registry (inventory never imports subscriptions)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inventory.models import StockForecast
from inventory.planned_demand import HORIZON, planned_demand
from inventory.services.forecast import forecast_refresh
from subscriptions import services
from subscriptions.selectors import renewal_demand

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def weekly(make_sub, now, **changes):
    return make_sub(interval="week", next_order_at=now + DAY, **changes)


def test_weekly_renewals_in_the_next_30_days_times_the_line_quantities(make_sub, shop):
    now = timezone.now()
    weekly(make_sub, now)  # renews at +1, +8, +15, +22, +29 days: 5 renewals
    make_sub(next_order_at=now + DAY)  # monthly: 1 renewal
    make_sub(next_order_at=now + 31 * DAY)  # beyond the horizon
    beans, filters = shop["beans"].pk, shop["filters"].pk
    assert renewal_demand(now, HORIZON) == {(beans, None): 2 * 6, (filters, None): 6}


def test_ends_paused_failed_cancelled_and_skips_are_respected(make_sub, shop):
    now = timezone.now()
    weekly(make_sub, now, ends_after_orders=3)  # 3 renewals
    weekly(make_sub, now, ends_on=(now + 10 * DAY).date())  # +1, +8: 2 renewals
    skipped = weekly(make_sub, now)
    services.subscription_skip(subscription=skipped)  # +8, +15, +22, +29: 4 renewals
    services.subscription_pause(subscription=weekly(make_sub, now))
    services.subscription_cancel(subscription=weekly(make_sub, now))
    assert renewal_demand(now, HORIZON) == {
        (shop["beans"].pk, None): 2 * 9,
        (shop["filters"].pk, None): 9,
    }


def test_renewal_demand_reads_in_two_queries(make_sub, django_assert_num_queries):
    now = timezone.now()
    for _ in range(3):
        weekly(make_sub, now)
    with django_assert_num_queries(2):  # the subscriptions (with time zones), their lines
        renewal_demand(now, HORIZON)
    assert renewal_demand(now - 400 * DAY, DAY) == {}


def test_the_app_registers_its_provider_and_the_forecast_adds_the_units(make_sub, shop):
    now = timezone.now()
    weekly(make_sub, now)
    assert planned_demand(now) == renewal_demand(now, HORIZON)
    forecast_refresh(now=now)
    beans = shop["beans"]
    network = StockForecast.objects.get(sku=beans, location=None)
    at_wh = StockForecast.objects.get(sku=beans, location=shop["wh"])
    # no shipments in the history: the method asks for nothing, the renewals for 2 x 5
    assert network.reorder_quantity == 10
    assert at_wh.reorder_quantity == 0  # planned without a location: the network row only
