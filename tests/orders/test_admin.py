"""The orders back office: find, see and act on orders and customers; settings of rates."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from djmoney.contrib.exchange.models import Rate

from oms.admin.readonly import ReadOnlyInline
from oms.errors import TransientError, ValidationFailed
from oms.roles import CUSTOMER_CARE, MANAGER, WAREHOUSE
from orders import services
from orders.admin.orders import OrderAdmin, register_order_inline
from orders.exchange_backend import OfflineEcbBackend
from orders.models import Customer, FraudRule, FxRatesRefresh, Order, OrderEvent, RateOverride
from orders.services.customers import customer_update
from orders.services.rates import rate_override_delete, rate_override_save
from tests.factories import ChannelFactory, SkuFactory, UserFactory
from tests.orders.conftest import PAYLOAD

ORDERS = "/admin/orders/order/"
CUSTOMERS = "/admin/orders/customer/"
ADDRESS = {
    "name": "Anna Schmidt",
    "line1": "Torstraße 1",
    "city": "Berlin",
    "postal_code": "10119",
    "country": "DE",
}


def staff_client(*roles: str, superuser: bool = False, username: str | None = None) -> Client:
    extra = {"username": username} if username else {}
    user = UserFactory(roles=list(roles), is_staff=True, is_superuser=superuser, **extra)
    client = Client()
    client.force_login(user)
    return client


def capture(external_id: str, *, channel: str = "web", **change: Any) -> Order:
    customer = {**PAYLOAD["customer"], **change.pop("customer", {})}
    data: dict[str, Any] = {
        "currency": "EUR",
        "lines": [{"sku": "TEE-1", "quantity": 2, "unit_price": "9.95"}],
        "customer": customer,
        "shipping_address": ADDRESS,
        "payment_status": "paid",
        **change,
    }
    return services.order_capture(channel=channel, external_id=external_id, **data).order


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def active_holds(order: Order) -> list[str]:
    return sorted(order.holds.filter(released_at__isnull=True).values_list("reason", flat=True))


def ship_everything(order: Order, location) -> Order:
    lines = list(order.lines.all())
    services.order_allocate(
        order=order, allocations=[(ln.pk, location.pk, ln.quantity) for ln in lines]
    )
    return services.order_ship(
        order=order, shipped=[(ln.pk, location.pk, ln.quantity) for ln in lines]
    )


def act(client: Client, action: str, orders: list[Order], **extra: str):
    return client.post(
        ORDERS,
        {"action": action, "_selected_action": [o.pk for o in orders], "index": "0", **extra},
        follow=True,
    )


@pytest.fixture
def boss(db) -> Client:
    return staff_client(superuser=True, username="boss")


@pytest.fixture
def care(db) -> Client:
    return staff_client(CUSTOMER_CARE, username="carla")


@pytest.fixture
def cap(catalogue):
    return SkuFactory(code="CAP-1")


# --- the order list ----------------------------------------------------------------------------


def make_orders(count: int, start: int) -> None:
    lines = [
        {"sku": "TEE-1", "quantity": 1, "unit_price": "9.95"},
        {"sku": "MUG-1", "quantity": 1, "unit_price": "5.00"},
        {"sku": "CAP-1", "quantity": 1, "unit_price": "12.00"},
    ]
    for n in range(start, start + count):
        capture(
            f"Q-{n}",
            lines=lines,
            customer={"email": f"shopper{n}@example.com", "last_name": f"Shopper{n}"},
            payment_status="paid" if n % 2 else "pending",
        )


@pytest.mark.parametrize("who", ["superuser", "care"])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status__exact=pending&on_hold=yes",
        "?hold_reason=payment_pending&ship_country=DE&payment_status__exact=pending",
        "?q=shopper&channel__id__exact={channel}",
        "?o=-8.4",
    ],
)
def test_the_order_list_takes_a_bounded_number_of_queries(
    cap, who, query, django_assert_max_num_queries
):
    client = staff_client(superuser=True) if who == "superuser" else staff_client(CUSTOMER_CARE)
    query = query.format(channel=Order._meta.get_field("channel").related_model.objects.get().pk)
    make_orders(5, 0)
    with django_assert_max_num_queries(20) as small:
        response = client.get(f"{ORDERS}{query}")
        assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 2
    make_orders(40, 5)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"{ORDERS}{query}")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 20


def test_the_customer_list_takes_a_bounded_number_of_queries(
    cap, care, django_assert_max_num_queries
):
    make_orders(5, 0)
    with django_assert_max_num_queries(15) as small:
        assert care.get(CUSTOMERS).status_code == 200
    make_orders(40, 5)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = care.get(f"{CUSTOMERS}?o=4")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 45


def test_the_order_list_shows_totals_in_the_currency_s_decimals(catalogue, boss):
    ChannelFactory(code="jp", currency="JPY")
    capture("E-1", lines=[{"sku": "TEE-1", "quantity": 3, "unit_price": "1234.50"}])
    capture(
        "J-1",
        channel="jp",
        currency="JPY",
        lines=[{"sku": "TEE-1", "quantity": 1, "unit_price": "1500"}],
    )
    page = text(boss.get(ORDERS))
    assert "3,703.50 EUR" in page
    assert "1,500 JPY" in page
    assert "not converted yet" in page  # converted after commit, by a task


@pytest.mark.parametrize(
    "term",
    ["{number}", "R-77", "ANNA.schmidt@EXAMPLE.com", "schmidt", "+49 30 1234567", "mug-1"],
)
def test_the_search_box_finds_an_order_like_the_api(catalogue, boss, term):
    wanted = capture(
        "R-77",
        lines=[{"sku": "MUG-1", "quantity": 1, "unit_price": "5.00"}],
    )
    capture(
        "R-78",
        customer={
            "email": "bob@example.com",
            "first_name": "Bob",
            "last_name": "Marley",
            "phone": "+44 20 7946 0000",
        },
        shipping_address={**ADDRESS, "name": "Bob Marley"},
    )
    response = boss.get(ORDERS, {"q": term.format(number=wanted.number)})
    assert response.status_code == 200
    assert [o.pk for o in response.context["cl"].result_list] == [wanted.pk]


def test_the_list_filters_by_channel_hold_payment_and_country(catalogue, boss):
    ChannelFactory(code="amazon", currency="EUR")
    web = capture("F-1")
    held = capture("F-2", payment_status="pending")
    french = capture(
        "F-3",
        channel="amazon",
        shipping_address={**ADDRESS, "country": "FR", "postal_code": "75001", "city": "Paris"},
    )

    def found(query: str) -> set[int]:
        response = boss.get(f"{ORDERS}{query}")
        assert response.status_code == 200
        return {o.pk for o in response.context["cl"].result_list}

    assert found(f"?channel__id__exact={french.channel_id}") == {french.pk}
    assert found("?on_hold=yes") == {held.pk}
    assert found("?on_hold=no") == {web.pk, french.pk}
    assert found("?hold_reason=payment_pending") == {held.pk}
    assert found("?hold_reason=fraud_review") == set()
    assert found("?payment_status__exact=paid") == {web.pk, french.pk}
    assert found("?ship_country=FR") == {french.pk}
    page = text(boss.get(ORDERS))
    assert "FR France" in page
    assert "DE Germany" in page
    assert "US United States" not in page  # only the countries in use


# --- the order page ----------------------------------------------------------------------------


def test_the_order_page_shows_lines_holds_and_the_timeline(catalogue, care):
    order = capture(
        "P-1",
        payment_status="pending",
        lines=[
            {"sku": "TEE-1", "quantity": 2, "unit_price": "19.95"},
            {"sku": "NOPE-9", "quantity": 1, "unit_price": "3.00"},
        ],
    )
    services.order_note_add(order=order, text="Customer called about the colour.", actor="carla")
    response = care.get(f"{ORDERS}{order.pk}/change/")
    assert response.status_code == 200
    page = text(response)
    for expected in (
        "TEE-1",
        "NOPE-9",
        "(unknown SKU)",
        "39.90 EUR",
        "42.90 EUR",  # total
        "Payment pending",
        "Unknown SKU",
        "Customer called about the colour.",
        "Order received from web",
        "Put on hold (unknown SKU)",
        "Torstraße 1",
        "Anna Schmidt",
        "(same currency)",  # converted when captured: the base currency's order
    ):
        assert expected in page, expected
    assert 'name="_save"' not in page  # a record, not a form
    timeline = [e.kind for e in OrderEvent.objects.filter(order=order)]
    assert (timeline[0], timeline[-1]) == ("captured", "note")
    assert page.index("Customer called") < page.index("Order received")  # newest first
    for command in ("hold", "release", "cancel", "address", "note"):
        assert f"/admin/orders/order/{order.pk}/{command}/" in page
    assert 'form="order-note-form"' in page


def test_orders_are_never_added_or_deleted_here(catalogue, boss):
    order = capture("N-1")
    listing = text(boss.get(ORDERS))
    assert "delete_selected" not in listing
    assert f"{ORDERS}add/" not in listing
    assert boss.get(f"{ORDERS}add/").status_code == 403
    assert boss.get(f"{ORDERS}{order.pk}/delete/").status_code == 403
    assert boss.post(f"{ORDERS}{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert boss.post(f"{ORDERS}{order.pk}/change/", {"status": "cancelled"}).status_code == 403
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert boss.get(f"{CUSTOMERS}add/").status_code == 403


def test_higher_apps_can_add_their_records_to_the_order_page(catalogue, care):
    class ShipmentsInline(ReadOnlyInline):  # stands in for fulfilment's shipments
        model = OrderEvent
        fields = ["kind"]
        verbose_name_plural = "Shipments (stand-in)"

    order = capture("S-1")
    register_order_inline(ShipmentsInline)
    try:
        assert "Shipments (stand-in)" in text(care.get(f"{ORDERS}{order.pk}/change/"))
    finally:
        OrderAdmin.extra_inlines.remove(ShipmentsInline)
    assert "Shipments (stand-in)" not in text(care.get(f"{ORDERS}{order.pk}/change/"))


# --- list actions --------------------------------------------------------------------------------


def test_hold_and_release_actions_report_per_order(catalogue, care):
    open_order = capture("H-1")
    cancelled = capture("H-2")
    services.order_cancel(order=cancelled)
    response = act(care, "hold_manual", [open_order, cancelled])
    assert response.status_code == 200
    notes = messages_of(response)
    assert f"Order {open_order.number} is on hold (manual)." in notes
    assert any(
        m.startswith(f"Order {cancelled.number} not held:") and "cancelled" in m for m in notes
    )
    assert active_holds(open_order) == ["manual"]
    assert OrderEvent.objects.get(order=open_order, kind="hold_placed").actor == "carla"

    again = messages_of(act(care, "hold_manual", [open_order]))
    assert again == [f"Order {open_order.number} was already on hold (manual)."]

    released = messages_of(act(care, "release_holds", [open_order, cancelled]))
    assert f"Order {open_order.number} released: Manual." in released
    assert f"Order {cancelled.number} had no active hold." in released
    open_order.refresh_from_db()
    assert not open_order.is_on_hold
    assert active_holds(open_order) == []


def test_the_cancel_action_confirms_then_cancels_per_order(catalogue, care):
    wh = catalogue["wh"]
    first, second = capture("C-1"), capture("C-2")
    already = capture("C-3")
    services.order_cancel(order=already)
    shipped = ship_everything(capture("C-4"), wh)
    assert shipped.status == "shipped"
    chosen = [first, second, already, shipped]

    confirm = act(care, "cancel_open", chosen)
    assert confirm.status_code == 200
    assert "Yes, cancel 4 orders" in text(confirm)
    assert Order.objects.filter(status="cancelled").count() == 1  # nothing happened yet

    done = act(care, "cancel_open", chosen, post="yes", reason="Customer changed their mind")
    done_messages = messages_of(done)
    assert f"Order {first.number} is cancelled." in done_messages
    assert f"Order {second.number} is cancelled." in done_messages
    assert f"Order {already.number} was already cancelled: nothing to do." in done_messages
    assert any(
        m.startswith(f"Order {shipped.number} not cancelled:") and "nothing is left" in m
        for m in done_messages
    )
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses[first.pk] == statuses[second.pk] == "cancelled"
    assert statuses[shipped.pk] == "shipped"
    event = OrderEvent.objects.get(order=first, kind="cancelled")
    assert (event.actor, event.data["reason"]) == ("carla", "Customer changed their mind")


# --- commands on the order page -----------------------------------------------------------------


def test_hold_and_release_from_the_order_page(catalogue, care):
    order = capture("V-1")
    url = f"{ORDERS}{order.pk}/hold/"
    page = care.get(url)
    assert page.status_code == 200
    assert "Hold order" in text(page)
    missing = care.post(url, {"reason": "customer_care", "note": ""})
    assert missing.status_code == 200
    assert "This field is required." in text(missing)
    assert active_holds(order) == []

    done = care.post(
        url, {"reason": "customer_care", "note": "Wants to change the size."}, follow=True
    )
    assert f"Order {order.number}: on hold (Customer care)." in messages_of(done)
    assert active_holds(order) == ["customer_care"]

    services.order_hold(order=order, reason="manual", note="second")
    release = f"{ORDERS}{order.pk}/release/"
    assert "Only: Manual" in text(care.get(release))
    partly = care.post(release, {"reason": "manual", "note": "ok"}, follow=True)
    assert f"Order {order.number}: released Manual; it is still on hold." in messages_of(partly)
    everything = care.post(release, {"reason": "", "note": "size fixed"}, follow=True)
    assert f"Order {order.number}: released Customer care." in messages_of(everything)
    order.refresh_from_db()
    assert not order.is_on_hold


def test_holding_a_cancelled_order_shows_the_error_and_writes_nothing(catalogue, care):
    order = capture("V-2")
    services.order_cancel(order=order)
    events_before = OrderEvent.objects.filter(order=order).count()
    assert "can no longer be held" in text(care.get(f"{ORDERS}{order.pk}/hold/"))
    response = care.post(f"{ORDERS}{order.pk}/hold/", {"reason": "manual", "note": "why not"})
    assert response.status_code == 409
    assert "A cancelled order cannot be held." in text(response)
    assert "Nothing was changed." in text(response)
    assert OrderEvent.objects.filter(order=order).count() == events_before
    assert active_holds(order) == []


def test_cancel_given_quantities_from_the_order_page(catalogue, care):
    order = capture(
        "X-1",
        lines=[
            {"sku": "TEE-1", "quantity": 3, "unit_price": "9.95"},
            {"sku": "MUG-1", "quantity": 1, "unit_price": "5.00"},
        ],
    )
    tee, mug = order.lines.order_by("line_number")
    url = f"{ORDERS}{order.pk}/cancel/"
    page = care.get(url)
    assert page.status_code == 200
    assert f'name="line_{tee.pk}"' in text(page)

    empty = care.post(url, {"_cancel_lines": "1", "reason": ""})
    assert empty.status_code == 400
    assert "at least one line" in text(empty)

    too_many = care.post(url, {"_cancel_lines": "1", f"line_{tee.pk}": "4"})
    assert too_many.status_code == 200
    assert "less than or equal to 3" in text(too_many)

    done = care.post(
        url, {"_cancel_lines": "1", f"line_{tee.pk}": "2", "reason": "Too many"}, follow=True
    )
    assert f"Order {order.number}: 2 unit(s) cancelled; it is now Pending." in messages_of(done)
    tee.refresh_from_db()
    assert tee.quantity_cancelled == 2

    rest = care.post(url, {"_cancel_all": "1", "reason": "All of it"}, follow=True)
    assert f"Order {order.number}: cancelled." in messages_of(rest)
    order.refresh_from_db()
    assert order.status == "cancelled"
    mug.refresh_from_db()
    assert mug.quantity_cancelled == 1


def test_cancelling_a_shipped_order_from_its_page_is_refused(catalogue, care):
    order = ship_everything(capture("X-2"), catalogue["wh"])
    line = order.lines.get()
    assert "Nothing is left to cancel" in text(care.get(f"{ORDERS}{order.pk}/cancel/"))
    response = care.post(f"{ORDERS}{order.pk}/cancel/", {"_cancel_all": "1"})
    assert response.status_code == 409
    assert "nothing is left to cancel" in text(response)
    line.refresh_from_db()
    assert (line.quantity_shipped, line.quantity_cancelled) == (2, 0)


def test_an_internal_note_from_the_order_page(catalogue, care):
    order = capture("T-1")
    url = f"{ORDERS}{order.pk}/note/"
    blank = care.post(url, {"text": "   "})
    assert blank.status_code == 200
    assert not OrderEvent.objects.filter(order=order, kind="note").exists()
    done = care.post(url, {"text": "Called back, all good."}, follow=True)
    assert f"Order {order.number}: note added to the timeline." in messages_of(done)
    note = OrderEvent.objects.get(order=order, kind="note")
    assert (note.actor, note.data["text"]) == ("carla", "Called back, all good.")
    assert "Called back, all good." in text(done)  # back on the order page, in the timeline


def test_the_shipping_address_form_is_prefilled_and_a_bad_address_holds_the_order(catalogue, care):
    order = capture("A-1")
    url = f"{ORDERS}{order.pk}/address/"
    page = care.get(url)
    assert page.status_code == 200
    assert 'value="Torstraße 1"' in text(page)
    assert '<option value="DE" selected>' in text(page)

    unchanged = care.post(url, {**ADDRESS}, follow=True)
    assert f"Order {order.number}: shipping address saved." in messages_of(unchanged)
    assert not OrderEvent.objects.filter(order=order, kind="address_changed").exists()

    bad = care.post(url, {**ADDRESS, "postal_code": ""}, follow=True)
    assert any("incomplete" in m and "on hold" in m for m in messages_of(bad))
    order.refresh_from_db()
    assert "postal_code" not in order.shipping_address
    assert active_holds(order) == ["address_incomplete"]

    good = care.post(url, {**ADDRESS, "line1": "Torstraße 2"}, follow=True)
    assert f"Order {order.number}: shipping address saved." in messages_of(good)
    order.refresh_from_db()
    assert order.shipping_address["line1"] == "Torstraße 2"
    assert active_holds(order) == []
    assert OrderEvent.objects.filter(order=order, kind="address_changed").count() == 2


def test_the_address_of_a_shipped_order_cannot_change(catalogue, care):
    order = ship_everything(capture("A-2"), catalogue["wh"])
    url = f"{ORDERS}{order.pk}/address/"
    assert "can no longer change" in text(care.get(url))
    response = care.post(url, {**ADDRESS, "city": "Hamburg"})
    assert response.status_code == 409
    order.refresh_from_db()
    assert order.shipping_address["city"] == "Berlin"


def test_warehouse_staff_see_orders_but_cannot_act_on_them(catalogue):
    order = capture("W-1")
    client = staff_client(WAREHOUSE)
    listing = client.get(ORDERS)
    assert listing.status_code == 200
    assert "hold_manual" not in text(listing)
    page = client.get(f"{ORDERS}{order.pk}/change/")
    assert page.status_code == 200
    assert f"{ORDERS}{order.pk}/hold/" not in text(page)
    assert "order-note-form" not in text(page)
    for command in ("hold", "release", "cancel", "note", "address"):
        assert client.get(f"{ORDERS}{order.pk}/{command}/").status_code == 403
        assert client.post(f"{ORDERS}{order.pk}/{command}/", {}).status_code == 403
    refused = act(client, "cancel_open", [order], post="yes")
    assert refused.status_code == 200
    order.refresh_from_db()
    assert order.status == "pending"
    assert client.get(f"{CUSTOMERS}{order.customer_id}/change/").status_code == 200


# --- customers -----------------------------------------------------------------------------------


def test_the_customer_page_lists_orders_of_every_channel(catalogue, care):
    ChannelFactory(code="amazon", currency="EUR")
    web = capture("K-1")
    amazon = capture("K-2", channel="amazon")
    capture(
        "K-3",
        customer={"email": "otto@example.com", "first_name": "Otto", "last_name": "O", "phone": ""},
    )
    customer = web.customer
    assert amazon.customer_id == customer.pk

    listing = care.get(CUSTOMERS, {"q": "schmidt"})
    assert [c.pk for c in listing.context["cl"].result_list] == [customer.pk]
    assert f'?customer__id__exact={customer.pk}">2</a>' in text(listing)

    page = care.get(f"{CUSTOMERS}{customer.pk}/change/")
    assert page.status_code == 200
    html = text(page)
    assert "Orders (2, every channel)" in html
    for order in (web, amazon):
        assert f'href="/admin/orders/order/{order.pk}/change/">{order.number}</a>' in html
    assert ">amazon<" in html
    assert ">web<" in html
    filtered = care.get(f"{ORDERS}?customer__id__exact={customer.pk}")
    assert {o.pk for o in filtered.context["cl"].result_list} == {web.pk, amazon.pk}


def test_customer_care_corrects_a_name_and_the_search_follows(catalogue, care):
    order = capture("M-1")
    customer = order.customer
    response = care.post(
        f"{CUSTOMERS}{customer.pk}/change/",
        {"first_name": "Anna", "last_name": "Schmitt", "phone": "+49 30 7654321", "email": "x@y.z"},
    )
    assert response.status_code == 302, text(response)[:3000]
    customer.refresh_from_db()
    assert (customer.last_name, customer.phone) == ("Schmitt", "+49 30 7654321")
    assert customer.email == "anna.schmidt@example.com"  # the identity never changes here
    found = care.get(ORDERS, {"q": "schmitt"})
    assert [o.pk for o in found.context["cl"].result_list] == [order.pk]
    assert staff_client(WAREHOUSE).post(f"{CUSTOMERS}{customer.pk}/change/", {}).status_code == 403


def test_customer_update_changes_only_names_and_phone(catalogue):
    customer = capture("M-2").customer
    with pytest.raises(ValidationFailed) as error:
        customer_update(customer=customer, data={"email": "new@example.com"})
    assert "email" in error.value.errors
    with pytest.raises(ValidationFailed):
        customer_update(customer=customer, data={"phone": "1" * 41})
    same = customer_update(customer=customer, data={"first_name": " Anna "})
    assert same.first_name == "Anna"
    assert Customer.objects.get(pk=customer.pk).email == "anna.schmidt@example.com"


# --- settings: fraud rules and exchange rates ---------------------------------------------------


def test_fraud_rules_are_validated(catalogue):
    client = staff_client(MANAGER)
    channel = catalogue["channel"]
    add = "/admin/orders/fraudrule/add/"
    assert client.get(add).status_code == 200
    bad = client.post(add, {"channel": channel.pk, "kind": "value_over", "is_active": "on"})
    assert bad.status_code == 200
    assert "Enter the order total" in text(bad)
    abroad = client.post(
        add, {"channel": channel.pk, "kind": "first_order_abroad", "is_active": "on"}
    )
    assert "home country" in text(abroad)
    assert not FraudRule.objects.exists()
    good = client.post(
        add, {"channel": channel.pk, "kind": "value_over", "threshold": "500", "is_active": "on"}
    )
    assert good.status_code == 302
    assert FraudRule.objects.get().threshold == Decimal("500")
    assert client.get("/admin/orders/fraudrule/").status_code == 200


def test_a_rate_override_takes_effect_when_saved(catalogue):
    client = staff_client(MANAGER)
    response = client.post(
        "/admin/orders/rateoverride/add/",
        {"currency": "ISK", "rate": "150.5", "valid_from": "2026-11-01", "note": "bank rate"},
    )
    assert response.status_code == 302, text(response)[:3000]
    assert RateOverride.objects.get().currency == "ISK"
    assert Rate.objects.get(backend_id=OfflineEcbBackend.name, currency="ISK").value == Decimal(
        "150.5"
    )
    assert FxRatesRefresh.objects.count() == 1
    override = RateOverride.objects.get()
    change = client.post(
        f"/admin/orders/rateoverride/{override.pk}/change/",
        {"rate": "151", "valid_from": "2026-11-02", "note": "corrected"},
    )
    assert change.status_code == 302, text(change)[:3000]
    assert Rate.objects.get(backend_id=OfflineEcbBackend.name, currency="ISK").value == 151
    base = client.post(
        "/admin/orders/rateoverride/add/",
        {"currency": "EUR", "rate": "1", "valid_from": "2026-11-01"},
    )
    assert base.status_code == 200  # the base currency is not offered


def test_a_deleted_override_leaves_no_stale_rate(catalogue, django_capture_on_commit_callbacks):
    xof = [{"sku": "TEE-1", "quantity": 1, "unit_price": "6560"}]
    with django_capture_on_commit_callbacks(execute=True):
        rate_override_save(currency="XOF", rate=Decimal("655.957"))
    first = capture("XOF-1", currency="XOF", lines=xof)
    converted = services.order_convert_total(order_id=first.pk)
    assert (converted.fx_source, converted.total_base) == ("override", Decimal("10.00"))

    with django_capture_on_commit_callbacks(execute=True):
        rate_override_delete(override=RateOverride.objects.get())
    assert not Rate.objects.filter(backend_id=OfflineEcbBackend.name, currency="XOF").exists()
    second = capture("XOF-2", currency="XOF", lines=xof)
    with pytest.raises(TransientError):
        services.order_convert_total(order_id=second.pk)
    first.refresh_from_db()
    assert first.total_base == Decimal("10.00")  # history is never re-converted

    with django_capture_on_commit_callbacks(execute=True):
        rate_override_save(currency="USD", rate=Decimal("2"))
        rate_override_delete(override=RateOverride.objects.get())
    usd = Rate.objects.get(backend_id=OfflineEcbBackend.name, currency="USD").value
    assert usd != 2  # the ECB's rate again


def test_refresh_exchange_rates_now(catalogue):
    client = staff_client(CUSTOMER_CARE)
    listing = client.get("/admin/orders/fxratesrefresh/")
    assert listing.status_code == 200
    assert "Refresh exchange rates now" in text(listing)
    assert client.get("/admin/orders/fxratesrefresh/refresh/").status_code == 405
    done = client.post("/admin/orders/fxratesrefresh/refresh/", follow=True)
    assert any(m.startswith("Exchange rates refreshed:") for m in messages_of(done))
    assert FxRatesRefresh.objects.count() == 1
    warehouse = staff_client(WAREHOUSE)
    assert "Refresh exchange rates now" not in text(warehouse.get("/admin/orders/fxratesrefresh/"))
    assert warehouse.post("/admin/orders/fxratesrefresh/refresh/").status_code == 403
    assert FxRatesRefresh.objects.count() == 1
    page = client.get("/admin/orders/rateoverride/")
    assert "Refresh exchange rates now" in text(page)
    assert re.search(r'name="next" value="/admin/orders/rateoverride/"', text(page))
