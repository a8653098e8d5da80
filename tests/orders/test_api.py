"""The orders API (API.md, "Orders"): capture, the order payload, problem JSON, filters and
search, the commands, the timeline, permissions, idempotency keys and query counts."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import StockLevel
from oms.roles import CUSTOMER_CARE, MANAGER, WAREHOUSE
from orders.models import Customer, Order, OrderEvent, OrderLine
from tests.factories import ChannelFactory, SkuFactory
from tests.orders.conftest import PAYLOAD

URL = "/api/v1/orders/"
PROBLEM = "application/problem+json"

ORDER_FIELDS = {
    "id",
    "number",
    "channel",
    "external_id",
    "status",
    "payment_status",
    "hold_reasons",
    "currency",
    "subtotal",
    "shipping_price",
    "tax_total",
    "discount_total",
    "total",
    "base_currency",
    "total_base",
    "customer",
    "shipping_address",
    "lines",
    "shipments",
    "tracking_url",
    "created_at",
    "updated_at",
}
LINE_FIELDS = {
    "id",
    "sku",
    "quantity",
    "unit_price",
    "quantity_allocated",
    "quantity_shipped",
    "quantity_cancelled",
    "quantity_returned",
}


# The role clients, with the orders permissions granted (see the first test for why).
@pytest.fixture
def manager(orders_roles_granted, manager_api):
    return manager_api


@pytest.fixture
def care(orders_roles_granted, care_api):
    return care_api


@pytest.fixture
def warehouse(orders_roles_granted, warehouse_api):
    return warehouse_api


@pytest.fixture
def integrator(orders_roles_granted, integrator_api):
    return integrator_api


def payload(**changes):
    data = copy.deepcopy(PAYLOAD)
    data.update(changes)
    return data


def detail(order_id: int) -> str:
    return f"{URL}{order_id}/"


def external_ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {o["external_id"] for o in response.json()["results"]}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


# --- roles ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_migrate_grants_the_roles_the_permissions_of_new_order_models():
    from django.apps import apps
    from django.contrib.auth.models import Permission
    from django.core.management.sql import emit_post_migrate_signal

    # The database before a release that adds the orders models: no permission rows for them.
    Permission.objects.filter(content_type__app_label="orders").delete()
    # What `migrate` does once the release's migrations have run.
    emit_post_migrate_signal(0, False, connection.alias, apps=apps, plan=[])

    assert Permission.objects.filter(content_type__app_label="orders").exists()
    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert {"view_order", "add_order", "change_order"} <= perms[CUSTOMER_CARE]
    assert "view_order" in perms[WAREHOUSE]
    assert "change_order" not in perms[WAREHOUSE]
    assert {"view_order", "change_order", "delete_order"} <= perms[MANAGER]


# --- capture -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_post_creates_the_order_201(catalogue, integrator):
    response = integrator.post(URL, PAYLOAD, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= ORDER_FIELDS
    assert body["total"] == "53.75"
    assert body["lines"][0]["unit_price"] == "19.95"
    assert Order.objects.get().pk == body["id"]


@pytest.mark.django_db
def test_post_the_same_channel_order_twice_gives_201_then_200(catalogue, integrator):
    first = integrator.post(URL, PAYLOAD, format="json")
    second = integrator.post(URL, PAYLOAD, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_post_a_yen_order(catalogue, integrator):
    ChannelFactory(code="jp", currency="JPY")
    body = payload(channel="jp", currency="JPY", external_id="J-1", shipping_price="500")
    body["lines"] = [{"sku": "TEE-1", "quantity": 2, "unit_price": "1980"}]
    response = integrator.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "4460"


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_capture(catalogue, integrator):
    first = integrator.post(URL, PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="cap-1")
    second = integrator.post(URL, PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="cap-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_post_of_an_order_already_captured_returns_it_with_200(capture_order, integrator):
    order = capture_order(external_id="1001")  # e.g. captured by a connector first
    response = integrator.post(URL, PAYLOAD, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == order.pk
    assert Order.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (payload(lines=[]), "lines"),
        ({k: v for k, v in PAYLOAD.items() if k != "lines"}, "lines"),
        (
            payload(lines=[{"sku": "TEE-1", "quantity": 0, "unit_price": "1.00"}]),
            "lines.0.quantity",
        ),
        (
            payload(lines=[{"sku": "TEE-1", "quantity": -2, "unit_price": "1.00"}]),
            "lines.0.quantity",
        ),
        (
            payload(lines=[{"sku": "TEE-1", "quantity": 1, "unit_price": "19.999"}]),
            "lines.0.unit_price",
        ),
        (
            payload(lines=[{"sku": "TEE-1", "quantity": 1, "unit_price": "-1.00"}]),
            "lines.0.unit_price",
        ),
        (payload(lines=[{"sku": "TEE-1", "quantity": 1}]), "lines.0.unit_price"),
        (payload(channel="nope"), "channel"),
        (payload(currency="ZZZ"), "currency"),
        (payload(currency="EURO"), "currency"),
        (payload(colour="red"), "colour"),
        (payload(customer={"email": "a@example.com", "colour": "red"}), "customer.colour"),
        (payload(payment_status="maybe"), "payment_status"),
        (payload(customer={"email": "not an e-mail"}), "customer.email"),
    ],
    ids=[
        "no-lines",
        "missing-lines",
        "quantity-0",
        "quantity-negative",
        "three-decimals-eur",
        "negative-price",
        "missing-price",
        "unknown-channel",
        "unknown-currency",
        "long-currency",
        "unknown-field",
        "unknown-nested-field",
        "unknown-payment-status",
        "bad-email",
    ],
)
def test_bad_input_is_400_problem_json_naming_the_field_and_writes_nothing(
    catalogue, integrator, body, field
):
    response = integrator.post(URL, body, format="json")
    problem = assert_problem(response, 400, "invalid")
    assert field in problem["errors"], problem
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_malformed_json_is_400(catalogue, integrator):
    response = integrator.post(URL, data='{"channel": "web", ', content_type="application/json")
    assert_problem(response, 400, "parse_error")
    assert not Order.objects.exists()


# --- the order payload ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_has_the_documented_fields_and_money_as_strings(capture_order, manager):
    order = capture_order(payment_status="pending")
    body = manager.get(detail(order.pk)).json()
    assert set(body) >= ORDER_FIELDS
    assert {
        k: body[k]
        for k in (
            "id",
            "number",
            "channel",
            "external_id",
            "status",
            "payment_status",
            "hold_reasons",
            "currency",
            "subtotal",
            "shipping_price",
            "tax_total",
            "discount_total",
            "total",
            "base_currency",
            "total_base",
            "shipments",
            "tracking_url",
        )
    } == {
        "id": order.pk,
        "number": order.number,
        "channel": "web",
        "external_id": order.external_id,
        "status": "pending",
        "payment_status": "pending",
        "hold_reasons": ["payment_pending"],
        "currency": "EUR",
        "subtotal": "49.80",
        "shipping_price": "4.95",
        "tax_total": "0.00",
        "discount_total": "1.00",
        "total": "53.75",
        "base_currency": "EUR",
        "total_base": "53.75",  # the base currency's order: converted when captured
        "shipments": [],
        "tracking_url": f"http://testserver/track/{order.tracking_token}/",
    }
    assert body["customer"]["email"] == "anna.schmidt@example.com"
    assert body["shipping_address"]["country"] == "DE"
    assert [set(line) >= LINE_FIELDS for line in body["lines"]] == [True, True]
    assert [
        (ln["sku"], ln["quantity"], ln["unit_price"], ln["quantity_allocated"])
        for ln in body["lines"]
    ] == [("TEE-1", 2, "19.95", 0), ("MUG-1", 1, "9.90", 0)]
    for stamp in ("created_at", "updated_at"):
        assert dt.datetime.fromisoformat(body[stamp])


@pytest.mark.django_db
def test_yen_amounts_have_no_decimals(catalogue, capture_order, manager):
    ChannelFactory(code="jp", currency="JPY")
    lines = [{"sku": "TEE-1", "quantity": 2, "unit_price": "1980"}]
    order = capture_order(channel="jp", currency="JPY", shipping_price="500", lines=lines)
    body = manager.get(detail(order.pk)).json()
    assert (body["total"], body["lines"][0]["unit_price"]) == ("4460", "1980")


@pytest.mark.django_db
def test_an_unknown_order_is_404_problem_json(manager):
    assert_problem(manager.get(detail(999_999)), 404, "not_found")


# --- list, filters and search --------------------------------------------------------------------


@pytest.fixture
def orders(catalogue, capture_order, advance):
    """Five orders that differ in one way each from the first."""
    ChannelFactory(code="amazon", currency="EUR")
    plain = capture_order(external_id="A-1")
    other_channel = capture_order(external_id="A-2", channel="amazon")
    unpaid = capture_order(external_id="A-3", payment_status="pending")
    french = capture_order(
        external_id="A-4",
        customer={
            "email": "Jean.Dupont@Example.fr",
            "first_name": "Jean",
            "last_name": "Dupont",
            "phone": "+33 1 44 55 66 77",
        },
        shipping_address={
            "name": "Jean Dupont",
            "line1": "10 rue de Rivoli",
            "city": "Paris",
            "postal_code": "75001",
            "country": "FR",
        },
        lines=[{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}],
    )
    allocated = advance(capture_order(external_id="A-5"), "allocated")
    old = timezone.now() - dt.timedelta(days=10)
    Order.objects.filter(pk=plain.pk).update(created_at=old)  # test setup: an older order
    return {
        "plain": plain,
        "other_channel": other_channel,
        "unpaid": unpaid,
        "french": french,
        "allocated": allocated,
        "old": old,
    }


@pytest.mark.django_db
def test_the_list_is_newest_first(orders, manager):
    response = manager.get(URL)
    assert [o["external_id"] for o in response.json()["results"]] == [
        "A-5",
        "A-4",
        "A-3",
        "A-2",
        "A-1",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "allocated"}, {"A-5"}),
        ({"status": ["pending", "allocated"]}, {"A-1", "A-2", "A-3", "A-4", "A-5"}),
        ({"channel": "amazon"}, {"A-2"}),
        ({"payment_status": "pending"}, {"A-3"}),
        ({"on_hold": "true"}, {"A-3"}),
        ({"on_hold": "false"}, {"A-1", "A-2", "A-4", "A-5"}),
        ({"country": "fr"}, {"A-4"}),
        ({"country": "DE", "channel": "web"}, {"A-1", "A-3", "A-5"}),
    ],
)
def test_filters(orders, manager, query, expected):
    assert external_ids(manager.get(URL, query)) == expected


@pytest.mark.django_db
def test_created_after_and_before(orders, manager):
    cut = (orders["old"] + dt.timedelta(days=1)).isoformat()
    assert external_ids(manager.get(URL, {"created_before": cut})) == {"A-1"}
    assert external_ids(manager.get(URL, {"created_after": cut})) == {"A-2", "A-3", "A-4", "A-5"}
    response = manager.get(URL, {"created_after": "yesterday"})
    assert_problem(response, 400, "invalid")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("number", {"A-4"}),
        ("A-4", {"A-4"}),
        ("jean.dupont@example.fr", {"A-4"}),
        ("JEAN.DUPONT@EXAMPLE.FR", {"A-4"}),
        ("Dupont", {"A-4"}),
        ("jean dupont", {"A-4"}),
        ("+33 1 44 55 66 77", {"A-4"}),
        ("tee-1", {"A-1", "A-2", "A-3", "A-5"}),
        ("MUG-1", {"A-1", "A-2", "A-3", "A-4", "A-5"}),
        ("Anna.Schmidt@example.com", {"A-1", "A-2", "A-3", "A-5"}),
        ("no such thing", set()),
    ],
)
def test_search(orders, manager, term, expected):
    if term == "number":
        term = orders["french"].number
    assert external_ids(manager.get(URL, {"search": term})) == expected


@pytest.mark.django_db
def test_the_list_paginates_with_a_cursor(orders, manager):
    first = manager.get(URL, {"page_size": 2}).json()
    assert len(first["results"]) == 2
    second = manager.get(first["next"]).json()
    assert [o["external_id"] for o in second["results"]] == ["A-3", "A-2"]


def create_orders(capture_order, count: int) -> None:
    for index in range(count):
        changes = {"payment_status": "pending"} if index % 2 else {}
        capture_order(
            lines=[
                {"sku": "TEE-1", "quantity": 1, "unit_price": "19.95"},
                {"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"},
                {"sku": "CAP-1", "quantity": 2, "unit_price": "12.00"},
            ],
            **changes,
        )


@pytest.mark.django_db
def test_the_list_query_count_does_not_grow_with_the_page_size(
    catalogue, capture_order, manager, django_assert_max_num_queries
):
    SkuFactory(code="CAP-1")
    create_orders(capture_order, 5)
    with CaptureQueriesContext(connection) as five:
        response = manager.get(URL)
    assert len(response.json()["results"]) == 5
    create_orders(capture_order, 35)
    with django_assert_max_num_queries(len(five)):
        response = manager.get(URL)
    assert len(response.json()["results"]) == 40
    assert all(len(o["lines"]) == 3 for o in response.json()["results"])


# --- commands ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_care_holds_and_releases(capture_order, care):
    order = capture_order()
    response = care.post(f"{detail(order.pk)}hold/", {"reason": "customer called"}, format="json")
    assert response.status_code == 200
    assert response.json()["hold_reasons"] == ["manual"]
    response = care.post(f"{detail(order.pk)}hold/", {"code": "fraud_review"}, format="json")
    assert sorted(response.json()["hold_reasons"]) == ["fraud_review", "manual"]
    response = care.post(f"{detail(order.pk)}release/", {"hold": "manual"}, format="json")
    assert response.json()["hold_reasons"] == ["fraud_review"]
    response = care.post(f"{detail(order.pk)}release/", {"reason": "checked"}, format="json")
    assert response.status_code == 200
    assert response.json()["hold_reasons"] == []
    assert not Order.objects.get(pk=order.pk).is_on_hold
    hold = OrderEvent.objects.filter(order=order, kind="hold_placed").first()
    assert (hold.actor, hold.data["note"]) == (care.user.username, "customer called")


@pytest.mark.django_db
def test_hold_and_release_refuse_bad_input(capture_order, care):
    order = capture_order()
    response = care.post(f"{detail(order.pk)}hold/", {"code": "bored"}, format="json")
    assert "code" in assert_problem(response, 400, "invalid")["errors"]
    response = care.post(f"{detail(order.pk)}release/", {"colour": "red"}, format="json")
    assert "colour" in assert_problem(response, 400, "invalid")["errors"]


@pytest.mark.django_db
def test_cancel_lines_then_the_rest(catalogue, capture_order, advance, care):
    order = advance(capture_order(), "allocated")
    tee = order.lines.get(line_number=1)
    response = care.post(
        f"{detail(order.pk)}cancel/",
        {"reason": "one is enough", "lines": [{"line": tee.pk, "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "allocated"
    assert [(ln["quantity_cancelled"], ln["quantity_allocated"]) for ln in body["lines"]] == [
        (1, 1),
        (0, 1),
    ]
    response = care.post(f"{detail(order.pk)}cancel/", {"reason": "changed mind"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert set(StockLevel.objects.values_list("reserved", flat=True)) == {0}
    assert list(
        OrderEvent.objects.filter(
            order=order, kind__in=["lines_cancelled", "cancelled"]
        ).values_list("kind", flat=True)
    ) == ["lines_cancelled", "cancelled"]
    # A replay is a no-op.
    assert care.post(f"{detail(order.pk)}cancel/", {}, format="json").status_code == 200


@pytest.mark.django_db
def test_cancel_refusals(capture_order, advance, care):
    order = capture_order()
    tee = order.lines.get(line_number=1)
    response = care.post(
        f"{detail(order.pk)}cancel/", {"lines": [{"line": tee.pk, "quantity": 3}]}, format="json"
    )
    assert "lines.0.quantity" in assert_problem(response, 400, "invalid")["errors"]
    response = care.post(
        f"{detail(order.pk)}cancel/", {"lines": [{"line": tee.pk, "quantity": 0}]}, format="json"
    )
    assert "lines.0.quantity" in assert_problem(response, 400, "invalid")["errors"]

    shipped = advance(capture_order(), "shipped")
    response = care.post(f"{detail(shipped.pk)}cancel/", {"reason": "too late"}, format="json")
    assert_problem(response, 409, "invalid_transition")
    assert Order.objects.get(pk=shipped.pk).status == "shipped"


@pytest.mark.django_db
def test_notes(capture_order, care):
    order = capture_order()
    response = care.post(f"{detail(order.pk)}notes/", {"text": "VIP"}, format="json")
    assert response.status_code == 200
    note = OrderEvent.objects.get(order=order, kind="note")
    assert (note.actor, note.data) == (care.user.username, {"text": "VIP"})
    response = care.post(f"{detail(order.pk)}notes/", {"text": ""}, format="json")
    assert "text" in assert_problem(response, 400, "invalid")["errors"]


@pytest.mark.django_db
def test_edit_lines(capture_order, care):
    order = capture_order()
    mug = order.lines.get(line_number=2)
    response = care.post(
        f"{detail(order.pk)}edit-lines/",
        {
            "add": [{"sku": "TEE-1", "quantity": 1, "unit_price": "19.95"}],
            "change": [{"line": mug.pk, "quantity": 2}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    # 2 x 19.95 + 2 x 9.90 + 19.95 - 1.00 + 4.95
    assert (body["subtotal"], body["total"]) == ("79.65", "83.60")
    assert [ln["quantity"] for ln in body["lines"]] == [2, 2, 1]
    response = care.post(f"{detail(order.pk)}edit-lines/", {"remove": [999_999]}, format="json")
    assert "remove.0" in assert_problem(response, 400, "invalid")["errors"]


@pytest.mark.django_db
def test_edit_lines_after_allocation_is_409(capture_order, advance, care):
    order = advance(capture_order(), "allocated")
    response = care.post(
        f"{detail(order.pk)}edit-lines/",
        {"add": [{"sku": "TEE-1", "quantity": 1, "unit_price": "19.95"}]},
        format="json",
    )
    assert_problem(response, 409, "invalid_transition")


@pytest.mark.django_db
def test_patch_the_shipping_address(capture_order, advance, care):
    order = capture_order()
    address = {
        "name": "Jean Dupont",
        "line1": "10 rue de Rivoli",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
    }
    response = care.patch(f"{detail(order.pk)}shipping-address/", address, format="json")
    assert response.status_code == 200
    assert response.json()["shipping_address"] == address
    assert response.json()["hold_reasons"] == []

    # PATCH merges: a one-field change keeps the rest of the address.
    response = care.patch(f"{detail(order.pk)}shipping-address/", {"name": "Jean"}, format="json")
    assert response.json()["shipping_address"] == {**address, "name": "Jean"}
    assert response.json()["hold_reasons"] == []
    # Blanking a required part makes it incomplete: held.
    response = care.patch(f"{detail(order.pk)}shipping-address/", {"city": ""}, format="json")
    assert response.json()["hold_reasons"] == ["address_incomplete"]

    response = care.patch(
        f"{detail(order.pk)}shipping-address/", {"country": "France"}, format="json"
    )
    assert "country" in assert_problem(response, 400, "invalid")["errors"]

    shipped = advance(capture_order(), "shipped")
    response = care.patch(f"{detail(shipped.pk)}shipping-address/", address, format="json")
    assert_problem(response, 409, "invalid_transition")


@pytest.mark.django_db
def test_the_timeline_is_oldest_first(capture_order, care):
    order = capture_order(payment_status="pending")
    care.post(f"{detail(order.pk)}notes/", {"text": "first"}, format="json")
    care.post(f"{detail(order.pk)}hold/", {"reason": "check"}, format="json")
    care.post(f"{detail(order.pk)}notes/", {"text": "second"}, format="json")
    response = care.get(f"{detail(order.pk)}events/")
    assert response.status_code == 200
    events = response.json()
    assert [e["kind"] for e in events] == [
        "captured",
        "hold_placed",
        "converted",
        "note",
        "hold_placed",
        "note",
    ]
    assert [e["data"].get("text") for e in events if e["kind"] == "note"] == ["first", "second"]
    assert {"kind", "actor", "data", "created_at"} <= set(events[0])
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps)


# --- permissions and idempotency ----------------------------------------------------------------


@pytest.mark.django_db
def test_warehouse_only_views_orders(capture_order, warehouse):
    order = capture_order()
    assert warehouse.get(URL).status_code == 200
    assert warehouse.get(detail(order.pk)).status_code == 200
    assert warehouse.get(f"{detail(order.pk)}events/").status_code == 200
    for path, body in (
        ("hold/", {}),
        ("release/", {}),
        ("cancel/", {}),
        ("notes/", {"text": "x"}),
        ("edit-lines/", {}),
    ):
        assert_problem(
            warehouse.post(f"{detail(order.pk)}{path}", body, format="json"),
            403,
            "permission_denied",
        )
    assert_problem(
        warehouse.patch(f"{detail(order.pk)}shipping-address/", {"country": "FR"}, format="json"),
        403,
        "permission_denied",
    )
    assert_problem(warehouse.post(URL, PAYLOAD, format="json"), 403, "permission_denied")
    saved = Order.objects.get(pk=order.pk)
    assert (saved.status, saved.is_on_hold) == ("pending", False)
    assert list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True)) == [
        "captured",
        "converted",
    ]


@pytest.mark.django_db
def test_unauthenticated_requests_are_401(capture_order, anonymous_api):
    order = capture_order()
    assert_problem(anonymous_api.get(URL), 401, "not_authenticated")
    assert_problem(anonymous_api.get(detail(order.pk)), 401, "not_authenticated")
    assert_problem(
        anonymous_api.post(f"{detail(order.pk)}cancel/", {}, format="json"),
        401,
        "not_authenticated",
    )
    assert_problem(anonymous_api.post(URL, PAYLOAD, format="json"), 401, "not_authenticated")
    assert Order.objects.get(pk=order.pk).status == "pending"


@pytest.mark.django_db
def test_an_idempotency_key_replays_a_command(capture_order, care):
    order = capture_order()
    first = care.post(
        f"{detail(order.pk)}notes/", {"text": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="n-1"
    )
    second = care.post(
        f"{detail(order.pk)}notes/", {"text": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="n-1"
    )
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert OrderEvent.objects.filter(order=order, kind="note").count() == 1
    other = care.post(
        f"{detail(order.pk)}notes/", {"text": "twice"}, format="json", HTTP_IDEMPOTENCY_KEY="n-1"
    )
    assert_problem(other, 409, "idempotency_key_reused")
