"""Who may command what: every API command endpoint x the four roles, and the admin actions
that refund or touch a channel's connection x the staff roles.

The table below is the expected policy. The endpoints are discovered from the URL resolver (every
POST, PUT, PATCH and DELETE route under /api/v1/): a new command without a row fails
`test_every_command_endpoint_has_a_row`. A denied request is 403 problem JSON and writes
nothing (the rows of every OMS table are compared before and after); an allowed one is not 403
(it may be 400, 404 or 409: what is tested is the permission decision), and the commands that
move money or touch a connection are sent with valid bodies, so that an allowed role succeeds
and a wrongly allowed one would have written something.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.test import Client
from rest_framework.schemas.generators import EndpointEnumerator
from rest_framework.test import APIClient

from channels import services as channel_services
from inventory.models import Channel, StockLevel
from inventory.services import sku_price_set, transfers
from oms.models import OutboxMessage
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, OMS_APPS, WAREHOUSE
from reports.whatif import routing_draft_create
from returns import services as return_services
from returns.models import Payment, Refund
from tests import staff
from tests.fulfilment.conftest import order, put
from tests.outbox import run_outbox
from tests.returns.conftest import eager, network, reasons, shipped
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

__all__ = ["eager", "network", "reasons", "shipped"]

M, W, C, I = MANAGER, WAREHOUSE, CUSTOMER_CARE, INTEGRATOR  # noqa: E741 - the table's columns
#: A staff user a merchant gave `change` on channels and returns, and neither custom permission.
CHANGER = "change without the custom permissions"
ROLES = (M, W, C, I)
EVERYONE = frozenset(ROLES)
CATALOGUE = frozenset({M, W, I})  # inventory and fulfilment writers
ORDERS = frozenset({M, C, I})  # orders writers
RETURNS = EVERYONE  # every role works returns (receive, authorise ...)
REFUNDERS = frozenset({M, C})  # "refund orders"
CHANNEL_WRITERS = frozenset({M, I})  # change_channel
CONNECTORS = frozenset({M})  # "manage channel connections"
PRIVACY = frozenset({M})  # "manage personal data": export and erase a customer
WEBHOOKS = frozenset({M, I})  # webhook endpoints and deliveries (integrators never delete)
ROUTING_DRAFTS = frozenset({M})  # "manage routing drafts": what-if routing and publishing it
SUBSCRIPTIONS = frozenset({M, C, I})  # subscriptions writers (the warehouse only reads them)
PRICES = frozenset({M, I})  # the merchant's prices: the warehouse and customer care only read them


def user_of(role: str) -> Any:
    if role == CHANGER:
        return staff.user_of(
            "",
            perms=Permission.objects.filter(
                Q(content_type__app_label__in=["channels", "returns"])
                | Q(content_type__app_label="inventory", content_type__model="channel"),
                codename__regex=r"^(view|change)_",
            ),
        )
    return staff.user_of(role)


def token_client(role: str) -> APIClient:
    return staff.api_client_of(user_of(role))


def staff_client(role: str) -> Client:
    return staff.admin_client_of(user_of(role))


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # as the URL resolver names it: /api/v1/orders/{pk}/cancel/
    allowed: frozenset[str]
    body: Callable[[dict[str, Any]], Any] = lambda w: {}
    #: The key of the world object whose id fills {pk}.
    obj: str = ""
    variant: str = ""
    #: The status an allowed role gets (the body is valid): checked where a wrong "allowed"
    #: would move money or touch a connection.
    succeeds: int | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{' ' + self.variant if self.variant else ''}"


def _order_body(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": "web",
        "external_id": "MATRIX-1",
        "currency": "EUR",
        "customer": {"email": "matrix@example.com"},
        "shipping_address": {
            "name": "M",
            "line1": "Street 1",
            "city": "Hamburg",
            "postal_code": "20095",
            "country": "DE",
        },
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "10.00"}],
        "payment_status": "paid",
    }


def _channel_body(**extra: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda w: {"code": "matrix", "name": "M", "kind": "api", "currency": "EUR", **extra}


TABLE: list[Case] = [
    # --- inventory --------------------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/skus/",
        CATALOGUE,
        lambda w: {"code": "NEW-1", "name": "New"},
        succeeds=201,
    ),
    Case(
        "PATCH", "/api/v1/skus/{pk}/", CATALOGUE, lambda w: {"name": "Renamed"}, "sku", succeeds=200
    ),
    Case(
        "POST",
        "/api/v1/locations/",
        CATALOGUE,
        lambda w: {"code": "NEW", "name": "New", "kind": "warehouse", "country": "DE"},
        succeeds=201,
    ),
    Case(
        "PATCH",
        "/api/v1/locations/{pk}/",
        CATALOGUE,
        lambda w: {"name": "R"},
        "location",
        succeeds=200,
    ),
    Case(
        "POST",
        "/api/v1/sku-prices/",
        PRICES,
        lambda w: {"sku": "A", "currency": "USD", "amount": "3.00"},
        succeeds=201,
    ),
    Case(
        "PATCH",
        "/api/v1/sku-prices/{pk}/",
        PRICES,
        lambda w: {"amount": "4.00"},
        "sku_price",
        succeeds=200,
    ),
    Case("DELETE", "/api/v1/sku-prices/{pk}/", frozenset({M}), obj="sku_price", succeeds=204),
    Case(
        "PATCH",
        "/api/v1/stock-levels/{pk}/",
        CATALOGUE,
        lambda w: {"safety_stock": 1},
        "stock_level",
        succeeds=200,
    ),
    Case(
        "POST",
        "/api/v1/stock-adjustments/",
        CATALOGUE,
        lambda w: {"sku": "A", "location": "BER", "kind": "receipt", "quantity": 1},
        succeeds=201,
    ),
    Case(
        "POST",
        "/api/v1/stock-transfers/",
        CATALOGUE,
        lambda w: {
            "from_location": "BER",
            "to_location": "MUC",
            "lines": [{"sku": "A", "quantity": 1}],
        },
    ),
    Case("POST", "/api/v1/stock-transfers/{pk}/ship/", CATALOGUE, obj="transfer"),
    Case("POST", "/api/v1/stock-transfers/{pk}/receive/", CATALOGUE, obj="transfer"),
    Case("POST", "/api/v1/stock-transfers/{pk}/cancel/", CATALOGUE, obj="transfer"),
    # --- orders -----------------------------------------------------------------------------
    Case("POST", "/api/v1/orders/", ORDERS, _order_body, succeeds=201),
    # Cancelling a paid order refunds it: the system's duty, not a refund command (see below).
    Case(
        "POST",
        "/api/v1/orders/{pk}/cancel/",
        ORDERS,
        lambda w: {"reason": "r"},
        "open_order",
        succeeds=200,
    ),
    Case(
        "POST",
        "/api/v1/orders/{pk}/edit-lines/",
        ORDERS,
        lambda w: {"change": [{"line": w["open_line"], "quantity": 2}]},
        "open_order",
    ),
    Case(
        "POST",
        "/api/v1/orders/{pk}/hold/",
        ORDERS,
        lambda w: {"reason": "r"},
        "open_order",
        succeeds=200,
    ),
    Case("POST", "/api/v1/orders/{pk}/release/", ORDERS, lambda w: {"reason": "r"}, "open_order"),
    Case("POST", "/api/v1/orders/{pk}/notes/", ORDERS, lambda w: {"text": "hello"}, "open_order"),
    Case(
        "PATCH",
        "/api/v1/orders/{pk}/shipping-address/",
        ORDERS,
        lambda w: {"line1": "Other street 2"},
        "open_order",
    ),
    # --- fulfilment -------------------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/promise/",
        EVERYONE,  # reads and changes nothing
        lambda w: {
            "channel": "web",
            "destination": {"country": "DE", "postal_code": "20095"},
            "lines": [{"sku": "A", "quantity": 1}],
        },
    ),
    Case(
        "POST",
        "/api/v1/shipments/{pk}/pick/",
        CATALOGUE,
        lambda w: {"lines": [{"order_line": w["open_line"], "quantity": 1}]},
        "shipment",
    ),
    Case(
        "POST",
        "/api/v1/shipments/{pk}/pack/",
        CATALOGUE,
        lambda w: {"parcels": [{"weight_grams": 500}]},
        "shipment",
    ),
    Case(
        "POST",
        "/api/v1/shipments/{pk}/ship/",
        CATALOGUE,
        lambda w: {"carrier": "dhl", "tracking_number": "T1"},
        "shipment",
    ),
    Case("POST", "/api/v1/shipments/{pk}/cancel/", CATALOGUE, obj="shipment"),
    Case("POST", "/api/v1/customers/{pk}/export/", PRIVACY, obj="customer", succeeds=200),
    Case("POST", "/api/v1/customers/{pk}/erase/", PRIVACY, obj="customer"),
    # --- returns and refunds ----------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/returns/",
        RETURNS,
        lambda w: {
            "order": w["shipped_order"],
            "lines": [{"order_line": w["shipped_line"], "quantity": 1, "reason": "damaged"}],
        },
    ),
    Case("POST", "/api/v1/returns/{pk}/authorise/", RETURNS, obj="return"),
    Case("POST", "/api/v1/returns/{pk}/reject/", RETURNS, lambda w: {"reason": "r"}, "return"),
    Case("POST", "/api/v1/returns/{pk}/cancel/", RETURNS, lambda w: {"reason": "r"}, "return"),
    Case(
        "POST",
        "/api/v1/returns/{pk}/receive/",
        RETURNS,
        lambda w: {
            "location": "BER",
            "lines": [{"order_line": w["shipped_line"], "quantity": 1, "condition": "sellable"}],
        },
        "return",
    ),
    Case("POST", "/api/v1/returns/{pk}/exchange-order/", RETURNS, obj="return"),
    Case("POST", "/api/v1/returns/{pk}/refund/", REFUNDERS, obj="return", succeeds=201),
    Case(
        "POST",
        "/api/v1/refunds/",
        REFUNDERS,
        lambda w: {"order": w["shipped_order"], "amount": "5.00", "reason": "appeasement"},
        succeeds=201,
    ),
    Case(
        "POST",
        "/api/v1/refunds/{pk}/confirm/",
        REFUNDERS,
        lambda w: {"reference": "BANK-1"},
        "refund_to_confirm",
        succeeds=200,
    ),
    Case("POST", "/api/v1/refunds/{pk}/retry/", REFUNDERS, obj="refund_failed", succeeds=200),
    # --- payments ----------------------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/orders/{pk}/payments/",
        ORDERS,
        lambda w: {"kind": "authorization", "amount": "10.00", "reference": "pi_matrix"},
        "open_order",
        succeeds=201,
    ),
    Case(
        "POST",
        "/api/v1/orders/{pk}/mark-paid/",
        ORDERS,
        lambda w: {"reference": "SEPA-MATRIX"},
        "payment_pending_order",
        succeeds=201,
    ),
    Case("POST", "/api/v1/payments/{pk}/retry/", REFUNDERS, obj="capture_failed", succeeds=202),
    # --- channels ---------------------------------------------------------------------------
    Case("POST", "/api/v1/channels/", CHANNEL_WRITERS, _channel_body(), succeeds=201),
    Case(
        "POST",
        "/api/v1/channels/",
        CONNECTORS,
        _channel_body(credentials={"access_token": "shpat_new"}),
        variant="with credentials",
        succeeds=201,
    ),
    Case(
        "PATCH",
        "/api/v1/channels/{pk}/",
        CHANNEL_WRITERS,
        lambda w: {"name": "R"},
        "channel",
        succeeds=200,
    ),
    Case(
        "PATCH",
        "/api/v1/channels/{pk}/",
        CONNECTORS,
        lambda w: {"credentials": {"access_token": "shpat_new"}},
        "channel",
        "replacing credentials",
        succeeds=200,
    ),
    Case(
        "PATCH",
        "/api/v1/channels/{pk}/",
        CONNECTORS,
        lambda w: {"credentials": {}},
        "channel",
        "clearing credentials",
        succeeds=200,
    ),
    Case(
        "PATCH",
        "/api/v1/channels/{pk}/",
        CONNECTORS,
        lambda w: {"is_active": False},
        "channel",
        "disconnecting",
        succeeds=200,
    ),
    Case(
        "PATCH",
        "/api/v1/channels/{pk}/",
        CONNECTORS,
        lambda w: {"kind": "woocommerce"},
        "channel",
        "switching the connector",  # refused for everyone (a kind never changes): 403 or 400
    ),
    Case(
        "PATCH",
        "/api/v1/channels/{pk}/",
        CHANNEL_WRITERS,
        lambda w: {"is_active": True, "kind": "shopify", "name": "Same connection"},
        "channel",
        "restating the connection unchanged",
        succeeds=200,
    ),
    Case("POST", "/api/v1/channels/{pk}/sync/", CONNECTORS, obj="channel", succeeds=202),
    # --- webhooks ---------------------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/webhook-endpoints/",
        WEBHOOKS,
        lambda w: {"url": "https://127.0.0.1/matrix"},
        succeeds=201,
    ),
    Case(
        "PATCH",
        "/api/v1/webhook-endpoints/{pk}/",
        WEBHOOKS,
        lambda w: {"description": "R"},
        "webhook_endpoint",
        succeeds=200,
    ),
    Case("DELETE", "/api/v1/webhook-endpoints/{pk}/", frozenset({M}), obj="webhook_endpoint"),
    Case(
        "POST",
        "/api/v1/webhook-endpoints/{pk}/rotate-secret/",
        WEBHOOKS,
        obj="webhook_endpoint",
        succeeds=200,
    ),
    Case("POST", "/api/v1/webhook-endpoints/{pk}/disable/", WEBHOOKS, obj="webhook_endpoint"),
    Case("POST", "/api/v1/webhook-endpoints/{pk}/enable/", WEBHOOKS, obj="webhook_endpoint"),
    Case(
        "POST",
        "/api/v1/webhook-deliveries/{pk}/redeliver/",
        WEBHOOKS,
        obj="webhook_delivery",
    ),
    # --- what-if routing (reports) ------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/routing-drafts/",
        ROUTING_DRAFTS,
        lambda w: {"name": "matrix", "locations": [{"location": "BER", "ships_online": False}]},
        succeeds=201,
    ),
    Case(
        "POST",
        "/api/v1/routing-drafts/{pk}/publish/",
        ROUTING_DRAFTS,
        obj="routing_draft",
        succeeds=200,
    ),
    Case(
        "POST",
        "/api/v1/whatif-runs/",
        ROUTING_DRAFTS,
        lambda w: {"draft": w["routing_draft"], "from": "2025-03-03", "to": "2025-03-04"},
        succeeds=202,
    ),
    # --- subscriptions ----------------------------------------------------------------------
    Case("POST", "/api/v1/subscriptions/", SUBSCRIPTIONS),
    Case("PATCH", "/api/v1/subscriptions/{pk}/", SUBSCRIPTIONS, obj="subscription"),
    Case("POST", "/api/v1/subscriptions/{pk}/pause/", SUBSCRIPTIONS, obj="subscription"),
    Case("POST", "/api/v1/subscriptions/{pk}/resume/", SUBSCRIPTIONS, obj="subscription"),
    Case("POST", "/api/v1/subscriptions/{pk}/skip/", SUBSCRIPTIONS, obj="subscription"),
    Case("POST", "/api/v1/subscriptions/{pk}/cancel/", SUBSCRIPTIONS, obj="subscription"),
    Case("POST", "/api/v1/subscriptions/{pk}/renew/", SUBSCRIPTIONS, obj="subscription"),
]


def command_endpoints() -> set[tuple[str, str]]:
    """Every write route under /api/v1/, as the URL resolver has them."""
    return {
        (method, path)
        for path, method, _callback in EndpointEnumerator().get_api_endpoints()
        if path.startswith("/api/v1/") and method in ("POST", "PUT", "PATCH", "DELETE")
    }


def test_every_command_endpoint_has_a_row():
    assert command_endpoints() == {(case.method, case.path) for case in TABLE}


def test_the_table_says_who_refunds_and_who_manages_connections():
    refunds = [c for c in TABLE if "refund" in c.path]
    assert refunds
    assert all(c.allowed == REFUNDERS for c in refunds)
    assert all(I not in c.allowed for c in refunds)
    assert all(W not in c.allowed for c in refunds)
    privacy = {c.path for c in TABLE if "/customers/" in c.path}
    assert privacy == {"/api/v1/customers/{pk}/export/", "/api/v1/customers/{pk}/erase/"}
    assert all(c.allowed == PRIVACY for c in TABLE if c.path in privacy)
    what_if = {c.path for c in TABLE if "/routing-drafts/" in c.path or "/whatif-runs/" in c.path}
    assert all(c.allowed == ROUTING_DRAFTS for c in TABLE if c.path in what_if)
    connections = [  # deletes are the manager's too: integrators never delete
        c
        for c in TABLE
        if c.allowed == CONNECTORS
        and c.path not in privacy | what_if
        and "/webhook-" not in c.path
        and c.method != "DELETE"
    ]
    assert {c.path for c in connections} == {
        "/api/v1/channels/",
        "/api/v1/channels/{pk}/",
        "/api/v1/channels/{pk}/sync/",
    }


@pytest.mark.django_db
def test_the_roles_have_the_custom_permissions_of_the_readme():
    from django.contrib.auth.models import Group

    from oms.roles import roles_sync

    roles_sync(apps)
    held = {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.filter(
                codename__in=["refund_orders", "manage_channel_connections"]
            )
        }
        for group in Group.objects.filter(name__in=ROLES)
    }
    assert held == {
        M: {"returns.refund_orders", "channels.manage_channel_connections"},
        W: set(),
        C: {"returns.refund_orders"},
        I: set(),
    }


@pytest.fixture
def world(network, shipped, settings):
    """Objects for every command: an open paid order with its shipment, a shipped one with a
    received return, a draft transfer, a connected Shopify channel, the roles' grants."""
    from oms.roles import roles_sync
    from subscriptions.services import subscription_create

    roles_sync(apps)
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = True
    endpoint, _ = webhook_services.endpoint_create(url="https://127.0.0.1/world")
    o, lines = shipped
    ret = return_services.return_create(
        order=o,
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "damaged"}],
    )
    return_services.return_authorise(return_request=ret)
    return_services.return_receive(
        return_request=ret,
        location="BER",
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "condition": "sellable"}],
    )
    channel = network["channel"]
    channel_services.channel_set_credentials(channel=channel, credentials={"access_token": "x"})
    berlin, munich = network["locations"]["BER"], network["locations"]["MUC"]
    sku = network["skus"]["A"]
    put(network, "BER", "A", 10)
    open_order = order("HAMBURG", {"A": 1})
    transfer = transfers.transfer_create(from_location=berlin, to_location=munich, lines=[(sku, 1)])
    run_outbox("webhooks.event_record")  # the worker records the events: deliveries
    to_confirm = return_services.refund_create(order=o, amount=Decimal("1.00"))
    Refund.objects.filter(pk=to_confirm.pk).update(waiting_for="staff", provider="manual")
    failed = return_services.refund_create(order=o, amount=Decimal("1.00"))
    Refund.objects.filter(pk=failed.pk).update(status="failed", failure_reason="declined")
    draft = routing_draft_create(name="world", actor="test")
    unpaid = order("HAMBURG", {"A": 1}, payment_status="pending")
    capture_failed = Payment.objects.create(
        order=open_order,
        provider="stripe",
        kind="capture",
        status="failed",
        amount=Decimal("10.00"),
        currency="EUR",
        key=f"capture-shipment-{open_order.shipments.get().pk}",
        failure_reason="declined",
    )
    subscription = subscription_create(
        channel=channel.code,
        customer={"email": "sub@example.com", "name": "Sub Scriber"},
        shipping_address={
            "name": "Sub Scriber",
            "line1": "Torstr. 1",
            "city": "Berlin",
            "postal_code": "10119",
            "country": "DE",
        },
        lines=[{"sku": sku.code, "quantity": 1, "unit_price": Decimal("5.00")}],
        currency=channel.currency,
        interval="month",
    )
    price = sku_price_set(sku=sku, currency="EUR", amount=Decimal("9.50"))
    return {
        "sku_price": price.pk,
        "payment_pending_order": unpaid.pk,
        "capture_failed": capture_failed.pk,
        "subscription": subscription.pk,
        "refund_to_confirm": to_confirm.pk,
        "refund_failed": failed.pk,
        "routing_draft": draft.pk,
        "sku": sku.pk,
        "location": berlin.pk,
        "stock_level": StockLevel.objects.get(sku=sku, location=berlin).pk,
        "transfer": transfer.pk,
        "open_order": open_order.pk,
        "customer": open_order.customer_id,
        "open_line": open_order.lines.get().pk,
        "shipment": open_order.shipments.get().pk,
        "shipped_order": o.pk,
        "shipped_line": lines["A"].pk,
        "return": ret.pk,
        "channel": channel.pk,
        "webhook_endpoint": endpoint.pk,
        "webhook_delivery": WebhookDelivery.objects.filter(endpoint=endpoint).first().pk,
    }


def database_state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every OMS table (and the kernel's: outbox, idempotency keys)."""
    state = {}
    for label in (*OMS_APPS, "oms"):
        for model in apps.get_app_config(label).get_models():
            if model._meta.model_name == "workerheartbeat" or not model._meta.managed:
                continue  # unmanaged: no table (channels.ChannelConnection holds a permission)
            state[model._meta.label] = list(model._default_manager.order_by("pk").values())
    return state


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", TABLE, ids=[case.id for case in TABLE])
def test_a_role_may_or_may_not_run_a_command(world, case, role):
    client = token_client(role)
    path = case.path.replace("{pk}", str(world[case.obj])) if case.obj else case.path
    before = database_state()
    response = getattr(client, case.method.lower())(path, case.body(world), format="json")
    if role in case.allowed:
        assert response.status_code != 403, response.content
        if case.succeeds is not None:
            assert response.status_code == case.succeeds, response.content
    else:
        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "permission_denied"
        assert database_state() == before


def test_a_cancellation_refunds_what_was_paid_whoever_may_cancel(
    world, eager, django_capture_on_commit_callbacks
):
    """The Integrator may not refund, but may cancel: the refund of a paid cancelled order is
    the system's duty (returns.services.refund_for_cancellation), not the caller's command."""
    client = token_client(INTEGRATOR)
    assert client.post("/api/v1/refunds/", {}, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/orders/{world['open_order']}/cancel/", {}, format="json")
    assert response.status_code == 200, response.content
    refund = Refund.objects.get(order_id=world["open_order"])
    assert refund.amount == Decimal("10.00")
    assert refund.reason.startswith("order cancelled")


# --- the admin --------------------------------------------------------------------------------

STAFF = ("superuser", M, W, C, I, CHANGER)


@dataclass(frozen=True)
class AdminAction:
    changelist: str
    action: str
    obj: str
    allowed: frozenset[str]
    #: What the action writes (compared before and after).
    effect: Callable[[], Any] = field(default=lambda: None)


ADMIN_ACTIONS = [
    AdminAction(
        "/admin/returns/returnrequest/",
        "refund_suggested",
        "return",
        frozenset({"superuser", M, C}),
        lambda: Refund.objects.count(),
    ),
    *(
        AdminAction(
            "/admin/inventory/channel/",
            name,
            "channel",
            frozenset({"superuser", M}),
            lambda: (
                OutboxMessage.objects.count(),
                apps.get_model("channels", "ChannelStockChange").objects.count(),
            ),
        )
        for name in ("sync_now", "push_stock_now", "reconcile_stock")
    ),
]


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("case", ADMIN_ACTIONS, ids=[a.action for a in ADMIN_ACTIONS])
def test_a_role_may_or_may_not_run_an_admin_action(world, case, role):
    client = staff_client(role)
    listing = client.get(case.changelist)
    if role == INTEGRATOR:
        assert listing.status_code == 302  # an API account never gets into the back office
    else:
        assert listing.status_code == 200
        form = listing.context["action_form"]  # None when no action at all is offered
        offered = {name for name, _ in form.fields["action"].choices} if form else set()
        assert (case.action in offered) is (role in case.allowed)
    before = case.effect()
    response = client.post(
        case.changelist, {"action": case.action, "_selected_action": [world[case.obj]]}
    )
    assert response.status_code in (200, 302)
    if role in case.allowed:
        assert case.effect() != before
    else:
        assert case.effect() == before  # a forged POST of an action not offered does nothing


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("superuser", True), (M, True), (W, False), (C, False), (I, False), (CHANGER, False)],
)
def test_a_role_may_or_may_not_replace_credentials_in_the_admin(world, role, allowed):
    channel = Channel.objects.get(pk=world["channel"])
    form = {
        "name": channel.name,
        "kind": channel.kind,
        "currency": channel.currency,
        "locations": [loc.pk for loc in channel.locations.all()],
        "stock_buffer": "0",
        "is_active": "on",
        "send_emails": "on",
        "location_map": "{}",
        "sync_interval_minutes": "5",
        "sync_overlap_minutes": "10",
        "return_window_days": "30",
        "returns_auto_authorise": "on",
        "refund_basis": "received",
        "exchange_timing": "on_receipt",
        "payment_provider": "channel",
        "shipped_elsewhere_stock": "none",
        "refund_restock": "none",
        "credentials": '{"access_token": "replaced"}',
    }
    response = staff_client(role).post(f"/admin/inventory/channel/{channel.pk}/change/", form)
    channel.refresh_from_db()
    if allowed:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert channel.credentials() == {"access_token": "replaced"}
    else:
        # The login page, refused, or saved without the field (not on the form of a user
        # who may change the channel but not its connection).
        assert response.status_code in (302, 403)
        assert channel.credentials() == {"access_token": "x"}
