"""The shopper's language on the tracking page and in the e-mails: the order's own locale, else
the channel's language, else English; dates and money in that language's format."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from fulfilment.models import Shipment
from fulfilment.notifications import email_render
from fulfilment.services import shipment_pack, shipment_pick, shipment_ship
from inventory.models import Channel
from orders.language import shopper_language
from orders.models import Order
from tests.fulfilment.conftest import order, put


@pytest.fixture
def shop(network, settings):
    settings.OMS_PUBLIC_URL = "https://shop.example/"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    put(network, "BER", "A", 10)
    put(network, "BER", "B", 10)
    return network


def speaks(language: str) -> None:
    Channel.objects.filter(code="web").update(language=language)


def shipped(o: Order) -> Shipment:
    shipment = Shipment.objects.get(order=o)
    shipment_pick(
        shipment=shipment, lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    )
    shipment_pack(shipment=shipment, parcels=[{"weight_grams": 800}])
    done = shipment_ship(shipment=shipment, carrier="dhl", tracking_number="JJD0099887766")
    Shipment.objects.filter(pk=done.pk).update(expected_delivery_date=dt.date(2027, 1, 14))
    done.refresh_from_db()
    return done


def test_the_order_decides_then_the_channel_then_english(shop):
    o = order("HAMBURG", {"A": 1})
    assert shopper_language(order=o) == "en"
    speaks("de")
    o = Order.objects.select_related("channel").get(pk=o.pk)
    assert shopper_language(order=o) == "de"
    # Shopify's customer_locale (any region) wins over the channel's setting.
    o.raw_payload = {"customer_locale": "fr-CA"}
    assert shopper_language(order=o) == "fr"
    # A language we do not ship falls back to the channel's, then to English.
    o.raw_payload = {"customer_locale": "pt-BR"}
    assert shopper_language(order=o) == "de"
    o.channel.language = "xx"
    assert shopper_language(order=o) == "en"
    assert shopper_language() == "en"


def test_the_tracking_page_of_a_german_channel_is_german(shop):
    speaks("de")
    o = order("HAMBURG", {"A": 1, "B": 1})
    Order.objects.filter(pk=o.pk).update(placed_at=dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC))
    shipped(o)
    response = Client().get(f"/track/{o.tracking_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="de">' in html
    assert f"Bestellung {o.number}" in html
    assert "Bestellt am" in html
    assert "7. Dezember 2026" in html
    assert "Voraussichtliche Zustellung" in html
    assert "Do., 14. Jan. 2027" in html  # the expected day, German style
    assert "Ihr Paket" in html
    assert "Sendungsnummer" in html
    assert "Sendungsverlauf" in html
    assert "Order " not in html
    assert "Expected delivery" not in html


def test_an_unknown_language_reads_in_english(shop):
    speaks("de")
    o = order("HAMBURG", {"A": 1}, raw_payload={"customer_locale": "ja"})
    Channel.objects.filter(code="web").update(language="en")
    o.refresh_from_db()
    html = Client().get(f"/track/{o.tracking_token}/").content.decode()
    assert '<html lang="en">' in html
    assert f"Order {o.number}" in html
    assert "Placed on" in html


def test_a_french_order_gets_french_e_mails_with_french_money(shop):
    o = order("LYON", {"A": 2, "B": 1}, raw_payload={"customer_locale": "fr"})
    o.refresh_from_db()
    assert o.total == Decimal("30.00")
    subject, text, html = email_render(o, "confirmed")
    assert subject == f"Commande {o.number} confirmée"
    for part in (text, html):
        assert "Merci pour votre commande" in part
        assert "Adresse de livraison" in part
        assert "Voir votre commande" in part
        assert "30,00\u00a0€" in part  # CLDR's French amount: comma and no-break space
    assert '<html lang="fr"' in html
    assert "Thank you" not in text + html

    shipment = shipped(o)
    subject, text, html = email_render(o, "shipped", shipment)
    assert subject == f"Votre commande {o.number} est en route"
    for part in (text, html):
        assert "jeudi 14 janvier 2027" in part
        assert "Numéro de suivi" in part
        assert "Dans ce colis" in part


def test_sending_uses_the_language_too(shop, mailoutbox):
    from fulfilment.notifications import order_email_send

    speaks("fr")
    o = order("LYON", {"A": 1})
    assert order_email_send(order_id=o.pk, kind="confirmed")
    message = mailoutbox[-1]
    assert isinstance(message, mail.EmailMultiAlternatives)
    assert message.subject == f"Commande {o.number} confirmée"
    assert "Bonjour" in str(message.body)


def test_english_stays_the_default_with_english_money(shop):
    o = order("HAMBURG", {"A": 1})
    o.refresh_from_db()
    subject, text, _html = email_render(o, "confirmed")
    assert subject == f"Order {o.number} confirmed"
    assert "€10.00" in text


def test_the_channels_api_sets_the_language_and_refuses_an_unknown_one(manager_api, network):
    url = f"/api/v1/channels/{network['channel'].pk}/"
    assert manager_api.get(url).json()["language"] == "en"
    for bad in ("pt", "DE", "", 7, None):
        response = manager_api.patch(url, {"language": bad}, format="json")
        assert response.status_code == 400, response.json()
        assert "language" in str(response.json())
        assert response["Content-Type"].startswith("application/problem+json")
    assert Channel.objects.get(code="web").language == "en"
    response = manager_api.patch(url, {"language": "nl"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["language"] == "nl"
    assert Channel.objects.get(code="web").language == "nl"


def test_the_channel_admin_edits_the_language(network):
    from tests.fulfilment.test_branding import _admin_form
    from tests.orders.test_admin import staff_client

    client = staff_client(superuser=True)
    channel = network["channel"]
    url = f"/admin/inventory/channel/{channel.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="language"' in page
    assert "Nederlands" not in page  # the admin stays English: "Dutch"
    assert "Dutch" in page
    refused = client.post(url, _admin_form(channel, language="pt"))
    assert refused.status_code == 200
    assert Channel.objects.get(pk=channel.pk).language == "en"
    saved = client.post(url, _admin_form(channel, language="es"))
    assert saved.status_code == 302
    assert Channel.objects.get(pk=channel.pk).language == "es"
    # A form without the field (an older script) keeps the channel's language.
    assert client.post(url, _admin_form(channel)).status_code == 302
    assert Channel.objects.get(pk=channel.pk).language == "es"
