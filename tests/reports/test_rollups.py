"""The rollup tables hold the hand-worked figures of the seeded history (tests/reports/conftest),
and the incremental refresh recomputes the days it must."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders.models import Order
from reports.models import (
    ChannelDay,
    FulfilmentDay,
    InventoryDay,
    LeadTimeBucket,
    RefreshState,
    RefundDay,
    ReturnReasonDay,
    ReturnSkuDay,
    SalesDay,
)
from reports.services import rollups_refresh, rollups_refresh_due
from tests.reports.conftest import APRIL, D1, D2, D3, _line, _order

pytestmark = pytest.mark.django_db


@pytest.fixture
def rolled(history):
    rollups_refresh(start=D1, end=APRIL)
    return history


def _sales(day, channel):
    return SalesDay.objects.values(
        "orders",
        "units",
        "revenue",
        "unconverted",
        "orders_split",
        "orders_backordered",
        "backorders_open",
    ).get(day=day, channel=channel)


def test_sales_days(rolled):
    web, shop = rolled["web"], rolled["shop"]
    assert SalesDay.objects.count() == 3  # 3 Mar web, 4 Mar shop, 1 Apr shop (o4 cancelled)
    assert _sales(D1, web) == {
        "orders": 2,
        "units": 4,
        "revenue": Decimal("145.50"),
        "unconverted": 0,
        "orders_split": 1,
        "orders_backordered": 0,
        "backorders_open": 0,
    }
    assert _sales(D2, shop) == {
        "orders": 1,
        "units": 2,
        "revenue": Decimal(0),
        "unconverted": 1,
        "orders_split": 0,
        "orders_backordered": 1,
        "backorders_open": 1,
    }
    assert _sales(APRIL, shop)["revenue"] == Decimal(30)


def test_fulfilment_days_and_lead_time_buckets(rolled):
    web, l1, l2 = rolled["web"], rolled["l1"], rolled["l2"]
    rows = {
        (r.day, r.location_id): (
            r.shipped,
            r.shipped_promised,
            r.shipped_on_time,
            r.delivered,
            r.delivered_on_time,
            r.units_short,
        )
        for r in FulfilmentDay.objects.filter(channel=web)
    }
    assert rows == {
        (D1, l1.pk): (1, 1, 1, 0, 0, 0),  # A shipped on its promised day
        (D2, l1.pk): (1, 1, 0, 0, 0, 2),  # B a day late; 2 units short-picked
        (D2, l2.pk): (1, 1, 1, 0, 0, 0),  # C on time
        (D3, l1.pk): (0, 0, 0, 1, 0, 0),  # A delivered a day after its promise
    }
    buckets = sorted(
        (b.kind, b.day, b.location_id, b.hours, b.count) for b in LeadTimeBucket.objects.all()
    )
    assert buckets == [
        ("deliver", D3, l1.pk, 48, 1),  # 3 Mar 10:00 -> 5 Mar 10:00
        ("ship", D1, l1.pk, 6, 1),  # 10:00 -> 16:00
        ("ship", D2, l1.pk, 24, 1),  # 3 Mar 12:00 -> 4 Mar 12:00
        ("ship", D2, l2.pk, 26, 1),  # 3 Mar 12:00 -> 4 Mar 14:30: 26 whole hours
    ]


def test_inventory_days(rolled):
    l1, l2 = rolled["l1"], rolled["l2"]
    rows = {
        (r.day, r.location_id): (
            r.skus,
            r.skus_out,
            r.skus_dead,
            r.on_hand,
            r.units_sold,
            r.forecast,
            r.forecast_error,
        )
        for r in InventoryDay.objects.filter(day__lte=D3)
    }
    d = Decimal
    assert rows == {
        # S1: 5 - 3 = 2 on hand; S2: 4, never shipped (dead). Nothing shipped before: forecast 0.
        (D1, l1.pk): (2, 0, 1, 6, 3, d(0), d(3)),
        # S1 ends at 0 (out). Its forecast from the 3 units of the day before:
        # 0.5 * 0.429 + 0.3 * 0.107 + 0.2 * 0.033 = 0.253; error |2 - 0.253|.
        (D2, l1.pk): (2, 1, 1, 4, 2, d("0.253"), d("1.747")),
        # From 5 units: 0.5 * 0.714 + 0.3 * 0.179 + 0.2 * 0.056 = 0.422; nothing sold.
        (D3, l1.pk): (2, 1, 1, 4, 0, d("0.422"), d("0.422")),
        # L2 first stocks S1 on 4 Mar, ships it the same day.
        (D2, l2.pk): (1, 1, 0, 0, 1, d(0), d(1)),
        # 0.5 * 0.143 + 0.3 * 0.036 + 0.2 * 0.011 = 0.0845 -> 0.085 (half up)
        (D3, l2.pk): (1, 1, 0, 0, 0, d("0.085"), d("0.085")),
    }
    # Every later day carries the closing stock on (no movement after 4 Mar).
    assert InventoryDay.objects.get(day=APRIL, location=l1).on_hand == 4


def test_returns_and_refund_days(rolled):
    web = rolled["web"]
    skus = {
        r.sku_code: (r.units_shipped, r.units_returned, r.units_restocked, r.units_written_off)
        for r in ReturnSkuDay.objects.filter(day=D1, channel=web)
    }
    assert skus == {"S1": (3, 1, 0, 1), "S2": (1, 1, 1, 0)}  # o2's return is only requested
    reasons = {r.reason: (r.returns, r.units) for r in ReturnReasonDay.objects.all()}
    assert reasons == {"damaged": (1, 1), "too_big": (1, 1)}
    refunds = {(r.day, r.refunds, r.amount) for r in RefundDay.objects.all()}
    assert refunds == {(D2, 1, Decimal("9.10")), (D3, 1, Decimal("20.00"))}


def test_channel_days(rolled):
    web = rolled["web"]
    row = ChannelDay.objects.get(day=D1, channel=web)
    assert (row.sync_runs, row.sync_runs_failed, row.failed_records) == (2, 0, 2)
    assert (row.pushes, row.pushes_failed) == (2, 1)
    assert (row.lag_orders, row.lag_seconds, row.lag_seconds_max) == (2, 330, 300)
    failed = ChannelDay.objects.get(day=D2, channel=web)
    assert (failed.sync_runs, failed.sync_runs_failed) == (1, 1)


def test_a_refresh_is_idempotent(rolled):
    before = list(SalesDay.objects.order_by("day", "channel").values())
    rollups_refresh(start=D1, end=APRIL)
    after = list(SalesDay.objects.order_by("day", "channel").values())
    assert [{**r, "id": 0} for r in before] == [{**r, "id": 0} for r in after]


def _runs(base, *minutes):
    """The refresh's clock: `minutes` after `base` (the seed's rows were written at about
    `base`, so a run 10 minutes later is past the overlap of what the seed wrote)."""
    return [base + dt.timedelta(minutes=m) for m in minutes]


def _local(moment):
    return timezone.localtime(moment).date()


def test_the_incremental_refresh_sees_a_new_order_and_a_changed_old_day(history):
    base = timezone.now()
    first, second, third = _runs(base, 10, 15, 20)
    today = _local(third)
    assert rollups_refresh_due(now=first) == (_local(first) - D1).days + 1  # all history
    assert RefreshState.objects.get().started_at == first
    web = history["web"]

    # A new order: shows after the next refresh, which recomputes today only.
    new = _order(web, "o6", second, total=Decimal(12), total_base=Decimal(12), currency="EUR")
    _line(new, 1, history["s1"], 2)
    Order.objects.filter(pk=new.pk).update(updated_at=second)
    assert rollups_refresh_due(now=second) == len({_local(first), _local(second)})
    assert _sales(_local(second), web)["orders"] == 1
    assert _sales(_local(second), web)["units"] == 2

    # An old order changes (cancelled): its day (3 Mar) is recomputed too.
    o2 = history["orders"]["o2"]
    Order.objects.filter(pk=o2.pk).update(status="cancelled", updated_at=third)
    assert rollups_refresh_due(now=third) == len({D1, _local(second), today})
    assert _sales(D1, web)["orders"] == 1
    assert _sales(D1, web)["revenue"] == Decimal(100)
    assert _sales(D1, web)["orders_split"] == 0


def test_an_untouched_old_day_is_left_alone(history):
    first, second = _runs(timezone.now(), 10, 20)
    rollups_refresh_due(now=first)
    SalesDay.objects.filter(day=D1).update(orders=99)  # were it recomputed, it would be 2
    rollups_refresh_due(now=second)
    assert SalesDay.objects.get(day=D1).orders == 99


def test_the_command_rebuilds_a_range(history, capsys):
    call_command("reports_refresh", "--from", "2025-03-03", "--to", "2025-03-05")
    assert "Recomputed 3 day(s)" in capsys.readouterr().out
    assert SalesDay.objects.filter(day__gte=D1, day__lte=D3).count() == 2
    assert not SalesDay.objects.filter(day=APRIL).exists()
    with pytest.raises(CommandError):
        call_command("reports_refresh", "--from", "2025-13-01")
    with pytest.raises(CommandError):
        call_command("reports_refresh", "--from", "2025-03-05", "--to", "2025-03-01")


def test_the_beat_schedule_refreshes_every_minute():
    from oms.celery import app

    entry = app.conf.beat_schedule["reports-rollups-refresh"]
    assert entry["task"] == "reports.rollups_refresh"
    assert entry["schedule"] <= 60
