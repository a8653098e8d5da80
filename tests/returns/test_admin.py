"""The back office of returns renders (reasons editable; returns and refunds read-only)."""

from __future__ import annotations

from decimal import Decimal

from returns import services


def test_changelists_and_change_pages_render(admin_client, shipped):
    o, lines = shipped
    ret = services.return_create(
        order=o, lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "damaged"}]
    )
    refund = services.refund_create(order=o, amount=Decimal("1"))
    for url in (
        "/admin/returns/returnreason/",
        "/admin/returns/returnreason/add/",
        "/admin/returns/returnrequest/",
        f"/admin/returns/returnrequest/{ret.pk}/change/",
        "/admin/returns/refund/",
        f"/admin/returns/refund/{refund.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url
