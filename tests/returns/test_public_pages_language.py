"""The shopper's return pages and return e-mails in the order's language (Dutch here)."""

from __future__ import annotations

from django.test import Client

from inventory.models import Channel
from returns.models import ReturnRequest
from returns.notifications import return_email_render


def test_the_return_pages_of_a_dutch_channel_are_dutch(shipped):
    Channel.objects.filter(code="web").update(language="nl")
    o, lines = shipped
    client = Client()
    html = client.get(f"/track/{o.tracking_token}/").content.decode()
    assert "Artikelen retourneren" in html  # the returns box on the tracking page
    form = client.get(f"/track/{o.tracking_token}/return/")
    assert form.status_code == 200
    page = form.content.decode()
    assert '<html lang="nl">' in page
    assert "Wat wil je retourneren?" in page
    assert "Kies een reden" in page
    assert "Ik ben van gedachten veranderd" in page  # a default reason, translated
    assert "Retouraanvraag versturen" in page
    assert "Return items" not in page

    refused = client.post(f"/track/{o.tracking_token}/return/", {})
    assert refused.status_code == 400
    assert "Kies minstens één artikel om te retourneren" in refused.content.decode()
    assert not ReturnRequest.objects.exists()

    a = lines["A"]
    sent = client.post(
        f"/track/{o.tracking_token}/return/", {f"qty-{a.pk}": "1", f"reason-{a.pk}": "damaged"}
    )
    assert sent.status_code == 303
    detail = client.get(sent["Location"]).content.decode()
    ret = ReturnRequest.objects.get()
    assert f"Retour {ret.number}" in detail
    assert "Artikelen in dit retour" in detail
    assert "Beschadigd aangekomen" in detail
    assert f"Terug naar bestelling {o.number}" in detail

    subject, text, html = return_email_render(ret, "return_confirmed")
    assert subject.startswith(f"Je retour {ret.number}")
    assert "Hallo" in text
    assert "Te retourneren artikelen" in html
