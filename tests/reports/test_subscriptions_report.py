"""The subscriptions report: live at start, new, cancelled, failed and churn per period, and as
of now the active, paused and failed subscriptions and the monthly recurring revenue in the base
currency, per channel. Figures worked out by hand from the seed below.

Range 3-5 March 2025 (UTC). Subscriptions (channel, currency, interval, per renewal, history):
  s1 web  EUR month x1  2 x 10.00 + 5.00 shipping = 25.00/month   created 1 Mar, active
  s2 web  EUR week  x2  1 x 12.00: 12 x 52/12 / 2   = 26.00/month   created 4 Mar 10:00, active
  s3 shop USD day   x1  1 x current price 2.00 (shop's USD price): 2 x 30.4375 = 60.875 USD,
                        at 1.25 USD per EUR (override)               = 48.70 EUR/month
                        created 1 Feb, active
  s4 web  EUR month     created 1 Feb, cancelled 4 Mar 12:00
  s5 shop EUR month     created 1 Feb, failed 5 Mar 09:00 (still failed)
  s6 web  EUR month     created 1 Feb, paused (a subscriber still: live, not active)
  s7 web  GBP month x1  1 x 10.00, created 6 Mar (after the range), active; GBP has no rate
  s8 web  EUR month     created 1 Feb, failed 2 Mar then cancelled 4 Mar: left on 2 Mar, once
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.services import sku_price_set
from oms.roles import INTEGRATOR, WAREHOUSE
from orders.models import RateOverride
from reports import selectors
from subscriptions.models import Subscription, SubscriptionLine
from tests import staff
from tests.factories import ChannelFactory, SkuFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC
MARCH = {"from": "2025-03-03", "to": "2025-03-05"}


def at(day: int, hour: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def seeded():
    web, shop = ChannelFactory(code="web"), ChannelFactory(code="shop")
    sku = SkuFactory(code="S1")
    sku_price_set(sku=sku, channel=shop, currency="USD", amount=Decimal("2.00"))
    sku_price_set(sku=sku, currency="USD", amount=Decimal("9.00"))  # the default: not used
    RateOverride.objects.create(currency="USD", rate=Decimal("1.25"))

    def sub(n, channel, created, *, currency="EUR", interval="month", count=1, **fields):
        lines = fields.pop("lines", [(1, Decimal("10.00"))])
        s = Subscription.objects.create(
            number=str(n),
            channel=channel,
            email=f"s{n}@example.com",
            currency=currency,
            interval=interval,
            interval_count=count,
            anchor_at=at(1, month=4),
            next_order_at=at(1, month=4),
            created_at=created,
            **fields,
        )
        for quantity, price in lines:
            SubscriptionLine.objects.create(
                subscription=s, sku=sku, quantity=quantity, unit_price=price
            )

    sub(1, web, at(1), lines=[(2, Decimal("10.00"))], shipping_price=Decimal("5.00"))
    sub(2, web, at(4, 10), interval="week", count=2, lines=[(1, Decimal("12.00"))])
    sub(3, shop, at(1, month=2), currency="USD", interval="day", lines=[(1, None)])
    sub(4, web, at(1, month=2), status="cancelled", cancelled_at=at(4, 12))
    sub(5, shop, at(1, month=2), status="failed", failed_at=at(5, 9))
    sub(6, web, at(1, month=2), status="paused")
    sub(7, web, at(6), currency="GBP")
    sub(8, web, at(1, month=2), status="cancelled", failed_at=at(2), cancelled_at=at(4))


def build(**changes):
    query = selectors.Query(
        name="subscriptions", start=dt.date(2025, 3, 3), end=dt.date(2025, 3, 5), **changes
    )
    return selectors.build(query)


def test_the_figures_per_day_in_total_and_per_channel(seeded, django_assert_num_queries):
    # two churn passes, the active subscriptions, their lines, the current prices, the rate
    # overrides, the stored rates (GBP has none), the counts per channel and status
    with django_assert_num_queries(8):
        report = build()
    assert [(r["period"].day, r["live_at_start"], r["new"], r["cancelled"], r["failed"],
             r["churn_rate"]) for r in report.rows] == [
        (3, 5, 0, 0, 0, Decimal("0.0000")),
        (4, 5, 1, 1, 0, Decimal("0.2000")),
        (5, 5, 0, 0, 1, Decimal("0.2000")),
    ]  # fmt: skip
    assert report.totals == {
        "live_at_start": 5,
        "new": 1,
        "cancelled": 1,
        "failed": 1,
        "churn_rate": Decimal("0.4000"),
        "active": 4,
        "paused": 1,
        "failed_now": 1,
        "mrr": Decimal("99.70"),  # 25.00 + 26.00 + 48.70; s7's GBP is not guessed
        "mrr_unconverted": 1,
    }
    assert report.breakdowns["channels"] == [
        {
            "channel": "shop",
            "active": 1,
            "paused": 0,
            "failed_now": 1,
            "mrr": Decimal("48.70"),
            "mrr_unconverted": 0,
            "live_at_start": 2,
            "new": 0,
            "cancelled": 0,
            "failed": 1,
            "churn_rate": Decimal("0.5000"),
        },
        {
            "channel": "web",
            "active": 3,
            "paused": 1,
            "failed_now": 0,
            "mrr": Decimal("51.00"),
            "mrr_unconverted": 1,
            "live_at_start": 3,
            "new": 1,
            "cancelled": 1,
            "failed": 0,
            "churn_rate": Decimal("0.3333"),
        },
    ]


def test_grouped_by_month_and_filtered_by_channel(seeded):
    from inventory.models import Channel

    report = build(group="month", channel=Channel.objects.get(code="shop"))
    assert len(report.rows) == 1
    row = report.rows[0]
    assert (row["live_at_start"], row["failed"], row["churn_rate"]) == (2, 1, Decimal("0.5000"))
    assert (report.totals["active"], report.totals["mrr"]) == (1, Decimal("48.70"))
    assert [b["channel"] for b in report.breakdowns["channels"]] == ["shop"]


def test_api_json_csv_and_the_admin_page(seeded):
    api = staff.api_client_of(staff.user_of(INTEGRATOR))
    body = api.get("/api/v1/reports/subscriptions/", MARCH).json()
    assert body["totals"]["mrr"] == "99.70"
    assert body["totals"]["churn_rate"] == "0.4000"
    assert [c["key"] for c in body["columns"]] == [
        "live_at_start",
        "new",
        "cancelled",
        "failed",
        "churn_rate",
    ]
    response = api.get("/api/v1/reports/subscriptions/", {**MARCH, "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["period", "live_at_start", "new", "cancelled", "failed", "churn_rate"]
    assert rows[2] == ["2025-03-04", "5", "1", "1", "0", "0.2000"]
    assert rows[-1] == ["total", "5", "1", "1", "1", "0.4000"]
    refused = api.get("/api/v1/reports/subscriptions/", {**MARCH, "location": "L1"})
    assert refused.status_code == 400
    browser = staff.admin_client_of(staff.user_of(WAREHOUSE))
    html = browser.get(
        reverse("admin:reports_subscriptionreport_changelist") + "?from=2025-03-03&to=2025-03-05"
    ).content.decode()
    assert "99.70" in html
    assert "40.0 %" in html
