"""A channel's branding (issue 21 point 6): the merchant name and logo on what the shopper
sees (packing slip, e-mails, tracking page), set in the admin and the API, https only."""

from __future__ import annotations

import io

import pypdf
import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from fulfilment.documents import packing_slip_pdf
from fulfilment.models import Shipment
from fulfilment.notifications import email_render
from fulfilment.tracking_page import CONTENT_SECURITY_POLICY, logo_source
from inventory.models import Channel
from tests.fulfilment.conftest import order, put
from tests.orders.test_admin import staff_client

LOGO = "https://cdn.example.com/brand/logo.png?v=2"


@pytest.fixture
def branded(network):
    for sku in ("A", "B"):
        put(network, "BER", sku, 10)
    channel = network["channel"]
    Channel.objects.filter(pk=channel.pk).update(
        name="Web channel", merchant_name="Maison <Dupont> & Fils", logo_url=LOGO
    )
    return network


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_display_name_falls_back_to_the_channel_name(network):
    channel = network["channel"]
    channel.name, channel.merchant_name = "Web channel", "  "
    assert channel.display_name == "Web channel"
    channel.merchant_name = "Maison Dupont"
    assert channel.display_name == "Maison Dupont"


@pytest.mark.parametrize(
    "url", ["http://cdn.example.com/logo.png", "ftp://cdn.example.com/l.png", "not a url"]
)
def test_the_model_refuses_a_logo_that_is_not_https(network, url):
    channel = network["channel"]
    channel.logo_url = url
    with pytest.raises(ValidationError) as refused:
        channel.full_clean()
    assert "logo_url" in refused.value.message_dict


def test_the_api_sets_the_branding_and_refuses_a_bad_url(manager_api, network):
    channel = network["channel"]
    url = f"/api/v1/channels/{channel.pk}/"
    for bad in ("http://cdn.example.com/logo.png", "javascript:alert(1)", "x" * 10):
        response = manager_api.patch(url, {"logo_url": bad, "merchant_name": "Nope"}, format="json")
        assert response.status_code == 400, response.json()
        assert "logo_url" in str(response.json())
        assert response["Content-Type"].startswith("application/problem+json")
    channel.refresh_from_db()
    assert (channel.merchant_name, channel.logo_url) == ("", "")

    response = manager_api.patch(
        url, {"logo_url": LOGO, "merchant_name": "Maison Dupont"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["merchant_name"], response.json()["logo_url"]) == (
        "Maison Dupont",
        LOGO,
    )
    assert manager_api.get(url).json()["logo_url"] == LOGO
    # Blank clears them.
    response = manager_api.patch(url, {"logo_url": "", "merchant_name": ""}, format="json")
    assert response.status_code == 200
    channel.refresh_from_db()
    assert (channel.merchant_name, channel.logo_url) == ("", "")


def _admin_form(channel: Channel, **changes: str) -> dict[str, object]:
    form: dict[str, object] = {
        "name": channel.name,
        "kind": channel.kind,
        "currency": channel.currency,
        "locations": [loc.pk for loc in channel.locations.all()],
        "stock_buffer": "0",
        "is_active": "on",
        "credentials": "",
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
        "merchant_name": "",
        "logo_url": "",
    }
    return form | changes


def test_the_admin_form_edits_the_branding_and_refuses_http(network):
    client = staff_client(superuser=True)
    channel = network["channel"]
    url = f"/admin/inventory/channel/{channel.pk}/change/"
    page = client.get(url).content.decode()
    assert "Branding" in page
    assert 'name="merchant_name"' in page
    assert 'name="logo_url"' in page

    refused = client.post(url, _admin_form(channel, logo_url="http://cdn.example.com/l.png"))
    assert refused.status_code == 200
    assert "Enter an https:// URL." in refused.content.decode()
    channel.refresh_from_db()
    assert channel.logo_url == ""

    saved = client.post(url, _admin_form(channel, merchant_name="Maison Dupont", logo_url=LOGO))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    channel.refresh_from_db()
    assert (channel.merchant_name, channel.logo_url) == ("Maison Dupont", LOGO)


def test_the_packing_slip_prints_the_merchant_name(branded, django_assert_num_queries):
    shipment = Shipment.objects.get(order=order(lines={"A": 1}))
    with django_assert_num_queries(3):
        data = packing_slip_pdf(shipment.pk)
    text = pdf_text(data)
    assert text.startswith("Maison <Dupont> & Fils")
    assert "Packing slip" in text
    assert pypdf.PdfReader(io.BytesIO(data)).metadata.author == "Maison <Dupont> & Fils"
    assert "Maison" in pdf_text(packing_slip_pdf(shipment.pk, size="4x6"))


def test_the_packing_slip_falls_back_to_the_channel_name(network):
    put(network, "BER", "A", 1)
    Channel.objects.filter(pk=network["channel"].pk).update(name="Web channel")
    shipment = Shipment.objects.get(order=order(lines={"A": 1}))
    assert pdf_text(packing_slip_pdf(shipment.pk)).startswith("Web channel")


def test_an_email_shows_the_merchant_name_and_logo(branded):
    o = order(lines={"A": 1})
    _subject, text, html = email_render(o, "confirmed")
    assert "Maison <Dupont> & Fils" in text  # plain text: not escaped
    assert f'<img src="{LOGO}" alt="Maison &lt;Dupont&gt; &amp; Fils"' in html
    assert "Maison <Dupont>" not in html  # autoescaped
    assert html.count("Maison &lt;Dupont&gt; &amp; Fils") >= 2  # the header and the footer


def test_an_email_without_a_logo_has_no_image(network):
    put(network, "BER", "A", 1)
    o = order(lines={"A": 1})
    _subject, _text, html = email_render(o, "confirmed")
    assert "<img" not in html
    assert network["channel"].name in html


def test_the_tracking_page_shows_the_merchant_name_and_logo(branded):
    o = order(lines={"A": 1})
    response = Client().get(f"/track/{o.tracking_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'alt="Maison &lt;Dupont&gt; &amp; Fils"' in html
    assert 'src="https://cdn.example.com/brand/logo.png?v=2"' in html
    assert "Maison <Dupont>" not in html
    csp = response["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.example.com data:" in csp
    assert csp.replace(" https://cdn.example.com", "") == CONTENT_SECURITY_POLICY


def test_the_tracking_page_without_branding_keeps_its_policy(network):
    put(network, "BER", "A", 1)
    Channel.objects.filter(pk=network["channel"].pk).update(name="Web channel")
    o = order(lines={"A": 1})
    response = Client().get(f"/track/{o.tracking_token}/")
    html = response.content.decode()
    assert "<img" not in html
    assert "Web channel" in html
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("", ""),
        ("https://cdn.example.com/a.png", "https://cdn.example.com"),
        ("https://CDN.Example.com:8443/a.png", "https://cdn.example.com:8443"),
        ("http://cdn.example.com/a.png", ""),
        ("https://[::1]/a.png", ""),
        ("https://cdn.example.com:99999/a.png", ""),
    ],
)
def test_the_logo_source_of_the_policy(url, source):
    assert logo_source(url) == source
