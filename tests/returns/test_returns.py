"""Returns: eligibility, the state machine, receiving with disposition, through services and API."""

from __future__ import annotations

import itertools

import pytest

from inventory.models import StockLevel, StockMovement
from inventory.selectors import ledger_drift
from oms.errors import InvalidTransition, ValidationFailed
from oms.states import assert_transition
from returns import services
from returns.models import ReturnLine, ReturnRequest
from returns.states import TRANSITIONS, ReturnStatus


def _create(o, lines, **kw):
    return services.return_create(
        order=o,
        lines=[{"order_line": ln.pk, "quantity": q, "reason": r} for ln, q, r in lines],
        **kw,
    )


ALLOWED = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(ReturnStatus.values, ReturnStatus.values))
)
def test_every_transition_pair(current, target):
    if (current, target) in ALLOWED:
        assert_transition(TRANSITIONS, current, target, what="Return")
    else:
        with pytest.raises(InvalidTransition):
            assert_transition(TRANSITIONS, current, target, what="Return")


def test_cancel_only_before_anything_received():
    assert ReturnStatus.CANCELLED in TRANSITIONS[ReturnStatus.AUTHORISED]
    assert ReturnStatus.CANCELLED not in TRANSITIONS[ReturnStatus.PARTIALLY_RECEIVED]
    assert ReturnStatus.CANCELLED not in TRANSITIONS[ReturnStatus.RECEIVED]


def test_eligibility_counts_shipped_minus_requested(shipped):
    o, lines = shipped
    _create(o, [(lines["A"], 1, "changed_mind")])
    with pytest.raises(ValidationFailed) as err:
        _create(o, [(lines["B"], 1, "damaged"), (lines["A"], 2, "changed_mind")])
    assert set(err.value.errors) == {"lines.1.quantity"}
    assert ReturnRequest.objects.count() == 1
    # A cancelled return frees its quantities again.
    first = ReturnRequest.objects.get()
    services.return_cancel(return_request=first)
    second = _create(o, [(lines["A"], 2, "changed_mind")])
    assert second.lines.get().quantity == 2


def test_unshipped_lines_cannot_be_returned(network, reasons):
    from tests.fulfilment.conftest import order, put

    put(network, "BER", "A", 5)
    o = order("HAMBURG", {"A": 1})
    line = o.lines.get()
    with pytest.raises(ValidationFailed) as err:
        _create(o, [(line, 1, "damaged")])
    assert "lines.0.quantity" in err.value.errors


def test_transitions_are_replay_safe_and_logged(shipped):
    o, lines = shipped
    ret = _create(o, [(lines["A"], 1, "changed_mind")])
    services.return_authorise(return_request=ret)
    services.return_authorise(return_request=ret.pk)  # replay
    assert o.events.filter(kind="return_authorised").count() == 1
    with pytest.raises(InvalidTransition):
        services.return_reject(return_request=ret)


def test_receiving_restocks_sellable_and_quarantines_damaged(shipped, network):
    o, lines = shipped
    ret = _create(o, [(lines["A"], 2, "changed_mind"), (lines["B"], 1, "damaged")])
    services.return_authorise(return_request=ret)
    assert not StockLevel.objects.filter(location__code="MUC", on_hand__gt=0).exists()
    ret = services.return_receive(
        return_request=ret,
        location="MUC",
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "condition": "sellable"}],
    )
    assert ret.status == ReturnStatus.PARTIALLY_RECEIVED
    with pytest.raises(InvalidTransition):
        services.return_cancel(return_request=ret)
    with pytest.raises(ValidationFailed) as err:
        services.return_receive(
            return_request=ret,
            location="MUC",
            lines=[{"order_line": lines["A"].pk, "quantity": 2, "condition": "sellable"}],
        )
    assert "lines.0.quantity" in err.value.errors
    ret = services.return_receive(
        return_request=ret,
        location="MUC",
        lines=[
            {"order_line": lines["A"].pk, "quantity": 1, "condition": "sellable"},
            {"order_line": lines["B"].pk, "quantity": 1, "condition": "damaged"},
        ],
    )
    assert ret.status == ReturnStatus.RECEIVED
    a = StockLevel.objects.get(sku__code="A", location__code="MUC")
    b = StockLevel.objects.get(sku__code="B", location__code="MUC")
    assert (a.on_hand, a.quarantined) == (2, 0)
    assert (b.on_hand, b.quarantined) == (0, 1)
    assert StockMovement.objects.filter(kind="return_restock", return_id=ret.pk).count() == 2
    for line in lines.values():
        line.refresh_from_db()
    assert (lines["A"].quantity_returned, lines["B"].quantity_returned) == (2, 1)
    line_b = ReturnLine.objects.get(return_request=ret, order_line=lines["B"])
    assert (line_b.quantity_received, line_b.quantity_damaged) == (1, 1)
    assert ledger_drift() == []
    assert o.events.filter(kind="return_received").count() == 2


def test_receiving_needs_authorisation(shipped):
    o, lines = shipped
    ret = _create(o, [(lines["A"], 1, "changed_mind")])
    with pytest.raises(InvalidTransition):
        services.return_receive(
            return_request=ret,
            location="BER",
            lines=[{"order_line": lines["A"].pk, "quantity": 1, "condition": "sellable"}],
        )


# --- API -----------------------------------------------------------------------------------


def test_api_create_over_eligible_is_400_naming_the_line(care_api, shipped):
    o, lines = shipped
    response = care_api.post(
        "/api/v1/returns/",
        {
            "order": o.pk,
            "lines": [{"order_line": lines["A"].pk, "quantity": 3, "reason": "changed_mind"}],
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert "lines.0.quantity" in str(response.json())


def test_api_full_flow(care_api, warehouse_api, shipped):
    o, lines = shipped
    created = care_api.post(
        "/api/v1/returns/",
        {
            "order": o.pk,
            "lines": [{"order_line": lines["A"].pk, "quantity": 2, "reason": "changed_mind"}],
            "comment": "too big",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "requested"
    assert body["lines"][0]["reason"] == "changed_mind"
    url = f"/api/v1/returns/{body['id']}"
    assert care_api.post(f"{url}/authorise/").json()["status"] == "authorised"
    rejected = care_api.post(f"{url}/reject/", {"reason": "late"}, format="json")
    assert rejected.status_code == 409
    assert rejected.json()["code"] == "invalid_transition"
    received = warehouse_api.post(
        f"{url}/receive/",
        {
            "location": "BER",
            "lines": [{"order_line": lines["A"].pk, "quantity": 2, "condition": "sellable"}],
        },
        format="json",
    )
    assert received.status_code == 200, received.json()
    assert received.json()["status"] == "received"
    listed = care_api.get(f"/api/v1/returns/?order={o.pk}")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["results"]] == [body["id"]]
    assert ledger_drift() == []


def test_api_cancel_and_unknown_field(care_api, shipped):
    o, lines = shipped
    ret = _create(o, [(lines["B"], 1, "damaged")])
    assert care_api.post(f"/api/v1/returns/{ret.pk}/cancel/").json()["status"] == "cancelled"
    again = care_api.post(f"/api/v1/returns/{ret.pk}/authorise/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    bad = care_api.post(f"/api/v1/returns/{ret.pk}/cancel/", {"nope": 1}, format="json")
    assert bad.status_code == 400


def test_api_requires_authentication(anonymous_api, db):
    assert anonymous_api.get("/api/v1/returns/").status_code in (401, 403)
    assert anonymous_api.get("/api/v1/refunds/").status_code in (401, 403)


def test_api_unknown_order_is_404(care_api, reasons):
    response = care_api.post(
        "/api/v1/returns/",
        {"order": 999999, "lines": [{"order_line": 1, "quantity": 1, "reason": "damaged"}]},
        format="json",
    )
    assert response.status_code == 404


def test_api_list_query_count(care_api, shipped, django_assert_max_num_queries):
    o, lines = shipped
    for line in lines.values():
        _create(o, [(line, 1, "damaged")])
    with django_assert_max_num_queries(8):
        response = care_api.get("/api/v1/returns/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
