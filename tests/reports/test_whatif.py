"""What-if routing on the hand-worked past of tests/reports/whatif_history.py: which orders
change and every figure of both sides, worked out here from the history's story (distances
by the test's own great-circle formula), never read back from the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps

from fulfilment.models import RoutingRule, RuleKind
from fulfilment.services import order_route
from fulfilment.services.routing_config import routing_config_get
from inventory.models import Location
from oms.errors import Conflict
from oms.models import OutboxMessage
from oms.roles import OMS_APPS
from reports.models import DraftRule, RunStatus, WhatIfRun
from reports.whatif import (
    routing_draft_create,
    routing_draft_publish,
    whatif_run_create,
    whatif_run_execute,
)
from tests.reports import whatif_history as h
from tests.reports.whatif_history import END, START, km, transit


@pytest.fixture
def past(db: Any) -> dict[str, Any]:
    return h.seed()


def oms_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of every OMS table: a what-if must leave them as they were."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for label in OMS_APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed
    }


def replay(past: dict[str, Any], **draft: Any) -> WhatIfRun:
    made = routing_draft_create(name="try", actor="tester", **draft)
    run = whatif_run_create(draft=made, start=START, end=END, actor="tester")
    return whatif_run_execute(run_id=run.pk)


def figures(
    picks: list[tuple[str, str | None, str | None]], short: dict[str, int], outcomes: dict
) -> dict[str, Any]:
    """The figures of one side from its decisions: (destination, location used or None,
    second location or None) per order, units short per order."""
    shipments = [(dest, loc) for dest, *used in picks for loc in used if loc]
    distances = [km(dest, loc) for dest, loc in shipments]
    per_order_days = [
        max(transit(km(dest, loc)) for loc in used if loc) for dest, *used in picks if any(used)
    ]
    per_location: dict[str, int] = {}
    for _, loc in shipments:
        per_location[loc] = per_location.get(loc, 0) + 1
    return {
        "orders": len(picks),
        "shipments": len(shipments),
        "average_distance_km": round(sum(distances) / len(distances), 1),
        "shipments_per_order": round(len(shipments) / len(picks), 2),
        "shipments_per_location": dict(sorted(per_location.items())),
        "average_delivery_days": round(sum(per_order_days) / len(per_order_days), 2),
        "backorders": len(short),
        "units_short": sum(short.values()),
        "outcomes": outcomes,
    }


# What the live rules decide in the window (the same every test): o1 Hamburg gets HAM's A,
# o2 Berlin BER (A and B), o3 Hamburg HAM's B (arrived at 12:00, before o3 at 13:00), o4
# Berlin 2 A: BER has 1 left, HAM (255 km) is nearer than MUC (1 free after p0's 9): HAM;
# o5's C is nowhere.
LIVE = [("HAM", "HAM", None), ("BER", "BER", None), ("HAM", "HAM", None)]
LIVE += [("BER", "HAM", None), ("MUC", None, None)]
LIVE_FIGURES = figures(LIVE, {"o5": 1}, {"none": 1, "single": 4})


def test_a_location_switched_off_changes_exactly_the_orders_it_served(past):
    ham = past["locations"]["HAM"]
    before = oms_rows()
    outbox = OutboxMessage.objects.count()

    run = replay(past, locations={ham.pk: {"ships_online": False}})

    assert run.status == RunStatus.SUCCEEDED
    assert (run.orders_done, run.orders_total) == (5, 5)  # ox cancelled, p0 and o6 outside
    # Without HAM: o1 Hamburg -> BER (255 km, MUC is 612); o2 Berlin -> BER (its own
    # reservation at BER in the ledger is not counted: the replay makes its own); o3 Hamburg
    # -> BER (B 4 left); o4 Berlin: BER has no A left, MUC 1 of 2: partial, 1 short.
    draft = [("HAM", "BER", None), ("BER", "BER", None), ("HAM", "BER", None)]
    draft += [("BER", "MUC", None), ("MUC", None, None)]
    result = run.result
    assert result["orders"] == 5
    assert result["current"] == LIVE_FIGURES
    assert result["draft"] == figures(
        draft, {"o4": 1, "o5": 1}, {"none": 1, "partial": 1, "single": 3}
    )
    assert result["changed_count"] == 3
    changed = {c["number"]: c for c in result["changed"]}
    assert set(changed) == {"o1", "o3", "o4"}
    assert changed["o1"]["current"]["shipments"] == {"HAM": 1}
    assert changed["o1"]["draft"]["shipments"] == {"BER": 1}
    assert changed["o4"]["current"]["outcome"] == "single"
    assert changed["o4"]["draft"]["outcome"] == "partial"
    assert changed["o4"]["draft"]["shipments"] == {"MUC": 1}
    # Both explanations, as routing writes them: the current one chose HAM; the draft's has
    # no HAM (not a candidate any more) and shows the stock of that time.
    now, then = changed["o3"]["current"]["explanation"], changed["o3"]["draft"]["explanation"]
    assert {r["location"]: r["status"] for r in now["candidates"]}["HAM"] == "chosen"
    statuses = {r["location"]: r for r in then["candidates"]}
    assert set(statuses) == {"BER", "MUC"}
    assert statuses["BER"]["status"] == "chosen"
    assert statuses["BER"]["available"] == {"B": 4}
    assert statuses["BER"]["distance_km"] == km("HAM", "BER")
    assert then["trigger"] == "what-if"
    # Nothing of the OMS was written: no order, line, stock, movement, shipment, decision,
    # timeline entry or outbox message (beyond the run's own task).
    assert oms_rows() == before
    assert OutboxMessage.objects.count() == outbox + 1


def test_a_capacity_changed_counts_each_day_of_the_replay(past):
    ham = past["locations"]["HAM"]
    run = replay(past, locations={ham.pk: {"daily_capacity": 1}})

    # HAM ships one order a day: on 3 March o1 takes it, so o3 (Hamburg, B) goes to BER; on
    # 4 March the count starts again and o4 still gets HAM.
    assert run.result["changed_count"] == 1
    (change,) = run.result["changed"]
    assert change["number"] == "o3"
    assert change["draft"]["shipments"] == {"BER": 2}
    rows = {r["location"]: r["status"] for r in change["draft"]["explanation"]["candidates"]}
    assert rows["HAM"] == "rejected: capacity full (1/1 shipments today)"
    draft = list(LIVE)
    draft[2] = ("HAM", "BER", None)
    assert run.result["current"] == LIVE_FIGURES
    assert run.result["draft"] == figures(draft, {"o5": 1}, {"none": 1, "single": 4})


def test_a_drafted_rule_is_read_as_routing_reads_live_rules(past):
    ber = past["locations"]["BER"]
    rules = [
        {
            "position": 10,
            "name": "No Berlin for web",
            "is_active": True,
            "channel": past["web"],
            "countries": "DE",
            "kind": RuleKind.EXCLUDE,
            "locations": [ber],
        },
        {  # switched off in the draft: routing does not read it
            "position": 1,
            "name": "Hamburg only (off)",
            "is_active": False,
            "kind": RuleKind.ONLY,
            "locations": [past["locations"]["HAM"]],
        },
    ]
    run = replay(past, rules=rules)

    # Without BER: o1 HAM; o2 Berlin wants A and B: HAM has no B yet (it arrives at 12:00),
    # MUC has 1 A and B: MUC; o3 HAM's B; o4 Berlin 2 A: HAM (4 left) is nearest.
    assert [c["number"] for c in run.result["changed"]] == ["o2"]
    explanation = run.result["changed"][0]["draft"]["explanation"]
    assert explanation["rules"] == ["No Berlin for web"]
    rows = {r["location"]: r["status"] for r in explanation["candidates"]}
    assert rows["BER"] == "rejected: excluded by rule “No Berlin for web”"
    draft = list(LIVE)
    draft[1] = ("BER", "MUC", None)
    assert run.result["draft"] == figures(draft, {"o5": 1}, {"none": 1, "single": 4})


def test_a_split_policy_changed_in_a_draft(past):
    # o7 (4 March 12:00, Hamburg) wants 2 A and 2 B. By then HAM has A 2 (5 - o1 - o4) and
    # B 1 (3 - o3), BER A 1 and B 4, MUC A 1 and B 10: no location has both. Live, routing
    # splits: the cheapest pair is HAM (A) + BER (B). A draft that never splits ships from
    # one location what it can: HAM's 2 A and 1 B, 1 B short.
    order = h._order(past["web"], "o7", h.at(4, 12), "HAM")
    h._lines(order, A=2, B=2)
    never = [{"name": "Never split", "kind": RuleKind.SPLITS, "allow_split": False}]
    run = replay(past, rules=never)

    changed = {c["number"]: c for c in run.result["changed"]}
    assert set(changed) == {"o7"}
    assert changed["o7"]["current"]["outcome"] == "split"
    assert changed["o7"]["current"]["shipments"] == {"BER": 2, "HAM": 2}
    assert changed["o7"]["draft"]["outcome"] == "partial"
    assert changed["o7"]["draft"]["shipments"] == {"HAM": 3}
    assert changed["o7"]["draft"]["explanation"]["max_shipments"] == 1
    assert changed["o7"]["draft"]["explanation"]["short"][0]["quantity"] == 1
    current, draft = run.result["current"], run.result["draft"]
    assert current["shipments_per_order"] == round(6 / 6, 2)  # 4 single, o7 split, o5 none
    assert draft["shipments_per_order"] == round(5 / 6, 2)
    assert (current["backorders"], draft["backorders"]) == (1, 2)
    assert (current["units_short"], draft["units_short"]) == (1, 2)


def test_publishing_makes_the_draft_live_at_once(past):
    ham = past["locations"]["HAM"]
    rules = [
        {"name": "Ship complete", "kind": RuleKind.SPLITS, "max_splits": 1},
        {"name": "Kept off", "kind": RuleKind.EXCLUDE, "is_active": False, "locations": [ham]},
    ]
    draft = routing_draft_create(
        name="publish", actor="tester", rules=rules, locations={ham.pk: {"ships_online": False}}
    )
    assert RoutingRule.objects.count() == 0

    published = routing_draft_publish(draft_id=draft.pk, actor="manager")

    assert published.status == "published"
    assert published.published_by == "manager"
    live = routing_config_get()
    assert [(r.name, r.kind, r.max_splits, r.is_active, r.location_ids) for r in live.rules] == [
        ("Ship complete", "splits", 1, True, ()),
        ("Kept off", "exclude", None, False, (ham.pk,)),
    ]
    assert Location.objects.get(pk=ham.pk).ships_online is False
    assert live.locations[ham.pk].ships_online is False
    # Routing reads the new configuration at once: a new Hamburg order goes to BER now.
    order = h._order(past["web"], "new", h.at(4, 9), "HAM")
    h._lines(order, B=1)
    from inventory import services as stock

    stock.stock_adjust(sku=past["skus"]["B"], location=ham, kind="receipt", quantity=5)
    stock.stock_adjust(
        sku=past["skus"]["B"], location=past["locations"]["BER"], kind="receipt", quantity=5
    )
    decision = order_route(order_id=order.pk, trigger="test")
    assert decision is not None
    assert {r["location"] for r in decision.explanation["candidates"]} == {"BER", "MUC"}
    # Publishing again answers the same draft and changes nothing.
    again = routing_draft_publish(draft_id=draft.pk, actor="someone else")
    assert again.published_by == "manager"
    assert routing_config_get() == live


def test_a_stale_draft_is_not_published(past):
    draft = routing_draft_create(name="stale", actor="tester")
    RoutingRule.objects.create(name="Made meanwhile", kind=RuleKind.SPLITS, max_splits=2)
    live = routing_config_get()

    with pytest.raises(Conflict) as failure:
        routing_draft_publish(draft_id=draft.pk, actor="manager")

    assert failure.value.code == "routing_config_changed"
    assert routing_config_get() == live
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_draft_copies_the_live_rules_and_locations(past):
    rule = RoutingRule.objects.create(
        name="Munich last", kind=RuleKind.PRIORITY, priority=99, position=5
    )
    rule.locations.set([past["locations"]["MUC"]])
    draft = routing_draft_create(name="copy", actor="tester")
    (copied,) = DraftRule.objects.filter(draft=draft)
    assert (copied.name, copied.kind, copied.priority, copied.position) == (
        "Munich last",
        "priority",
        99,
        5,
    )
    assert [loc.code for loc in copied.locations.all()] == ["MUC"]
    assert {d.location.code: d.ships_online for d in draft.locations.all()} == {
        "BER": True,
        "HAM": True,
        "MUC": True,
    }
    # Replayed unchanged, the draft decides as the live rules do.
    run = whatif_run_execute(
        run_id=whatif_run_create(draft=draft, start=START, end=END, actor="t").pk
    )
    assert run.result["changed_count"] == 0
    assert run.result["current"] == run.result["draft"]


def test_a_run_is_safe_to_run_twice(past):
    run = replay(past, locations={past["locations"]["HAM"].pk: {"ships_online": False}})
    first = dict(run.result)
    WhatIfRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, orders_done=2)
    again = whatif_run_execute(run_id=run.pk)  # a worker died mid-run: it starts over
    assert again.result == first
    assert whatif_run_execute(run_id=run.pk).finished_at == again.finished_at  # done: as is


def test_the_replay_reports_its_progress(past):
    from fulfilment.services.routing_replay import (
        orders_replay,
        rule_set_of,
        stock_replay,
        window_orders,
    )
    from reports.whatif import _window

    run = WhatIfRun(start=START, end=END)
    start, end = _window(run)
    orders = window_orders(start=start, end=end)
    assert [o.order.number for o in orders] == ["o1", "o2", "o3", "o4", "o5"]
    seen: list[int] = []
    live = rule_set_of(channel_ids=[past["web"].pk])
    stock = stock_replay(start=start, end=end, orders=orders)
    replayed = list(
        orders_replay(orders=orders, stock=stock, rule_sets=[live], progress=seen.append, every=2)
    )
    assert len(replayed) == 5
    assert seen == [2, 4, 5]


def test_a_run_that_gave_up_is_marked_failed(past):
    from reports.tasks import whatif_run

    made = routing_draft_create(name="x", actor="t")
    run = whatif_run_create(draft=made, start=START, end=END, actor="t")
    whatif_run.give_up({"run_id": run.pk}, "the workers died")  # the outbox's last word
    run.refresh_from_db()
    assert (run.status, run.error) == (RunStatus.FAILED, "the workers died")
    assert whatif_run_execute(run_id=run.pk).status == RunStatus.FAILED  # not replayed again
