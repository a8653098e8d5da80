"""What-if routing in the back office: a manager makes a draft from the live routing, edits
it, tries it on a past window (progress, then current against draft), and publishes it; the
other roles see none of it."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from inventory.models import Location
from oms.roles import CUSTOMER_CARE, MANAGER, WAREHOUSE
from reports.models import DraftLocation, RoutingDraft, WhatIfRun
from tests import staff
from tests.outbox import run_outbox
from tests.reports import whatif_history as h

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(db: Any) -> Any:
    h.seed()
    return staff.admin_client_of(staff.user_of(MANAGER))


def inline_post(draft: RoutingDraft, **changes: Any) -> dict[str, Any]:
    """The change form of a draft as the browser posts it, with `changes` (field -> value)."""
    settings = list(draft.locations.order_by("location__code"))
    data: dict[str, Any] = {
        "name": draft.name,
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "locations-TOTAL_FORMS": str(len(settings)),
        "locations-INITIAL_FORMS": str(len(settings)),
    }
    for n, s in enumerate(settings):
        data[f"locations-{n}-id"] = str(s.pk)
        data[f"locations-{n}-draft"] = str(draft.pk)
        if s.ships_online:
            data[f"locations-{n}-ships_online"] = "on"
    data.update(changes)
    return data


def test_a_manager_makes_tries_and_publishes_a_draft(manager):
    new = manager.post(reverse("admin:reports_routingdraft_new"), {"name": "No Hamburg"})
    draft = RoutingDraft.objects.get()
    assert new.status_code == 302
    assert new["Location"] == reverse("admin:reports_routingdraft_change", args=[draft.pk])
    page = manager.get(new["Location"]).content.decode()
    assert "Try on past orders" in page
    assert "Publish" in page

    # Switch HAM off in the draft's location settings (index 1: BER, HAM, MUC by code).
    ham = DraftLocation.objects.get(draft=draft, location__code="HAM")
    data = inline_post(draft)
    data.pop("locations-1-ships_online")
    saved = manager.post(reverse("admin:reports_routingdraft_change", args=[draft.pk]), data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    ham.refresh_from_db()
    assert ham.ships_online is False
    assert Location.objects.get(code="HAM").ships_online is True  # the live one is untouched

    tried = manager.post(
        reverse("admin:reports_routingdraft_try", args=[draft.pk]),
        {"start": "2025-03-03", "end": "2025-03-04"},
    )
    run = WhatIfRun.objects.get()
    assert tried["Location"] == reverse("admin:reports_whatifrun_change", args=[run.pk])
    waiting = manager.get(tried["Location"]).content.decode()
    assert "<progress" in waiting
    assert 'http-equiv="refresh"' in waiting

    run_outbox("reports.whatif_run")
    done = manager.get(tried["Location"]).content.decode()
    assert "<progress" not in done
    assert 'http-equiv="refresh"' not in done
    assert "Current rules against the draft" in done
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in done
    assert "Orders whose decision changed: 3" in done
    assert done.count('class="routing-explanation') == 6  # 3 orders x both explanations

    confirm = manager.get(reverse("admin:reports_routingdraft_publish", args=[draft.pk]))
    assert "Yes, publish" in confirm.content.decode()
    published = manager.post(reverse("admin:reports_routingdraft_publish", args=[draft.pk]))
    assert published.status_code == 302
    assert Location.objects.get(code="HAM").ships_online is False
    draft.refresh_from_db()
    assert draft.status == "published"
    # A published draft is read-only.
    again = manager.post(reverse("admin:reports_routingdraft_change", args=[draft.pk]), data)
    assert again.status_code == 403


def test_a_bad_window_is_shown_on_the_form(manager):
    manager.post(reverse("admin:reports_routingdraft_new"), {"name": "x"})
    draft = RoutingDraft.objects.get()
    response = manager.post(
        reverse("admin:reports_routingdraft_try", args=[draft.pk]),
        {"start": "2025-03-05", "end": "2025-03-04"},
    )
    assert response.status_code == 200
    assert "comes after" in response.content.decode()
    assert WhatIfRun.objects.count() == 0


def test_a_draft_rule_is_checked_like_a_routing_rule(manager):
    manager.post(reverse("admin:reports_routingdraft_new"), {"name": "x"})
    draft = RoutingDraft.objects.get()
    data = inline_post(
        draft,
        **{
            "rules-TOTAL_FORMS": "1",
            "rules-0-position": "1",
            "rules-0-name": "Priority without one",
            "rules-0-is_active": "on",
            "rules-0-kind": "priority",
            "rules-0-locations": [str(Location.objects.get(code="BER").pk)],
            "rules-0-countries": "de",
        },
    )
    response = manager.post(reverse("admin:reports_routingdraft_change", args=[draft.pk]), data)
    assert response.status_code == 200
    assert "A priority rule sets a priority" in response.content.decode()
    assert draft.rules.count() == 0
    data["rules-0-priority"] = "5"
    response = manager.post(reverse("admin:reports_routingdraft_change", args=[draft.pk]), data)
    assert response.status_code == 302
    rule = draft.rules.get()
    assert (rule.priority, rule.countries) == (5, "DE")


@pytest.mark.parametrize("role", [WAREHOUSE, CUSTOMER_CARE])
def test_other_roles_see_no_what_if(db, role):
    h.seed()
    draft = RoutingDraft.objects.create(name="x", based_on="x")
    client = staff.admin_client_of(staff.user_of(role))
    for url in (
        reverse("admin:reports_routingdraft_changelist"),
        reverse("admin:reports_routingdraft_new"),
        reverse("admin:reports_routingdraft_try", args=[draft.pk]),
        reverse("admin:reports_routingdraft_publish", args=[draft.pk]),
        reverse("admin:reports_whatifrun_changelist"),
    ):
        assert client.get(url).status_code == 403, url
    assert (
        client.post(reverse("admin:reports_routingdraft_publish", args=[draft.pk])).status_code
        == 403
    )
    assert "What-if" not in client.get(reverse("admin:index")).content.decode()
