"""Secrets are write-only everywhere: no page, answer, log entry, string or error report shows one.

Each secret holder is made with a distinctive value (a channel's credentials, a 3PL partner's
signing secret, the carriers' keys in the environment); every admin page of those objects is
rendered for the superuser and each staff role, every API read for each role (the Integrator by
token), and the bodies are searched for the values.
"""

from __future__ import annotations

import base64
import html
import json
import re
import sys
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.views.debug import ExceptionReporter

from channels import services as channel_services
from channels.adapters.base import AdapterContext
from fulfilment.models import ThirdPartyPartner
from fulfilment.services.partners import partner_create
from inventory.models import Channel
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE
from tests import staff
from tests.factories import LocationFactory

ACCESS_TOKEN = "shpat_SECRET123accesstoken"
WEBHOOK_SECRET = "whsec_SECRET456webhook"
REFRESH_TOKEN = "Atzr|SECRET789refresh"
NEW_TOKEN = "shpat_SECRET000replaced"
PARTNER_KEY = b"SECRET-partner-key-0123456789abc"
PARTNER_SECRET = "whsec_" + base64.b64encode(PARTNER_KEY).decode()
NEW_PARTNER_SECRET = "whsec_" + base64.b64encode(b"SECRET-partner-key-replaced-9876").decode()
EASYPOST_KEY = "EZAK_SECRET_easypost_key_42"
CARRIER_WEBHOOK_SECRET = "SECRET_carrier_webhook_77"
BROKER_PASSWORD = "SECRET_broker_password"
SMTP_PASSWORD = "SECRET_smtp_password"

SECRETS = (
    ACCESS_TOKEN,
    WEBHOOK_SECRET,
    REFRESH_TOKEN,
    NEW_TOKEN,
    PARTNER_SECRET,
    PARTNER_SECRET.removeprefix("whsec_"),
    NEW_PARTNER_SECRET,
    NEW_PARTNER_SECRET.removeprefix("whsec_"),
    PARTNER_KEY.decode(),
    EASYPOST_KEY,
    CARRIER_WEBHOOK_SECRET,
    BROKER_PASSWORD,
    SMTP_PASSWORD,
)
STAFF_ROLES = ("superuser", MANAGER, WAREHOUSE, CUSTOMER_CARE)


def assert_no_secret(text: str | bytes, where: str) -> None:
    body = text.decode(errors="replace") if isinstance(text, bytes) else text
    shown = [s for s in SECRETS if s in body or html.escape(s) in body]
    assert not shown, f"{where} shows {shown}"


@pytest.fixture
def roles(db):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)


@pytest.fixture
def holders(roles, monkeypatch):
    monkeypatch.setenv("OMS_EASYPOST_API_KEY", EASYPOST_KEY)
    monkeypatch.setenv("OMS_EASYPOST_WEBHOOK_SECRET", CARRIER_WEBHOOK_SECRET)
    monkeypatch.setenv("OMS_INHOUSE_WEBHOOK_SECRET", CARRIER_WEBHOOK_SECRET)
    berlin = LocationFactory(code="BER")
    london = LocationFactory(code="LON", kind="3pl", country="GB", city="London")
    channel = channel_services.channel_create(
        code="shop",
        name="Shop",
        kind="shopify",
        currency="EUR",
        locations=[berlin],
        credentials={
            "shop_domain": "shop.example",
            "access_token": ACCESS_TOKEN,
            "webhook_secret": WEBHOOK_SECRET,
            "refresh_token": REFRESH_TOKEN,
        },
    )
    partner = partner_create(
        location=london,
        name="UK Fulfilment Ltd",
        endpoint="https://3pl.example/orders",
        secret=PARTNER_SECRET,
        countries="gb",
    )
    return {"channel": channel, "partner": partner}


def staff_client(role: str) -> Client:
    return staff.admin_client_of(staff.user_of(role))


def token_client(role: str) -> Any:
    return staff.api_client_of(staff.user_of(role))


def admin_pages(channel: Channel, partner: ThirdPartyPartner) -> list[str]:
    pages = []
    for base, pk in (
        ("/admin/inventory/channel/", channel.pk),
        ("/admin/fulfilment/thirdpartypartner/", partner.pk),
    ):
        pages += [
            base,
            f"{base}{pk}/change/",
            f"{base}{pk}/history/",
            f"{base}{pk}/delete/",
            f"{base}add/",
        ]
    return [
        *pages,
        "/admin/channels/channellisting/add/",
        "/admin/autocomplete/?app_label=channels&model_name=channellisting&field_name=channel",
        "/admin/channels/channelsyncrun/",
        "/admin/channels/channelpush/",
        "/admin/fulfilment/shipment/",
        "/admin/oms/outboxmessage/",
        "/admin/",
        "/healthz",
    ]


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_no_admin_page_shows_a_secret(holders, role):
    client = staff_client(role)
    seen = []
    for url in admin_pages(holders["channel"], holders["partner"]):
        response = client.get(url)
        assert response.status_code in (200, 302, 403, 503), (url, response.status_code)
        assert_no_secret(response.content, f"{url} as {role}")
        seen.append(response.status_code)
    assert seen.count(200) >= 8  # the pages were rendered, not refused
    page = client.get(f"/admin/inventory/channel/{holders['channel'].pk}/change/").content.decode()
    # Every reader is told that credentials are set, and which keys: never the values.
    assert "Set: access_token, refresh_token, shop_domain, webhook_secret" in page


@pytest.mark.parametrize(
    ("role", "may_replace"),
    [("superuser", True), (MANAGER, True), (WAREHOUSE, False), (CUSTOMER_CARE, False)],
)
def test_only_who_may_replace_credentials_gets_the_empty_field(holders, role, may_replace):
    client = staff_client(role)
    page = client.get(f"/admin/inventory/channel/{holders['channel'].pk}/change/").content.decode()
    assert ('name="credentials"' in page) is may_replace
    assert ('name="clear_credentials"' in page) is may_replace
    field = re.search(r"<textarea[^>]*name=\"credentials\"[^>]*>(.*?)</textarea>", page, re.S)
    if field:
        assert field.group(1).strip() == ""  # always empty


def test_a_user_who_may_change_a_channel_but_not_its_connection_never_gets_the_field(holders):
    from django.contrib.auth.models import Permission

    client = staff.admin_client_of(
        staff.user_of(
            "",
            perms=Permission.objects.filter(
                content_type__app_label="inventory",
                codename__in=["view_channel", "change_channel"],
            ),
        )
    )
    url = f"/admin/inventory/channel/{holders['channel'].pk}/change/"
    page = client.get(url).content.decode()
    assert_no_secret(page, "change page without the connection permission")
    assert 'name="credentials"' not in page
    assert 'name="name"' in page  # the rest of the channel is theirs to change
    assert 'name="is_active"' not in page  # connecting and disconnecting is not
    form = {
        "name": "Renamed",
        "currency": "EUR",
        "locations": [],
        "stock_buffer": "0",
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
        # A forged field: not in the form, so ignored.
        "credentials": '{"access_token": "shpat_SECRET000replaced"}',
        "clear_credentials": "on",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get(pk=holders["channel"].pk)
    assert channel.name == "Renamed"
    assert channel.is_active
    assert channel.credentials()["access_token"] == ACCESS_TOKEN


@pytest.mark.parametrize("role", [MANAGER, WAREHOUSE, CUSTOMER_CARE, INTEGRATOR])
def test_no_api_answer_shows_a_secret(holders, role):
    client = token_client(role)
    channel = holders["channel"]
    for url in (
        "/api/v1/channels/",
        f"/api/v1/channels/{channel.pk}/",
        "/api/v1/channels/?code=shop",
        "/api/v1/channel-sync-runs/",
        "/api/v1/locations/",
        "/api/v1/shipments/",
        "/api/schema/",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_no_secret(response.content, f"GET {url} as {role}")
    assert client.get(f"/api/v1/channels/{channel.pk}/").json()["has_credentials"] is True


def test_the_browsable_api_shows_no_secret_to_staff(holders):
    client = staff_client(MANAGER)
    channel = holders["channel"]
    for url in ("/api/v1/channels/", f"/api/v1/channels/{channel.pk}/"):
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert b"<html" in response.content  # the browsable page, with its forms
        assert_no_secret(response.content, f"browsable {url}")


def test_setting_credentials_through_the_api_answers_without_them(holders):
    client = token_client(MANAGER)
    channel = holders["channel"]
    for method, url, body in (
        ("patch", f"/api/v1/channels/{channel.pk}/", {"credentials": {"access_token": NEW_TOKEN}}),
        (
            "post",
            "/api/v1/channels/",
            {
                "code": "shop2",
                "name": "Shop 2",
                "kind": "shopify",
                "currency": "EUR",
                "credentials": {"access_token": NEW_TOKEN},
            },
        ),
    ):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code in (200, 201), response.content
        assert_no_secret(response.content, f"{method.upper()} {url}")
        assert response.json()["has_credentials"] is True
    channel.refresh_from_db()
    assert channel.credentials() == {"access_token": NEW_TOKEN}
    # A replayed POST (Idempotency-Key) answers the stored body: no secret there either.
    body = {"code": "shop3", "name": "3", "kind": "api", "currency": "EUR", "credentials": {}}
    for _ in range(2):
        response = client.post(
            "/api/v1/channels/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-secret-1"
        )
        assert_no_secret(response.content, "replayed POST")


def test_changing_secrets_in_the_admin_logs_no_value(holders):
    client = staff_client("superuser")
    channel = holders["channel"]
    form = {
        "name": "Shop",
        "kind": "shopify",
        "currency": "EUR",
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
        "credentials": json.dumps({"access_token": NEW_TOKEN}),
    }
    url = f"/admin/inventory/channel/{channel.pk}/change/"
    assert client.post(url, form).status_code == 302
    channel.refresh_from_db()
    assert channel.credentials() == {"access_token": NEW_TOKEN}
    partner = holders["partner"]
    partner_url = f"/admin/fulfilment/thirdpartypartner/{partner.pk}/change/"
    response = client.post(
        partner_url,
        {
            "name": partner.name,
            "endpoint": partner.endpoint,
            "countries": partner.countries,
            "is_active": "on",
            "secret": NEW_PARTNER_SECRET,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    entries = list(LogEntry.objects.all())
    assert len(entries) == 2
    for entry in entries:
        assert_no_secret(entry.change_message, "LogEntry.change_message")
        assert_no_secret(entry.get_change_message(), "LogEntry message")
        assert_no_secret(entry.object_repr, "LogEntry.object_repr")
    messages = " ".join(entry.get_change_message() for entry in entries).lower()
    assert "credentials" in messages
    assert "secret" in messages
    for role in STAFF_ROLES:
        for page in (url + "../history/", partner_url + "../history/", "/admin/"):
            assert_no_secret(staff_client(role).get(page).content, f"{page} as {role}")


def test_strings_and_reprs_of_secret_holders_show_no_secret(holders):
    channel = Channel.objects.get(pk=holders["channel"].pk)
    partner = ThirdPartyPartner.objects.get(pk=holders["partner"].pk)
    for obj in (channel, partner):
        assert_no_secret(str(obj), f"str({type(obj).__name__})")
        assert_no_secret(repr(obj), f"repr({type(obj).__name__})")
    assert_no_secret(
        repr(
            AdapterContext(channel_code="shop", currency="EUR", credentials=channel.credentials())
        ),
        "repr(AdapterContext)",
    )
    from fulfilment.adapters.carriers import carrier_for

    for code in ("easypost", "inhouse"):
        assert_no_secret(repr(carrier_for(code)), f"repr of the {code} carrier")


def _error_report(request: Any) -> str:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    return reporter.get_traceback_text() + reporter.get_traceback_html()


def test_error_reports_of_a_secret_form_post_show_no_secret(holders, settings):
    """What a server error would report (the error e-mail, with DEBUG off) about a request
    that posted a secret, or about settings holding one, masks the secret."""
    settings.DEBUG = False
    settings.CELERY_BROKER_URL = f"redis://:{BROKER_PASSWORD}@127.0.0.1:6379/0"
    settings.EMAIL_HOST_PASSWORD = SMTP_PASSWORD
    client = staff_client("superuser")
    channel = holders["channel"]
    partner = holders["partner"]
    for url, body in (
        (
            f"/admin/inventory/channel/{channel.pk}/change/",
            {"credentials": json.dumps({"access_token": NEW_TOKEN}), "name": ""},
        ),
        (
            f"/admin/fulfilment/thirdpartypartner/{partner.pk}/change/",
            {"secret": NEW_PARTNER_SECRET, "name": ""},
        ),
    ):
        response = client.post(url, body)
        assert response.status_code == 200  # the form again (a name is required)
        assert_no_secret(response.content, f"the refused form of {url}")
        assert_no_secret(_error_report(response.wsgi_request), f"error report of POST {url}")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("amqp://guest:guest@rabbit:5672//", "amqp://guest:***@rabbit:5672//"),
        (
            "cannot reach postgres://oms:s3cr%40t@db/oms (timeout)",
            "cannot reach postgres://oms:***@db/oms (timeout)",
        ),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),  # no password: unchanged
        ("https://shop.example:8443/path", "https://shop.example:8443/path"),
    ],
)
def test_url_passwords_are_masked(text, masked):
    from oms.debug import url_passwords_masked

    assert url_passwords_masked(text, "***") == masked


def test_error_reports_mask_secrets_held_in_local_variables(holders, settings):
    """A server error deep in a command that carries credentials (a PATCH of a channel)."""
    from channels.api.serializers import ChannelInputSerializer

    settings.DEBUG = False
    channel = holders["channel"]

    def failing_command(credentials: dict[str, str], data: dict[str, Any]) -> None:
        serializer = ChannelInputSerializer(channel, data=data, partial=True)
        access_token = credentials["access_token"]
        raise RuntimeError(f"the database went away ({len(access_token)} {serializer!s:.0})")

    request = staff_client("superuser").get("/admin/").wsgi_request
    try:
        failing_command({"access_token": NEW_TOKEN}, {"credentials": {"access_token": NEW_TOKEN}})
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    report = reporter.get_traceback_text() + reporter.get_traceback_html()
    assert "failing_command" in report  # the frame is in the report, its secrets are not
    assert_no_secret(report, "the error report")
