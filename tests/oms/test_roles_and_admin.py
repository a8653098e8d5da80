"""Staff roles and the back office: who may do what, and changelists with bounded queries."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from inventory.models import Channel, Location, Sku
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE
from tests.factories import ChannelFactory, LocationFactory, SkuFactory, UserFactory

PASSWORD = "correct horse battery staple"


def staff_client(*roles: str, superuser: bool = False) -> Client:
    user = UserFactory(roles=list(roles), is_staff=True, is_superuser=superuser)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_four_roles_exist_with_permissions():
    groups = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert {MANAGER, WAREHOUSE, CUSTOMER_CARE, INTEGRATOR} <= set(groups)
    assert {"delete_channel", "add_token"} <= groups[MANAGER]
    assert {"change_sku", "change_location", "view_channel"} <= groups[WAREHOUSE]
    assert "change_channel" not in groups[WAREHOUSE]
    assert "view_channel" in groups[CUSTOMER_CARE]
    assert {"add_sku", "change_channel"} <= groups[INTEGRATOR]
    assert not any(p.startswith("delete_") for p in groups[INTEGRATOR])


@pytest.mark.django_db
def test_an_integrator_cannot_log_into_the_admin_even_as_staff():
    UserFactory(username="robot", roles=[INTEGRATOR], is_staff=True)
    client = Client()
    response = client.post("/admin/login/", {"username": "robot", "password": PASSWORD})
    assert response.status_code == 200  # the login form again, with an error
    assert "API account" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    # Nor does a session obtained elsewhere open it.
    client.force_login(response.context["form"].get_user() or UserFactory(username="robot"))
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_warehouse_staff_log_in_and_see_but_cannot_edit_channels():
    UserFactory(username="picker", roles=[WAREHOUSE], is_staff=True)
    client = Client()
    response = client.post("/admin/login/", {"username": "picker", "password": PASSWORD})
    assert response.status_code == 302
    channel = ChannelFactory(name="Before")
    assert client.get("/admin/inventory/channel/").status_code == 200
    page = client.get(f"/admin/inventory/channel/{channel.id}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # read-only view
    post = client.post(
        f"/admin/inventory/channel/{channel.id}/change/",
        {"name": "After", "kind": "shopify", "currency": "EUR", "stock_buffer": 0},
    )
    assert post.status_code == 403
    channel.refresh_from_db()
    assert channel.name == "Before"


@pytest.mark.django_db
def test_warehouse_cannot_edit_channels_through_the_api(warehouse_api):
    channel = ChannelFactory()
    response = warehouse_api.patch(f"/api/v1/channels/{channel.id}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert warehouse_api.get("/api/v1/channels/").status_code == 200


@pytest.mark.django_db
def test_customer_care_reads_but_does_not_write_the_catalogue(care_api):
    assert care_api.get("/api/v1/skus/").status_code == 200
    response = care_api.post("/api/v1/skus/", {"code": "X", "name": "X"}, format="json")
    assert response.status_code == 403
    assert not Sku.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "factory"),
    [
        ("/admin/inventory/sku/", SkuFactory),
        ("/admin/inventory/location/", LocationFactory),
        ("/admin/inventory/channel/", ChannelFactory),
    ],
)
def test_changelists_render_with_a_bounded_number_of_queries(
    url, factory, django_assert_max_num_queries
):
    client = staff_client(superuser=True)
    factory.create_batch(5)
    with django_assert_max_num_queries(12) as small:
        assert client.get(url).status_code == 200
    factory.create_batch(40)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


@pytest.mark.django_db
def test_adding_a_sku_in_the_admin_goes_through_the_service():
    client = staff_client(WAREHOUSE)
    response = client.post(
        "/admin/inventory/sku/add/",
        {
            "code": "ADM-1",
            "name": "Added in admin",
            "barcode": "",
            "is_active": "on",
            "track_inventory": "on",
            "lead_time_days": "14",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    sku = Sku.objects.get(code="ADM-1")
    assert sku.name == "Added in admin"
    response = client.post(
        f"/admin/inventory/sku/{sku.id}/change/",
        {
            "name": "Renamed",
            "barcode": "",
            "is_active": "on",
            "track_inventory": "on",
            "lead_time_days": "14",
        },
    )
    assert response.status_code == 302
    sku.refresh_from_db()
    assert (sku.code, sku.name) == ("ADM-1", "Renamed")


@pytest.mark.django_db
def test_nothing_can_be_deleted_from_the_admin():
    client = staff_client(superuser=True)
    location = LocationFactory()
    assert client.get(f"/admin/inventory/location/{location.id}/delete/").status_code == 403
    assert Location.objects.filter(pk=location.pk).exists()


@pytest.mark.django_db
def test_channel_credentials_are_write_only_in_the_admin():
    client = staff_client(superuser=True)
    berlin = LocationFactory(code="BER")
    form = {
        "code": "shop",
        "name": "Shop",
        "kind": "shopify",
        "currency": "EUR",
        "locations": [berlin.id],
        "stock_buffer": "1",
        "is_active": "on",
        "credentials": '{"access_token": "shpat_topsecret"}',
        # The rest of the form as the browser sends it (its initial values).
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
    }
    response = client.post("/admin/inventory/channel/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    channel = Channel.objects.get(code="shop")
    assert channel.credentials() == {"access_token": "shpat_topsecret"}
    assert list(channel.locations.all()) == [berlin]

    page = client.get(f"/admin/inventory/channel/{channel.id}/change/").content.decode()
    assert "shpat_topsecret" not in page
    assert channel.credentials_encrypted not in page

    # Saving with the field left empty keeps the stored secret.
    change = {k: v for k, v in form.items() if k != "code"} | {"credentials": "", "name": "Renamed"}
    assert client.post(f"/admin/inventory/channel/{channel.id}/change/", change).status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Renamed"
    assert channel.credentials() == {"access_token": "shpat_topsecret"}

    bad = client.post(
        f"/admin/inventory/channel/{channel.id}/change/", change | {"credentials": "[1, 2]"}
    )
    assert bad.status_code == 200
    assert "Enter a JSON object" in bad.content.decode()

    cleared = change | {"clear_credentials": "on"}
    assert client.post(f"/admin/inventory/channel/{channel.id}/change/", cleared).status_code == 302
    channel.refresh_from_db()
    assert channel.credentials() == {}


@pytest.mark.django_db
def test_old_admin_bookmarks_of_channels_lead_to_their_new_place(admin_client):
    """The Channel moved to inventory (issue 15): /admin/channels/channel/... redirects."""
    channel = ChannelFactory()
    for old, new in [
        ("/admin/channels/channel/", "/admin/inventory/channel/"),
        ("/admin/channels/channel/?q=x", "/admin/inventory/channel/?q=x"),
        (
            f"/admin/channels/channel/{channel.pk}/change/",
            f"/admin/inventory/channel/{channel.pk}/change/",
        ),
    ]:
        response = admin_client.get(old)
        assert (response.status_code, response["Location"]) == (301, new)
        assert admin_client.get(new).status_code == 200
    # The channels app's other pages stay where they were.
    assert admin_client.get("/admin/channels/channelsyncrun/").status_code == 200
