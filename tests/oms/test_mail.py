"""Development e-mail is one log line: recipient, subject and the first link."""

from __future__ import annotations

import logging

from django.core.mail import EmailMultiAlternatives, get_connection


def test_an_email_is_one_info_line_with_its_link(caplog):
    message = EmailMultiAlternatives(
        subject="Order 100123 confirmed",
        body="Hello Ada,\n\nSee your order: http://127.0.0.1:8100/track/abc/\n\nBye",
        from_email="shop@example.com",
        to=["ada@example.com"],
    )
    message.attach_alternative("<p>" + "x" * 5000 + "</p>", "text/html")
    with caplog.at_level(logging.INFO, logger="oms.mail"):
        sent = get_connection("oms.mail.LogEmailBackend").send_messages([message])
    assert sent == 1
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "E-mail to ada@example.com: Order 100123 confirmed (http://127.0.0.1:8100/track/abc/)"
    )
