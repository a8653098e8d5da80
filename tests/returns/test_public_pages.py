"""The shopper's side: the box on the tracking page, the return form (CSRF protected, bad input
writes nothing), the confirmation page with the label, the label PDF and the e-mail."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from returns import services
from returns.models import ReturnRequest
from returns.states import ReturnSource
from tests.returns.conftest import delivered_days_ago


def form_url(o) -> str:
    return f"/track/{o.tracking_token}/return/"


def post(o, data, client=None):
    return (client or Client()).post(form_url(o), data)


def test_the_tracking_page_offers_returns_for_shipped_items(shipped):
    o, _ = shipped
    html = Client().get(f"/track/{o.tracking_token}/").content.decode()
    assert "Return items" in html
    assert f'href="{form_url(o)}"' in html


def test_no_return_box_before_anything_shipped(network, reasons):
    from tests.fulfilment.conftest import order, put

    put(network, "BER", "A", 5)
    o = order("HAMBURG", {"A": 1})
    html = Client().get(f"/track/{o.tracking_token}/").content.decode()
    assert "Return items" not in html


def test_the_box_says_when_the_window_closed(shipped):
    o, _ = shipped
    delivered_days_ago(o, 31)
    html = Client().get(f"/track/{o.tracking_token}/").content.decode()
    assert "Return items" not in html
    assert "return window of this order closed" in html


def test_the_tracking_page_stays_in_constant_queries(shipped, network, django_assert_num_queries):
    from tests.fulfilment.conftest import order, put
    from tests.returns.conftest import ship_all

    o, _ = shipped
    # The tracking page's 5 queries and one for the returns box.
    with django_assert_num_queries(6):
        assert Client().get(f"/track/{o.tracking_token}/").status_code == 200
    put(network, "BER", "C", 5)
    big = ship_all(order("HAMBURG", {"A": 2, "B": 1, "C": 3}))
    with django_assert_num_queries(6):
        assert Client().get(f"/track/{big.tracking_token}/").status_code == 200


def test_the_form_lists_items_and_active_reasons(shipped):
    o, lines = shipped
    response = Client().get(form_url(o))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'name="qty-{lines["A"].pk}"' in html
    assert "Changed my mind" in html
    assert "Wrong size or fit" in html  # a default reason (data migration)
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == "same-origin"
    assert "csrfmiddlewaretoken" in html


def test_a_shopper_returns_items_and_gets_the_label(
    shipped, eager, mailoutbox, django_capture_on_commit_callbacks
):
    o, lines = shipped
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            o,
            {
                f"qty-{lines['A'].pk}": "2",
                f"reason-{lines['A'].pk}": "wrong_size",
                f"qty-{lines['B'].pk}": "0",
                f"reason-{lines['B'].pk}": "",
                "comment": "Too small",
            },
        )
    assert response.status_code == 303
    ret = ReturnRequest.objects.get()
    assert response["Location"] == f"/track/{o.tracking_token}/return/{ret.number}/"
    assert (ret.status, ret.source, ret.comment) == ("authorised", "shopper", "Too small")
    assert [(rl.order_line_id, rl.quantity, rl.reason.code) for rl in ret.lines.all()] == [
        (lines["A"].pk, 2, "wrong_size")
    ]
    page = Client().get(response["Location"])
    html = page.content.decode()
    label_url = f"/track/{o.tracking_token}/return/{ret.number}/label.pdf"
    assert label_url in html
    label = Client().get(label_url)
    assert label.status_code == 200
    assert label["Content-Type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")
    # The confirmation e-mail, once, with the label.
    confirmations = [m for m in mailoutbox if ret.number in m.subject]
    assert len(confirmations) == 1
    assert f"https://shop.example{label_url}" in confirmations[0].body
    assert confirmations[0].to == ["routing@example.com"]
    assert o.events.filter(kind="email_sent", data__email="return_confirmed").count() == 1


def test_no_email_when_the_channel_sends_its_own(
    shipped, eager, mailoutbox, django_capture_on_commit_callbacks
):
    o, lines = shipped
    channel = o.channel
    channel.send_emails = False
    channel.save(update_fields=["send_emails"])
    with django_capture_on_commit_callbacks(execute=True):
        services.return_create(
            order=o,
            lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "late"}],
            source=ReturnSource.SHOPPER,
        )
    assert mailoutbox == []


def test_a_return_waiting_for_review_has_no_label(shipped):
    o, lines = shipped
    channel = o.channel
    channel.returns_auto_authorise = False
    channel.save(update_fields=["returns_auto_authorise"])
    response = post(o, {f"qty-{lines['B'].pk}": "1", f"reason-{lines['B'].pk}": "damaged"})
    assert response.status_code == 303
    ret = ReturnRequest.objects.get()
    assert ret.status == "requested"
    html = Client().get(response["Location"]).content.decode()
    assert "label.pdf" not in html
    assert "reviewed" in html
    assert Client().get(f"{response['Location']}label.pdf").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose at least one item"),
        ({"qty-A": "3", "reason-A": "damaged"}, "At most 2 of this line can be returned."),
        ({"qty-A": "1", "reason-A": "no_such_reason"}, "Choose one of the reasons in the list."),
        ({"qty-A": "1", "reason-A": ""}, "Tell us why you return it."),
        ({"qty-A": "lots", "reason-A": "damaged"}, "Choose how many to return."),
    ],
)
def test_bad_input_reshows_the_form_and_writes_nothing(shipped, data, message):
    o, lines = shipped
    fields = {key.replace("-A", f"-{lines['A'].pk}"): value for key, value in data.items()}
    response = post(o, {**fields, "comment": "kept"})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Your return was not sent." in html or "field-error" in html
    assert ">kept</textarea>" in html
    assert not ReturnRequest.objects.exists()
    assert not o.events.filter(kind="return_requested").exists()


def test_outside_the_window_the_form_is_refused(shipped):
    o, lines = shipped
    delivered_days_ago(o, 31)
    page = Client().get(form_url(o)).content.decode()
    assert "closed on" in page
    assert "Send return request" not in page
    response = post(o, {f"qty-{lines['A'].pk}": "1", f"reason-{lines['A'].pk}": "damaged"})
    assert response.status_code == 400
    assert not ReturnRequest.objects.exists()


def test_the_form_is_csrf_protected(shipped):
    o, lines = shipped
    client = Client(enforce_csrf_checks=True)
    data = {f"qty-{lines['A'].pk}": "1", f"reason-{lines['A'].pk}": "damaged"}
    assert post(o, data, client).status_code == 403
    page = client.get(form_url(o)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    assert post(o, {**data, "csrfmiddlewaretoken": token}, client).status_code == 303
    assert ReturnRequest.objects.count() == 1


def test_pages_of_another_order_or_a_bad_token_are_404(shipped, network):
    from tests.fulfilment.conftest import order, put
    from tests.returns.conftest import ship_all

    o, lines = shipped
    ret = services.return_create(
        order=o,
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "damaged"}],
        authorise=True,
    )
    put(network, "BER", "C", 2)
    other = ship_all(order("HAMBURG", {"C": 1}))
    assert Client().get(f"/track/{other.tracking_token}/return/{ret.number}/").status_code == 404
    assert (
        Client().get(f"/track/{other.tracking_token}/return/{ret.number}/label.pdf").status_code
        == 404
    )
    assert Client().get(f"/track/{'x' * 32}/return/").status_code == 404
    assert Client().get(f"/track/{o.tracking_token}/return/{ret.number}/").status_code == 200
    services.return_cancel(return_request=ret)
    label = f"/track/{o.tracking_token}/return/{ret.number}/label.pdf"
    assert Client().get(label).status_code == 404  # only authorised returns have a label


def test_staff_decisions_are_emailed_to_the_shopper(
    shipped, eager, mailoutbox, django_capture_on_commit_callbacks
):
    o, lines = shipped
    channel = o.channel
    channel.returns_auto_authorise = False
    channel.save(update_fields=["returns_auto_authorise"])
    with django_capture_on_commit_callbacks(execute=True):
        first = services.return_create(
            order=o,
            lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "late"}],
            source=ReturnSource.SHOPPER,
        )
        second = services.return_create(
            order=o,
            lines=[{"order_line": lines["B"].pk, "quantity": 1, "reason": "changed_mind"}],
            source=ReturnSource.SHOPPER,
        )
    received = [m.subject for m in mailoutbox]
    assert f"Your return {first.number} for order {o.number}" in received
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.return_authorise(return_request=first, actor="care")
        services.return_reject(return_request=second, reason="Worn outdoors.", actor="care")
        services.return_authorise(return_request=first, actor="care")  # a replay sends nothing
    by_subject = {m.subject: m for m in mailoutbox}
    assert len(mailoutbox) == 2
    accepted = by_subject[f"Your return {first.number} is accepted"]
    assert f"/track/{o.tracking_token}/return/{first.number}/label.pdf" in accepted.body
    rejected = by_subject[f"About your return {second.number}"]
    assert "Worn outdoors." in rejected.body
    assert "label.pdf" not in rejected.body
    html = rejected.alternatives[0][0]
    assert "Worn outdoors." in html


def test_the_return_pages_carry_the_shop_s_name_and_logo(shipped, network):
    from inventory.models import Channel

    o, lines = shipped
    logo = "https://cdn.example.com/brand/logo.png"
    Channel.objects.filter(pk=o.channel_id).update(merchant_name="Maison <Dupont>", logo_url=logo)
    form = Client().get(form_url(o))
    html = form.content.decode()
    assert "Maison &lt;Dupont&gt; · Returns" in html
    assert f'<img class="logo" src="{logo}" alt="Maison &lt;Dupont&gt;">' in html
    assert "img-src 'self' https://cdn.example.com" in form["Content-Security-Policy"]
    response = post(o, {f"qty-{lines['B'].pk}": "1", f"reason-{lines['B'].pk}": "damaged"})
    detail = Client().get(response["Location"])
    assert "Maison &lt;Dupont&gt; · Returns" in detail.content.decode()
    assert f'src="{logo}"' in detail.content.decode()
    assert "https://cdn.example.com" in detail["Content-Security-Policy"]


def test_the_return_pages_without_branding_name_the_channel_and_show_no_logo(shipped):
    o, _ = shipped
    form = Client().get(form_url(o))
    assert f"{o.channel.name} · Returns" in form.content.decode()
    assert 'class="logo"' not in form.content.decode()
    assert "img-src 'self' data:;" in form["Content-Security-Policy"]
