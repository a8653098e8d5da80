"""What-if routing through the API: drafts, runs (enqueued, polled, replayed by the task) and
publication; bad input is a 400 problem that makes nothing; managers only."""

from __future__ import annotations

from typing import Any

import pytest

from fulfilment.models import RoutingRule
from inventory.models import Location
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE
from reports.models import RoutingDraft, WhatIfRun
from tests import staff
from tests.outbox import queued, run_outbox
from tests.reports import whatif_history as h

pytestmark = pytest.mark.django_db


@pytest.fixture
def past(db: Any) -> dict[str, Any]:
    return h.seed()


@pytest.fixture
def api(past):
    return staff.api_client_of(staff.user_of(MANAGER))


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def test_a_draft_is_made_tried_polled_and_published(api, past):
    made = api.post(
        "/api/v1/routing-drafts/",
        {"name": "No Hamburg", "locations": [{"location": "HAM", "ships_online": False}]},
        format="json",
    )
    assert made.status_code == 201, made.content
    draft = made.json()
    assert draft["status"] == "draft"
    assert draft["rules"] == []
    assert {d["location"]: d["ships_online"] for d in draft["locations"]} == {
        "BER": True,
        "HAM": False,
        "MUC": True,
    }

    started = api.post(
        "/api/v1/whatif-runs/",
        {"draft": draft["id"], "from": "2025-03-03", "to": "2025-03-04"},
        format="json",
    )
    assert started.status_code == 202, started.content
    run = started.json()
    assert (run["status"], run["from"], run["to"]) == ("queued", "2025-03-03", "2025-03-04")
    assert run["progress"] == {"done": 0, "total": 0, "percent": 0}
    assert run["result"] is None
    assert queued("reports.whatif_run") == [("reports.whatif_run", {"run_id": run["id"]})]

    assert run_outbox("reports.whatif_run") == 1  # the worker replays it
    polled = api.get(f"/api/v1/whatif-runs/{run['id']}/").json()
    assert polled["status"] == "succeeded"
    assert polled["progress"] == {"done": 5, "total": 5, "percent": 100}
    assert polled["result"]["changed_count"] == 3
    assert [c["number"] for c in polled["result"]["changed"]] == ["o1", "o3", "o4"]
    listed = api.get("/api/v1/whatif-runs/").json()["results"]
    assert [(r["id"], r["result"]) for r in listed] == [(run["id"], None)]  # lists leave it out

    published = api.post(f"/api/v1/routing-drafts/{draft['id']}/publish/", format="json")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert Location.objects.get(code="HAM").ships_online is False


def test_a_draft_with_rules_of_its_own(api, past):
    rules = [
        {"name": "Never split", "kind": "splits", "allow_split": False, "position": 5},
        {"name": "No Berlin", "kind": "exclude", "locations": ["BER"], "countries": "de, at"},
    ]
    made = api.post("/api/v1/routing-drafts/", {"name": "Rules", "rules": rules}, format="json")
    assert made.status_code == 201, made.content
    got = api.get(f"/api/v1/routing-drafts/{made.json()['id']}/").json()
    assert [(r["name"], r["kind"], r["locations"], r["countries"]) for r in got["rules"]] == [
        ("Never split", "splits", [], ""),
        ("No Berlin", "exclude", ["BER"], "AT,DE"),
    ]
    assert got["rules"][0]["allow_split"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        (
            {"name": "x", "rules": [{"name": "r", "kind": "priority", "locations": ["BER"]}]},
            "rules.0.priority",
        ),
        ({"name": "x", "rules": [{"name": "r", "kind": "exclude"}]}, "rules.0.locations"),
        ({"name": "x", "rules": [{"name": "r", "kind": "splits"}]}, "rules.0"),
        ({"name": "x", "rules": [{"name": "r", "kind": "teleport"}]}, "rules.0.kind"),
        (
            {
                "name": "x",
                "rules": [{"name": "r", "kind": "serves", "locations": ["BER"], "countries": "XX"}],
            },
            "rules.0.countries",
        ),
        (
            {"name": "x", "rules": [{"name": "r", "kind": "only", "locations": ["NOPE"]}]},
            "rules.0.locations",
        ),
        ({"name": "x", "locations": [{"location": "NOPE"}]}, "locations.0.location"),
        (
            {"name": "x", "locations": [{"location": "BER", "daily_capacity": -1}]},
            "locations.0.daily_capacity",
        ),
        ({"name": "x", "locations": [{"location": "BER"}, {"location": "BER"}]}, "locations"),
        ({"name": "x", "rules": "all of them"}, "rules"),
        ({"name": 0}, "name"),
        (
            {"name": "x", "rules": [{"name": "r", "kind": "splits", "allow_split": "no"}]},
            "rules.0.allow_split",
        ),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_draft_is_a_400_problem_and_makes_nothing(api, body, field):
    response = api.post("/api/v1/routing-drafts/", body, format="json")
    assert field in problem(response, 400)["errors"], response.json()
    assert RoutingDraft.objects.count() == 0


def test_a_switched_off_location_outside_the_active_ones_is_refused(api, past):
    Location.objects.filter(code="MUC").update(is_active=False)
    response = api.post(
        "/api/v1/routing-drafts/",
        {"name": "x", "locations": [{"location": "MUC", "ships_online": True}]},
        format="json",
    )
    body = problem(response, 400)
    assert list(body["errors"]) == ["locations.0.location"]
    assert RoutingDraft.objects.count() == 0


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"from": "2025-03-05", "to": "2025-03-04"}, "from"),
        ({"from": "2020-01-01", "to": "2025-03-04"}, "from"),
        ({"from": "2025-03-03", "to": "2999-01-01"}, "to"),
        ({"from": "yesterday", "to": "2025-03-04"}, "from"),
        ({"to": "2025-03-04"}, "from"),
    ],
)
def test_a_bad_window_is_a_400_problem_and_enqueues_nothing(api, window, field):
    draft = api.post("/api/v1/routing-drafts/", {"name": "x"}, format="json").json()
    response = api.post("/api/v1/whatif-runs/", {"draft": draft["id"], **window}, format="json")
    assert field in problem(response, 400)["errors"]
    assert WhatIfRun.objects.count() == 0
    assert queued("reports.whatif_run") == []


def test_an_unknown_draft_or_run_is_a_problem(api):
    response = api.post(
        "/api/v1/whatif-runs/",
        {"draft": 999, "from": "2025-03-03", "to": "2025-03-04"},
        format="json",
    )
    assert "draft" in problem(response, 400)["errors"]
    problem(api.get("/api/v1/whatif-runs/999/"), 404)
    problem(api.post("/api/v1/routing-drafts/999/publish/", format="json"), 404)


def test_a_stale_draft_is_a_409_problem(api, past):
    draft = api.post("/api/v1/routing-drafts/", {"name": "x"}, format="json").json()
    RoutingRule.objects.create(name="Meanwhile", kind="splits", max_splits=2)
    response = api.post(f"/api/v1/routing-drafts/{draft['id']}/publish/", format="json")
    assert problem(response, 409)["code"] == "routing_config_changed"
    assert RoutingDraft.objects.get(pk=draft["id"]).status == "draft"
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["Meanwhile"]


@pytest.mark.parametrize("role", [WAREHOUSE, CUSTOMER_CARE, INTEGRATOR])
def test_only_managers_see_or_command_what_if(past, role):
    draft = RoutingDraft.objects.create(name="theirs", based_on="x")
    client = staff.api_client_of(staff.user_of(role))
    for response in (
        client.get("/api/v1/routing-drafts/"),
        client.get("/api/v1/whatif-runs/"),
        client.post("/api/v1/routing-drafts/", {"name": "x"}, format="json"),
        client.post(f"/api/v1/routing-drafts/{draft.pk}/publish/", format="json"),
        client.post(
            "/api/v1/whatif-runs/",
            {"draft": draft.pk, "from": "2025-03-03", "to": "2025-03-04"},
            format="json",
        ),
    ):
        assert problem(response, 403)["code"] == "permission_denied"
    assert RoutingDraft.objects.count() == 1
    assert WhatIfRun.objects.count() == 0
