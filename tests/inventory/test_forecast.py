"""Demand forecasting: the pure method, the nightly refresh, its task and its query count."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from celery.schedules import crontab

from inventory import forecasting, services
from inventory.models import StockForecast
from inventory.selectors import forecast_list
from inventory.services import ReservationRequest
from inventory.services.forecast import forecast_refresh
from inventory.tasks import forecast_refresh as forecast_refresh_task
from oms.celery import app as celery_app
from oms.errors import ValidationFailed
from oms.tasks import OmsTask
from tests.factories import LocationFactory, SkuFactory

NOW = datetime(2025, 6, 1, 2, 30, tzinfo=UTC)
TODAY = NOW.date()
DAYS = forecasting.HISTORY_DAYS  # 146 = 90 + 8 weeks

# 2 a day for 139 days, then 4 a day in the last week.
STEP = [2] * (DAYS - 7) + [4] * 7


def at_noon(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(12), UTC)


def load(sku, location, daily: list[int], *, left: int = 0, extra=()) -> None:
    """History: one receipt, then `daily` shipments (oldest first, the last one yesterday)."""
    entries = [(at_noon(len(daily) + 1), "receipt", sum(daily) + left + sum(q for _, q in extra))]
    entries += [
        (at_noon(len(daily) - index), "shipment", -units)
        for index, units in enumerate(daily)
        if units
    ]
    entries += [(moment, "shipment", -quantity) for moment, quantity in extra]
    services.stock_history_load(sku=sku, location=location, entries=entries)


def row(sku, location=None) -> StockForecast:
    return StockForecast.objects.get(sku=sku, location=location)


# --- the pure method ---------------------------------------------------------------------------


def test_velocities_of_a_known_series():
    series = [0] * 62 + [1] * 21 + [3] * 7  # 90 days, the last one yesterday
    rates = forecasting.velocities(series)
    assert rates == forecasting.Velocities(
        v7=Decimal("3.000"), v28=Decimal("1.500"), v90=Decimal("0.467")
    )
    # 0.5 * 3 + 0.3 * 1.5 + 0.2 * 0.467 = 2.0434
    assert rates.blended == Decimal("2.043")


def test_a_short_series_counts_the_missing_days_as_no_demand():
    assert forecasting.velocities([7] * 10) == forecasting.Velocities(
        v7=Decimal("7.000"), v28=Decimal("2.500"), v90=Decimal("0.778")
    )


def test_the_blend_reproduces_a_steady_rate_and_rounds_half_up():
    rate = Decimal("2.345")
    assert forecasting.blend(v7=rate, v28=rate, v90=rate) == rate
    assert forecasting.blend(v7=Decimal("0.001"), v28=Decimal(0), v90=Decimal(0)) == Decimal(
        "0.001"
    )  # 0.0005 rounds up
    assert forecasting.blend(v7=Decimal(0), v28=Decimal(0), v90=Decimal("0.002")) == Decimal(
        "0.000"
    )  # 0.0004 rounds down


def test_daily_series_is_dense_and_ignores_days_outside_and_negative_days():
    demand = {
        TODAY - timedelta(days=1): 5,
        TODAY - timedelta(days=3): -2,
        TODAY: 9,
        TODAY - timedelta(days=5): 4,
        TODAY - timedelta(days=4): 1,
    }
    assert forecasting.daily_series(demand, today=TODAY, days=4) == [1, 0, 0, 5]


def test_days_of_cover_and_stockout_date():
    velocity = Decimal("3")
    assert forecasting.days_of_cover(available=10, velocity=velocity) == Decimal("3.3")
    assert forecasting.stockout_date(today=TODAY, available=10, velocity=velocity) == date(
        2025, 6, 4
    )
    # Truncated, not rounded: 29.999 days of cover run out on day 29.
    assert forecasting.days_of_cover(available=29999, velocity=Decimal("1000")) == Decimal("29.9")
    # Nothing available while selling: out of stock today.
    assert forecasting.days_of_cover(available=0, velocity=velocity) == Decimal("0.0")
    assert forecasting.stockout_date(today=TODAY, available=0, velocity=velocity) == TODAY
    # No demand: no cover figure and no stock-out.
    assert forecasting.days_of_cover(available=10, velocity=Decimal(0)) is None
    assert forecasting.stockout_date(today=TODAY, available=10, velocity=Decimal(0)) is None


def test_cover_is_capped_to_its_column_and_a_stockout_beyond_the_calendar_is_none():
    huge = 2_000_000_000
    assert (
        forecasting.days_of_cover(available=huge, velocity=Decimal("0.001"))
        == forecasting.MAX_DAYS_OF_COVER
    )
    assert forecasting.stockout_date(today=TODAY, available=huge, velocity=Decimal("0.001")) is None


@pytest.mark.parametrize(
    ("lead", "velocity", "safety", "on_hand", "reserved", "incoming", "expected"),
    [
        (10, "3", 5, 20, 2, 4, 13),  # 30 + 5 - 18 - 4
        (14, "1.001", 0, 0, 0, 0, 15),  # 14.014 rounds up
        (14, "1", 0, 100, 0, 0, 0),  # plenty: never negative
        (7, "0", 6, 4, 0, 0, 2),  # no demand: still refill the safety stock
        (5, "2", 0, 3, 5, 0, 12),  # backordered: reserved beyond on hand is owed too
    ],
)
def test_reorder_quantity(lead, velocity, safety, on_hand, reserved, incoming, expected):
    assert (
        forecasting.reorder_quantity(
            lead_time_days=lead,
            velocity=Decimal(velocity),
            safety_stock=safety,
            on_hand=on_hand,
            reserved=reserved,
            incoming=incoming,
        )
        == expected
    )


def test_wape():
    assert forecasting.wape(actuals=[10, 10], forecasts=[Decimal(8), Decimal(12)]) == Decimal(
        "0.200"
    )
    assert forecasting.wape(actuals=[0, 0], forecasts=[Decimal(3), Decimal(0)]) is None
    assert forecasting.wape(actuals=[], forecasts=[]) is None
    assert forecasting.wape(actuals=[1], forecasts=[Decimal(10**9)]) == forecasting.MAX_WAPE
    with pytest.raises(ValueError, match="One forecast per actual"):
        forecasting.wape(actuals=[1, 2], forecasts=[Decimal(1)])


def test_backtest_of_a_constant_series_is_exact():
    assert forecasting.backtest([5] * DAYS) == forecasting.Backtest(wape=Decimal("0.000"), weeks=8)


def test_backtest_of_a_known_series():
    # Every week forecasts 7 * 2 = 14 from the steady days before it; weeks 2-8 sell 14, the
    # last week sells 28: WAPE = |28 - 14| / (7 * 14 + 28) = 14 / 126.
    assert forecasting.backtest(STEP) == forecasting.Backtest(wape=Decimal("0.111"), weeks=8)


def test_backtest_of_a_young_series_uses_only_the_weeks_with_history_before_them():
    series = [0] * (DAYS - 20) + [1] * 20  # selling for 20 days
    # Last week: 13 units before it -> 0.5 * 1 + 0.3 * 13/28 + 0.2 * 13/90 = 0.668 -> 4.676.
    # The week before: 6 units before it -> 0.5 * 6/7 + 0.3 * 6/28 + 0.2 * 6/90 = 0.506 -> 3.542.
    # The third week back began before the first sale: not tested.
    # WAPE = (|7 - 4.676| + |7 - 3.542|) / 14 = 5.782 / 14.
    assert forecasting.backtest(series) == forecasting.Backtest(wape=Decimal("0.413"), weeks=2)


def test_backtest_without_demand_has_no_score():
    assert forecasting.backtest([0] * DAYS) == forecasting.Backtest(wape=None, weeks=0)


def test_forecast_gathers_every_figure():
    result = forecasting.forecast(
        STEP,
        today=TODAY,
        lead_time_days=14,
        on_hand=30,
        reserved=0,
        safety_stock=10,
        available=20,
        incoming=0,
    )
    assert result.velocity == Decimal("3.181")
    assert result.days_of_cover == Decimal("6.2")  # 20 / 3.181 = 6.287
    assert result.stockout_date == TODAY + timedelta(days=6)
    assert result.reorder_quantity == 25  # 14 * 3.181 + 10 - 30 = 24.534
    assert (result.wape, result.backtest_weeks) == (Decimal("0.111"), 8)


# --- the refresh service -----------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_stores_the_forecast_of_a_known_series():
    sku, wh = SkuFactory(), LocationFactory()
    # 50 units shipped today, before the run: a partial day is not counted.
    load(sku, wh, STEP, left=644, extra=[(NOW - timedelta(hours=1), 50)])

    assert forecast_refresh(now=NOW) == 2  # the location and the network

    forecast = row(sku, wh)
    assert forecast.computed_at == NOW
    assert (forecast.velocity_7, forecast.velocity_28, forecast.velocity_90) == (
        Decimal("4.000"),  # 4 a day in the last 7 days
        Decimal("2.500"),  # (21 * 2 + 7 * 4) / 28
        Decimal("2.156"),  # (83 * 2 + 7 * 4) / 90 = 2.1556
    )
    assert forecast.velocity == Decimal("3.181")  # 0.5 * 4 + 0.3 * 2.5 + 0.2 * 2.156
    assert (forecast.on_hand, forecast.available, forecast.incoming) == (644, 644, 0)
    assert forecast.days_of_cover == Decimal("202.4")  # 644 / 3.181 = 202.45
    assert forecast.stockout_date == TODAY + timedelta(days=202)
    assert forecast.reorder_quantity == 0
    assert (forecast.wape, forecast.backtest_weeks) == (Decimal("0.111"), 8)


@pytest.mark.django_db
def test_reorder_quantity_counts_lead_time_safety_stock_reserved_and_incoming_transfers():
    sku = SkuFactory(lead_time_days=10)
    wh, src = LocationFactory(), LocationFactory()
    load(sku, wh, [3] * DAYS, left=20)
    services.stock_level_set_thresholds(sku=sku, location=wh, safety_stock=5)
    services.stock_reserve(requests=[ReservationRequest(1, 1, sku.pk, wh.pk, 2)])
    services.stock_adjust(sku=sku, location=src, kind="receipt", quantity=15)
    shipped = services.transfer_create(from_location=src, to_location=wh, lines=[(sku, 4)])
    services.transfer_ship(transfer=shipped)
    # Drafts are not on their way yet.
    services.transfer_create(from_location=src, to_location=wh, lines=[(sku, 5)])

    assert forecast_refresh(now=NOW) == 3

    at_wh = row(sku, wh)
    assert at_wh.velocity == Decimal("3.000")
    assert (at_wh.on_hand, at_wh.available, at_wh.incoming) == (20, 13, 4)  # 20 - 2 - 5
    assert at_wh.days_of_cover == Decimal("4.3")  # 13 / 3
    assert at_wh.stockout_date == TODAY + timedelta(days=4)
    assert at_wh.reorder_quantity == 13  # 10 * 3 + 5 - (20 - 2) - 4
    assert (at_wh.wape, at_wh.backtest_weeks) == (Decimal("0.000"), 8)

    at_src = row(sku, src)  # stock but no demand
    assert (at_src.velocity, at_src.on_hand, at_src.reorder_quantity) == (Decimal(0), 11, 0)

    network = row(sku)
    assert network.velocity == Decimal("3.000")
    assert (network.on_hand, network.available, network.incoming) == (31, 24, 0)
    assert network.days_of_cover == Decimal("8.0")  # 24 / 3
    assert network.reorder_quantity == 6  # 10 * 3 + 5 - (31 - 2) - 0: transfers are internal


@pytest.mark.django_db
def test_the_network_row_adds_up_the_demand_of_every_location():
    sku = SkuFactory()
    a, b, idle = LocationFactory(), LocationFactory(), LocationFactory()
    load(sku, a, [1] * DAYS, left=10)
    load(sku, b, [0] * (DAYS - 7) + [2] * 7, left=10)
    services.stock_adjust(sku=sku, location=idle, kind="receipt", quantity=10)

    assert forecast_refresh(now=NOW) == 4

    network = row(sku)
    assert (network.velocity_7, network.velocity_28, network.velocity_90) == (
        Decimal("3.000"),
        Decimal("1.500"),  # (28 + 14) / 28
        Decimal("1.156"),  # (90 + 14) / 90
    )
    assert network.velocity == forecasting.blend(
        v7=Decimal("3.000"), v28=Decimal("1.500"), v90=Decimal("1.156")
    )
    assert (network.on_hand, network.available) == (30, 30)
    # b's new demand is only in the last week: the network backtest sees it as one miss.
    assert network.backtest_weeks == 8
    assert network.wape == Decimal("0.200")  # |21 - 7| / (7 * 7 + 21) = 14 / 70
    assert row(sku, b).backtest_weeks == 0  # no demand before its last week
    assert row(sku, b).wape is None


@pytest.mark.django_db
def test_zero_demand_gives_no_cover_no_stockout_and_no_wape_but_refills_safety_stock():
    sku, wh = SkuFactory(), LocationFactory()
    services.stock_adjust(sku=sku, location=wh, kind="receipt", quantity=3)
    services.stock_level_set_thresholds(sku=sku, location=wh, safety_stock=5)

    forecast_refresh(now=NOW)

    for forecast in (row(sku, wh), row(sku)):
        assert forecast.velocity == Decimal(0)
        assert forecast.days_of_cover is None
        assert forecast.stockout_date is None
        assert forecast.wape is None
        assert forecast.backtest_weeks == 0
        assert forecast.available == 0
        assert forecast.reorder_quantity == 2


@pytest.mark.django_db
def test_untracked_skus_get_no_forecast_and_old_rows_go():
    sku, wh = SkuFactory(), LocationFactory()
    load(sku, wh, [1] * 10, left=1)
    assert forecast_refresh(now=NOW) == 2
    type(sku).objects.filter(pk=sku.pk).update(track_inventory=False)

    assert forecast_refresh(now=NOW) == 0
    assert not StockForecast.objects.exists()


@pytest.mark.django_db
def test_refresh_is_idempotent():
    skus = SkuFactory.create_batch(3)
    wh, store = LocationFactory(), LocationFactory()
    for number, sku in enumerate(skus, start=1):
        load(sku, wh, [number] * DAYS, left=number)
        load(sku, store, STEP, left=7)

    def snapshot() -> list[tuple]:
        return sorted(
            forecast_list().values_list(
                "sku_id", "location_id", "velocity", "days_of_cover", "reorder_quantity", "wape"
            ),
            key=repr,
        )

    first = forecast_refresh(now=NOW)
    before = snapshot()
    assert forecast_refresh(now=NOW) == first == StockForecast.objects.count() == 9
    assert snapshot() == before


@pytest.mark.django_db
def test_forecast_list_brings_sku_and_location(django_assert_num_queries):
    sku, wh = SkuFactory(), LocationFactory()
    load(sku, wh, [1] * 10, left=1)
    forecast_refresh(now=NOW)
    with django_assert_num_queries(1):
        labels = sorted(
            f"{f.sku.code}@{f.location.code if f.location else 'network'}" for f in forecast_list()
        )
    assert labels == [f"{sku.code}@{wh.code}", f"{sku.code}@network"]


@pytest.mark.django_db
def test_a_naive_time_is_refused():
    with pytest.raises(ValidationFailed):
        forecast_refresh(now=NOW.replace(tzinfo=None))


# --- the task and its schedule -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_task_refreshes_and_accepts_unknown_arguments():
    sku, wh = SkuFactory(), LocationFactory()
    services.stock_adjust(sku=sku, location=wh, kind="receipt", quantity=5)
    assert forecast_refresh_task(sent_by="beat") == 2
    assert StockForecast.objects.filter(sku=sku).count() == 2


def test_the_task_is_registered_and_scheduled_nightly():
    task = celery_app.tasks["inventory.forecast_refresh"]
    assert isinstance(task, OmsTask)
    assert task.oms_queue == "default"
    entry = celery_app.conf.beat_schedule["inventory-forecast-nightly"]
    assert entry["task"] == "inventory.forecast_refresh"
    assert entry["schedule"] == crontab(hour=2, minute=30)


# --- query count -------------------------------------------------------------------------------


def _catalogue(count: int, locations) -> None:
    """`count` SKUs selling at the warehouse; every other one has a transfer on its way."""
    wh, store = locations
    for number in range(count):
        sku = SkuFactory()
        load(sku, wh, [0] * (DAYS - 30) + [number % 3 + 1] * 30, left=5)
        if number % 2:
            transfer = services.transfer_create(
                from_location=wh, to_location=store, lines=[(sku, 1)]
            )
            services.transfer_ship(transfer=transfer)


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_catalogue(django_assert_max_num_queries):
    locations = (LocationFactory(), LocationFactory())
    # Reads: SKUs, levels, transfers in transit, demand, planned demand (the subscriptions
    # renewing soon: none here, so not their lines). Writes in a savepoint: the table lock
    # (PostgreSQL), the delete, one insert per batch. SQLite caps the parameters of a statement
    # (999), so it inserts 66 rows at a time: 30 SKUs (60 rows) stay within one batch there.
    _catalogue(3, locations)
    with django_assert_max_num_queries(10) as small:
        assert forecast_refresh(now=NOW) == 3 * 2
    _catalogue(27, locations)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        assert forecast_refresh(now=NOW) == 30 * 2
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.django_db
def test_planned_demand_adds_to_the_reorder_quantity_of_its_location_and_the_network():
    from inventory.planned_demand import planned_demand_register, planned_demand_unregister

    sku, wh = SkuFactory(), LocationFactory()
    only_planned = SkuFactory()
    services.stock_adjust(sku=sku, location=wh, kind="receipt", quantity=5)

    def provider(now, horizon):
        assert horizon == timedelta(days=30)
        return {(sku.pk, wh.pk): 7, (sku.pk, None): 3, (only_planned.pk, None): 4}

    planned_demand_register(provider)
    planned_demand_register(provider)  # once
    try:
        assert forecast_refresh(now=NOW) == 3
    finally:
        planned_demand_unregister(provider)
    assert row(sku, wh).reorder_quantity == 7
    assert row(sku).reorder_quantity == 10
    assert row(only_planned).reorder_quantity == 4  # no stock, no history: its network row
