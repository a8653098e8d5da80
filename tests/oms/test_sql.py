"""oms.sql.rows_update: bulk_update's result in one UPDATE ... FROM (VALUES ...) per chunk."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Location
from oms import sql
from tests.factories import LocationFactory


def test_each_row_gets_its_own_values_of_every_type(db):
    a, b, untouched = LocationFactory(), LocationFactory(), LocationFactory(name="Kept")
    when = timezone.now().replace(microsecond=123456) - dt.timedelta(days=3)
    a.name, a.latitude, a.daily_capacity, a.is_active, a.updated_at = (
        "Änderung 'quoted'",
        Decimal("52.520008"),
        None,
        False,
        when,
    )
    b.name, b.latitude, b.daily_capacity, b.is_active, b.updated_at = (
        "B",
        None,
        40,
        True,
        when + dt.timedelta(hours=1),
    )
    a.longitude, b.longitude = Decimal("13.404954"), None
    fields = ["name", "latitude", "longitude", "daily_capacity", "is_active", "updated_at"]
    with CaptureQueriesContext(connection) as queries:
        assert sql.rows_update(Location, [a, b], fields) == 2
    assert len(queries.captured_queries) == 1
    got = {loc.pk: loc for loc in Location.objects.all()}
    assert [getattr(got[a.pk], f) for f in fields] == [
        "Änderung 'quoted'",
        Decimal("52.520008"),
        Decimal("13.404954"),
        None,
        False,
        when,
    ]
    assert [getattr(got[b.pk], f) for f in fields] == [
        "B",
        None,
        None,
        40,
        True,
        when + dt.timedelta(hours=1),
    ]
    assert got[untouched.pk].name == "Kept"


def test_many_rows_are_written_in_chunks_and_the_last_copy_of_an_object_wins(db, monkeypatch):
    monkeypatch.setattr(sql, "MAX_PARAMS", 6)  # 3 rows of (id, name) per statement
    locations = [LocationFactory() for _ in range(7)]
    for n, loc in enumerate(locations):
        loc.name = f"L{n}"
    twice = Location.objects.get(pk=locations[0].pk)
    twice.name = "last"
    with CaptureQueriesContext(connection) as queries:
        assert sql.rows_update(Location, [*locations, twice], ["name"]) == 7
    assert len(queries.captured_queries) == 3
    names = dict(Location.objects.values_list("pk", "name"))
    assert [names[loc.pk] for loc in locations] == ["last", *[f"L{n}" for n in range(1, 7)]]


def test_nothing_to_write_runs_no_statement(db):
    with CaptureQueriesContext(connection) as queries:
        assert sql.rows_update(Location, [], ["name"]) == 0
    assert queries.captured_queries == []
