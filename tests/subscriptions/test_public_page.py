"""The shopper's subscription page (/track/subscription/<token>/) with Django's test client:
unguessable token, CSRF, each command through the state table, bad input changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from subscriptions.models import Subscription, SubscriptionEvent


@pytest.fixture
def sub(make_sub):
    return make_sub(next_order_at=timezone.now() + dt.timedelta(days=5))


def url(sub: Subscription) -> str:
    return f"/track/subscription/{sub.manage_token}/"


def test_page_shows_the_next_date_items_and_address(client, sub):
    response = client.get(url(sub))
    assert response.status_code == 200
    text = response.content.decode()
    assert f"Subscription {sub.number}" in text
    assert "Skip the next delivery" in text
    assert "Torstraße 1" in text
    assert "cus_1" not in text  # never the payment method
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == "same-origin"


def test_unknown_and_malformed_tokens_are_404(client, sub):
    assert client.get("/track/subscription/" + "x" * 32 + "/").status_code == 404
    assert client.get("/track/subscription/bad!/").status_code == 404


def test_post_needs_the_csrf_token(sub):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(url(sub), {"command": "pause"})
    assert response.status_code == 403
    sub.refresh_from_db()
    assert sub.status == "active"


def test_skip_pause_resume_quantities_address_and_cancel(client, sub):
    before = sub.next_order_at
    response = client.post(url(sub), {"command": "skip"})
    assert response.status_code == 303
    assert response["Location"].endswith("?done=skip")
    sub.refresh_from_db()
    assert sub.next_order_at > before
    client.post(url(sub), {"command": "pause"})
    sub.refresh_from_db()
    assert sub.status == "paused"
    client.post(url(sub), {"command": "resume"})
    sub.refresh_from_db()
    assert sub.status == "active"
    line = sub.lines.order_by("id").first()
    assert line is not None
    client.post(url(sub), {"command": "quantities", f"quantity-{line.pk}": "5"})
    assert sub.lines.get(sku=line.sku).quantity == 5
    address = {
        "name": "Anna Schmidt",
        "line1": "Kastanienallee 9",
        "postal_code": "10435",
        "city": "Berlin",
        "country": "de",
    }
    client.post(url(sub), {"command": "address", **address})
    sub.refresh_from_db()
    assert sub.shipping_address["line1"] == "Kastanienallee 9"
    assert sub.shipping_address["country"] == "DE"
    client.post(url(sub), {"command": "cancel", "reason": "too_much", "comment": "moving"})
    sub.refresh_from_db()
    assert sub.status == "cancelled"
    assert sub.cancel_reason == "I have too much of it: moving"
    actors = set(
        SubscriptionEvent.objects.filter(subscription=sub)
        .exclude(kind="created")
        .values_list("actor", flat=True)
    )
    assert actors == {"shopper"}


@pytest.mark.parametrize(
    "form",
    [
        {"command": "quantities", "quantity-LINE": "0"},
        {"command": "quantities", "quantity-LINE": "two"},
        {"command": "address", "name": "A", "line1": "", "city": "", "country": "DE"},
        {"command": "cancel", "reason": "no-such-reason"},
        {"command": "explode"},
        {"command": "pause", "comment": "nul\x00"},
    ],
)
def test_bad_input_is_400_and_changes_nothing(client, sub, form):
    line = sub.lines.order_by("id").first()
    assert line is not None
    form = {k.replace("LINE", str(line.pk)): v for k, v in form.items()}
    before = (sub.status, sub.next_order_at, sub.shipping_address)
    response = client.post(url(sub), form)
    assert response.status_code == 400
    sub.refresh_from_db()
    assert (sub.status, sub.next_order_at, sub.shipping_address) == before
    assert sub.lines.get(pk=line.pk).quantity == line.quantity


def test_a_command_the_state_table_refuses_is_409(client, sub):
    client.post(url(sub), {"command": "cancel", "reason": "other"})
    response = client.post(url(sub), {"command": "skip"})
    assert response.status_code == 409
    assert "cancelled subscription" in response.content.decode()


def test_the_upcoming_renewal_email_goes_out_once_n_days_before(make_sub, shop):
    from django.core import mail

    from subscriptions.models import ChannelSubscriptionSettings
    from subscriptions.notifications import subscription_reminders_enqueue
    from tests.outbox import run_outbox

    ChannelSubscriptionSettings.objects.create(channel=shop["channel"], reminder_days=3)
    soon = make_sub(next_order_at=timezone.now() + dt.timedelta(days=2))
    make_sub(next_order_at=timezone.now() + dt.timedelta(days=10))  # too early to remind
    assert subscription_reminders_enqueue() == 1
    assert subscription_reminders_enqueue() == 0  # once per renewal date
    run_outbox("subscriptions.email_send")
    assert len(mail.outbox) == 1
    assert soon.number in mail.outbox[0].subject
    assert f"/track/subscription/{soon.manage_token}/" in mail.outbox[0].body


def test_the_page_carries_the_shop_s_name_and_logo(client, sub):
    from inventory.models import Channel

    logo = "https://cdn.example.com/logo.svg"
    Channel.objects.filter(pk=sub.channel_id).update(merchant_name="Kaffee & Co", logo_url=logo)
    response = client.get(url(sub))
    html = response.content.decode()
    assert "Kaffee &amp; Co · Your subscription" in html
    assert f'<img class="logo" src="{logo}" alt="Kaffee &amp; Co">' in html
    assert "img-src 'self' https://cdn.example.com" in response["Content-Security-Policy"]
    # An http logo is never shown (nor allowed by the policy).
    Channel.objects.filter(pk=sub.channel_id).update(logo_url="http://cdn.example.com/x.png")
    plain = client.get(url(sub))
    assert 'class="logo"' not in plain.content.decode()
    assert "cdn.example.com" not in plain["Content-Security-Policy"]
