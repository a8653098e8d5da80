"""The shopper's subscription page and e-mails in the channel's language (Spanish here)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from inventory.models import Channel
from subscriptions.notifications import email_render


def test_the_subscription_page_of_a_spanish_channel_is_spanish(client, make_sub):
    sub = make_sub(next_order_at=timezone.now() + dt.timedelta(days=5))
    Channel.objects.filter(pk=sub.channel_id).update(language="es")
    url = f"/track/subscription/{sub.manage_token}/"
    page = client.get(url).content.decode()
    assert '<html lang="es">' in page
    assert f"Suscripción {sub.number}" in page
    assert "Omitir la próxima entrega" in page
    assert "Cancelar mi suscripción" in page
    assert "Skip the next delivery" not in page
    line = sub.lines.order_by("id").first()
    assert line is not None
    assert f"{line.unit_price:.2f}".replace(".", ",") + "\xa0€" in page  # "12,50 €"

    done = client.post(url, {"command": "pause"}, follow=True).content.decode()
    assert "Hecho: tu suscripción está en pausa." in done
    refused = client.post(url, {"command": "cancel"})
    assert refused.status_code == 400
    assert "Dinos por qué cancelas." in refused.content.decode()

    sub.refresh_from_db()
    subject, text, _html = email_render(sub, "renewal_upcoming", None)
    assert subject.startswith(f"Tu suscripción {sub.number} se renueva el ")
    assert "de 20" in subject  # "7 de diciembre de 2026"
    assert "Gestiona tu suscripción" in text
